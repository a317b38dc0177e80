#!/usr/bin/env bash
# Several watchers sharing the environments by lease (docs/watch.md "Several watchers: leases"):
# tests/watch/test_leases_pg.py runs 3 real `dagmedic watch` processes against a real PostgreSQL
# (a throwaway cluster, dev/lib-pg.sh), an Airflow REST test double per environment and a signed
# JSON receiver; kills the holder of some environments with kill -9, checks the others take them
# over and that every failure is handled and announced once. Needs the normal build only.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib-pg.sh"
step=49-watch-leases
junit="$DM_RESULTS/$step.xml"
mkdir -p "$DM_RESULTS"
export DM_BUILD DM_RESULTS
[ -x "$DM_BUILD/dagmedic" ] || { dm_log "$step: $DM_BUILD/dagmedic missing (build first)"; dm_record "$step" 0 1; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dm-lease.XXXXXX")
cleanup() {
  dm_pg_stop "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
dm_pg_start "$tmp"

set +e
( cd "$DM_ROOT/tests/watch" && "$DM_VENV/bin/python" -m pytest -p no:cacheprovider -q -s \
    --timeout 600 --junitxml="$junit" "$DM_ROOT/tests/watch/test_leases_pg.py" )
rc=$?
set -e
dm_pytest_record "$step" "$junit"
exit "$rc"
