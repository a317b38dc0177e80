#!/usr/bin/env bash
# Watch mode's cost: Airflow requests per cycle against the number of DAGs (100, 1 000, 10 000; 100 runs
# each, so up to 1 000 000 runs), counted on the in-memory Airflow double (runbook/testing/fake_airflow.h)
# with the real watch::Watcher and an in-memory SQLite store. Never run by tests.
#   bench/watch/run.sh [runs_per_dag] [dag counts…]     (DM_BUILD selects the build folder)
# Prints a table; figures are recorded in docs/benchmarks.md ("bench/watch").
source "$(dirname "$0")/../../dev/lib.sh"
cmake -S "$DM_ROOT" -B "$DM_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$DM_BUILD" --target watch-calls-bench -j 2 >/dev/null
"$DM_BUILD/bench/watch-calls-bench" "$@" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print(f"{\"DAGs\":>6} {\"runs\":>9} {\"cycle\":>5} {\"new\":>4} {\"listed\":>6} {\"requests\":>8} {\"lists\":>5} {\"per-run\":>7} {\"ms\":>8}")
for r in rows:
    print(f"{r[\"dags\"]:>6} {r[\"runs\"]:>9} {r[\"cycle\"]:>5} {r[\"new_failures\"]:>4} {r[\"listed\"]:>6} "
          f"{r[\"airflow_requests\"]:>8} {r[\"list_dag_runs\"]:>5} {r[\"per_run_reads\"]:>7} {r[\"cycle_ms\"]:>8.1f}")
'
