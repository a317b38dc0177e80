#!/usr/bin/env bash
# The official TypeScript SDK v2 client (npm @modelcontextprotocol/client 2.4, from dev/setup.d/30-node-tools.sh, run
# with its Node 22) in 2026-07-28 mode, over stdio and Streamable HTTP on 127.0.0.1 (tests/mcp/ts, node:test):
#   runbook.test.mjs  `$DM_BUILD/dagmedic serve` with a config that has no Airflow environment: the 19 runbook tools
#                     with their output schemas, calls checked by their structuredContent, stateless exchanges;
#   fixture.test.mjs  `$DM_BUILD/mcp-fixture-server`: input_required round trips (elicitation, sampling, requestState).
# The tests start and stop the servers themselves. Counts are node:test's tests, read from its junit report with
# dm_pytest_record (each top-level suite's tests/failures: so the test files use no nested describe(), which node's
# junit reporter would count as one test); a run that fails with no failing test counted (a file that did not
# load sits outside any suite) records one failure.
source "$(dirname "$0")/../lib.sh"
STEP=23-mcp-ts
bash "$DM_ROOT/dev/setup.d/30-node-tools.sh" || { dm_record "$STEP" 0 1; dm_die "node tools setup failed"; }
source "$DM_NODE_TOOLS/env.sh"
export DM_TS_SDK2_PREFIX DM_BUILD
# Each test's private HOME (config, store, server logs) goes here, emptied per run.
export DM_TS_TMP="$DM_RESULTS/$STEP"
rm -rf "$DM_TS_TMP"
mkdir -p "$DM_RESULTS" "$DM_TS_TMP"
xml="$DM_RESULTS/$STEP.xml"
rm -f "$xml"
set +e
( cd "$DM_ROOT" && timeout 600 "$DM_NODE22" --test --test-timeout=120000 \
    --test-reporter=junit --test-reporter-destination="$xml" \
    --test-reporter=spec --test-reporter-destination=stdout \
    tests/mcp/ts/*.test.mjs </dev/null )
rc=$?
set -e
dm_pytest_record "$STEP" "$xml"
if [ "$rc" -ne 0 ]; then
  read -r p f <"$DM_RESULTS/$STEP.counts"
  [ "$f" -gt 0 ] || dm_record "$STEP" "$p" 1
fi
exit $rc
