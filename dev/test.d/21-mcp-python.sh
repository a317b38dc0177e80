#!/usr/bin/env bash
# The official Python MCP SDK (PyPI `mcp`, dev/requirements/mcp.txt) against $DM_BUILD/mcp-fixture-server over
# stdio and Streamable HTTP (tests/mcp/python). The tests start and stop the fixture themselves.
source "$(dirname "$0")/../lib.sh"
STEP=21-mcp-python
bash "$DM_ROOT/dev/setup.d/20-python-tools.sh"
mkdir -p "$DM_RESULTS"
xml="$DM_RESULTS/$STEP.xml"
rm -f "$xml"
set +e
( cd "$DM_ROOT" && DM_BUILD="$DM_BUILD" "$DM_VENV/bin/python" -m pytest tests/mcp/python -p no:cacheprovider \
    -o junit_family=xunit2 --junitxml="$xml" --timeout 120 -q </dev/null )
rc=$?
set -e
dm_pytest_record "$STEP" "$xml"
exit $rc
