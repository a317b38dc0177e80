#!/usr/bin/env bash
# The MCP Inspector CLI (npm @modelcontextprotocol/inspector, run with the Node 22 from dev/setup.d/30-node-tools.sh)
# against $DM_BUILD/mcp-fixture-server over stdio and Streamable HTTP (tests/mcp/inspector, driven by pytest, which
# starts and stops the fixture itself).
source "$(dirname "$0")/../lib.sh"
STEP=22-mcp-inspector
bash "$DM_ROOT/dev/setup.d/20-python-tools.sh"
bash "$DM_ROOT/dev/setup.d/30-node-tools.sh"
source "$DM_NODE_TOOLS/env.sh"
export DM_NODE22 DM_INSPECTOR_BIN
mkdir -p "$DM_RESULTS"
xml="$DM_RESULTS/$STEP.xml"
rm -f "$xml"
set +e
( cd "$DM_ROOT" && "$DM_VENV/bin/python" -m pytest tests/mcp/inspector -p no:cacheprovider \
    -o junit_family=xunit2 --junitxml="$xml" --timeout 180 -q </dev/null )
rc=$?
set -e
dm_pytest_record "$STEP" "$xml"
exit $rc
