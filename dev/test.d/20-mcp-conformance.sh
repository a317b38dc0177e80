#!/usr/bin/env bash
# MCP conformance: the official suite (npm @modelcontextprotocol/conformance) against
# $DM_BUILD/mcp-fixture-server over Streamable HTTP on 127.0.0.1.
#   1. 0.1.16, active server suite (every scenario it lists except the ones its source marks pending: 30)
#   2. 0.2.0-alpha.12, `server --requirements 2025-11-25` (the revision's scored scenarios plus the ones it runs
#      and reports without scoring: 33). Unlike the suite's own exit code, a failing unscored scenario fails here too.
#   3. 0.2.0-alpha.12, `server --requirements 2026-07-28` (37 scored server scenarios, the 10 tasks-extension
#      scenarios and the 3 pending ones it runs without scoring: 50), against the same fixture binary: the server
#      speaks both revisions on one port. Scored or not, a failing scenario fails the step.
# No expected-failures file. Each suite gets a fresh fixture process. The step fails if any scenario fails, if the
# suite crashes, or if the scenarios run differ from those the suite lists (`conformance list --server`).
# Counts are scenarios (dm_record 20-mcp-conformance PASSED FAILED). Logs and per-scenario checks.json go to
# $DM_RESULTS/20-mcp-conformance/.
source "$(dirname "$0")/../lib.sh"
STEP=20-mcp-conformance
fail_setup() {
  dm_record "$STEP" 0 1
  dm_die "$*"
}

bash "$DM_ROOT/dev/setup.d/30-node-tools.sh" || fail_setup "node tools setup failed"
source "$DM_NODE_TOOLS/env.sh"
FIXTURE="$DM_BUILD/mcp-fixture-server"
[ -x "$FIXTURE" ] || fail_setup "$FIXTURE is missing (build it: cmake --build \$DM_BUILD --target mcp-fixture-server)"

OUT="$DM_RESULTS/$STEP"
rm -rf "$OUT"
mkdir -p "$OUT"
# 0.1.16's `list` does not mark pending scenarios; its source (Xt in dist/index.js) excludes these from "active".
STABLE_PENDING="json-schema-2020-12 server-sse-polling"
REQUIREMENTS_LIST="2025-11-25 2026-07-28"

SERVER_PID=""
stop_server() { dm_stop_pid "$SERVER_PID"; SERVER_PID=""; }
trap stop_server EXIT
trap 'exit 130' INT TERM

# start_server LOGFILE : starts the fixture on a free port, sets PORT, waits until it answers HTTP (max 20 s).
start_server() {
  PORT=$(dm_free_port)
  "$FIXTURE" --port "$PORT" </dev/null >"$1" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 200); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$1" >&2
      return 1
    fi
    # Any HTTP status (even 4xx for a bare GET) means the listener is up.
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$PORT/mcp" 2>/dev/null || true)
    if [ -n "$code" ] && [ "$code" != "000" ]; then return 0; fi
    sleep 0.1
  done
  dm_log "fixture did not listen on 127.0.0.1:$PORT within 20 s"
  return 1
}

# evaluate NAME EXPECTED_FILE LOG RC : compares the suite's summary with the expected scenario names;
# prints "PASSED FAILED" and a readable verdict on stderr.
evaluate() {
  python3 - "$@" <<'PY'
import re, sys
name, expected_file, log, rc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
expected = [l.strip() for l in open(expected_file) if l.strip()]
text = open(log, encoding="utf-8", errors="replace").read()
summary = text.split("=== SUMMARY ===", 1)[1] if "=== SUMMARY ===" in text else ""
ran = {}
for m in re.finditer(r"^([✓✗]) (\S+): (\d+) passed, (\d+) failed$", summary, re.M):
    ran[m.group(2)] = (m.group(1) == "✓", int(m.group(3)), int(m.group(4)))
passed = sorted(s for s, v in ran.items() if v[0])
failed = sorted(s for s, v in ran.items() if not v[0])
missing = sorted(set(expected) - set(ran))
extra = sorted(set(ran) - set(expected))
bad = len(failed) + len(missing) + len(extra)
if not summary:
    print(f"{name}: no summary in the output (suite crashed?)", file=sys.stderr)
    bad = max(bad, 1)
elif rc != 0 and bad == 0:
    print(f"{name}: suite exited {rc} although every scenario passed", file=sys.stderr)
    bad = 1
for s in failed:
    print(f"{name}: FAILED scenario {s} ({ran[s][2]} failed checks)", file=sys.stderr)
for s in missing:
    print(f"{name}: scenario {s} is listed but was not run", file=sys.stderr)
for s in extra:
    print(f"{name}: scenario {s} was run but is not listed", file=sys.stderr)
print(f"{name}: {len(passed)}/{len(expected)} scenarios passed", file=sys.stderr)
print(len(passed), bad)
PY
}

TOTAL_PASSED=0
TOTAL_FAILED=0
# run_suite NAME EXPECTED_FILE ARGS... : fresh fixture, run the suite (ARGS after `server --url URL`), evaluate.
run_suite() {
  local name=$1 expected=$2
  shift 2
  local log="$OUT/$name.log"
  local n
  n=$(wc -l <"$expected")
  dm_log "conformance $name: $n scenarios expected"
  if ! start_server "$OUT/$name.fixture.log"; then
    stop_server
    TOTAL_FAILED=$((TOTAL_FAILED + n))
    dm_log "conformance $name: fixture did not start (see $OUT/$name.fixture.log)"
    return
  fi
  set +e
  timeout 900 "$DM_NODE22" "$@" server --url "http://127.0.0.1:$PORT/mcp" -o "$OUT/$name-checks" \
    "${SUITE_ARGS[@]}" </dev/null >"$log" 2>&1
  local rc=$?
  set -e
  stop_server
  local counts
  counts=$(evaluate "$name" "$expected" "$log" "$rc")
  TOTAL_PASSED=$((TOTAL_PASSED + ${counts% *}))
  TOTAL_FAILED=$((TOTAL_FAILED + ${counts#* }))
  if [ "${counts#* }" != 0 ]; then
    grep -A3 -E '^  - |Error:' "$log" | head -60 >&2 || true
    dm_log "conformance $name: full output in $log"
  fi
}

# Expected scenario lists, from the suites themselves.
"$DM_NODE22" "$DM_CONFORMANCE_STABLE" list --server </dev/null >"$OUT/stable.list"
sed -n -E 's/^  - ([a-z0-9-]+)( \[.*\])?$/\1/p' "$OUT/stable.list" | while read -r s; do
  case " $STABLE_PENDING " in *" $s "*) ;; *) echo "$s" ;; esac
done >"$OUT/stable.expected"
for p in $STABLE_PENDING; do
  grep -qx "$p" <(sed -n -E 's/^  - ([a-z0-9-]+).*/\1/p' "$OUT/stable.list") ||
    fail_setup "pending scenario $p is not in 0.1.16's list: update STABLE_PENDING"
done

# alpha_expected REQUIREMENTS : the scored server scenarios + the server scenarios the suite runs without scoring.
alpha_expected() {
  local req=$1
  "$DM_NODE22" "$DM_CONFORMANCE_ALPHA" list --server --requirements "$req" </dev/null >"$OUT/alpha-$req.list"
  python3 - "$OUT/alpha-$req.list" >"$OUT/alpha-$req.expected" <<'PY'
import re, sys
section = None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line and not line.startswith(" "):
        section = line
        continue
    m = re.match(r"^  - (\S+)$", line)
    if m and section and section.startswith("Server scenarios"):
        print(m.group(1))
    m = re.match(r"^    - (\S+) \[server\]$", line)
    if m and section and section.startswith("Run and reported"):
        print(m.group(1))
PY
  [ -s "$OUT/alpha-$req.expected" ] || fail_setup "could not read 0.2.0-alpha.12's $req list"
}
[ -s "$OUT/stable.expected" ] || fail_setup "could not read 0.1.16's scenario list"
for req in $REQUIREMENTS_LIST; do alpha_expected "$req"; done

SUITE_ARGS=(--suite active)
run_suite conformance-0.1.16 "$OUT/stable.expected" "$DM_CONFORMANCE_STABLE"
for req in $REQUIREMENTS_LIST; do
  SUITE_ARGS=(--requirements "$req")
  run_suite "conformance-0.2.0-alpha.12-$req" "$OUT/alpha-$req.expected" "$DM_CONFORMANCE_ALPHA"
done

dm_record "$STEP" "$TOTAL_PASSED" "$TOTAL_FAILED"
[ "$TOTAL_FAILED" -eq 0 ] && [ "$TOTAL_PASSED" -gt 0 ]
