#!/usr/bin/env bash
# MCP tool round-trip benchmark, one run, every server side by side, same tool and same load:
#   (a) dagmedic: build/mcp-bench-server (dm_mcp + its Streamable HTTP transport, C++), on both revisions:
#       2025-11-25 on one session, and 2026-07-28 stateless (the `_meta` envelope on every request, no session)
#   (b) the official TypeScript SDK 1.x (@modelcontextprotocol/sdk, Node 22): bench/mcp/ts_server.mjs
#   (b2) the TypeScript SDK v2 (@modelcontextprotocol/server 2.4, Node 22) in its stateless mode (createMcpHandler,
#       a fresh server per request): bench/mcp/ts2_server.mjs, on 2026-07-28 and on 2025-11-25 (its legacy fallback)
#   (c) the official Python SDK's MCPServer (ex-FastMCP, uvicorn): bench/mcp/py_server.py
# (b) and (c) run twice: stateful (one session, like dagmedic) and stateless (their stateless_http modes).
# Each 2025-11-25 row: one session initialized with curl (none for stateless ones), then wrk
# (bench/mcp/tools_call.lua) sends tools/call `echo` on that session, JSON responses (the v2 SDK's legacy fallback
# answers on SSE: it has no JSON option). Each 2026-07-28 row: one server/discover with curl (readiness), then wrk
# sends the same call statelessly (MCP_REVISION=2026-07-28: `_meta` envelope, Mcp-Method / Mcp-Name headers).
# Two load points: throughput (BENCH_CONNS connections) and latency (1 connection,
# sequential round trips). BENCH_PIN=1 pins the server to CPU 0 and wrk to CPU 1 (default: the scheduler decides).
# RSS: idle = after start + one session (2026-07-28: one discover); under load = VmHWM (peak) after the load runs.
# Then 1 000 concurrently open SSE streams against (a) (bench/mcp/sse_streams.py): streams open, RSS, threads.
# Builds what it needs; prints a table; raw results in $BENCH_OUT/results.jsonl and sse.json. Never run by tests.
# The machine's load average is printed with the table: other processes on the same cores skew every figure.
# Env: DM_BENCH_BUILD (build folder, default $DM_BUILD), BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_CONNS (32),
#      BENCH_STREAMS (1000), BENCH_ONLY (subset of: dagmedic dagmedic-2026 ts ts-stateless ts2 ts2-2026 py
#      py-stateless), BENCH_PIN (0), BENCH_NICE (-10 when root; 0 = normal priority), BENCH_BUILD (1; 0 = do not
#      configure or build, use the mcp-bench-server already in DM_BENCH_BUILD), BENCH_OUT (results folder).
source "$(dirname "$0")/../../dev/lib.sh"
BUILD="${DM_BENCH_BUILD:-$DM_BUILD}"
SECONDS_RUN="${BENCH_SECONDS:-10}"
WARMUP="${BENCH_WARMUP:-2}"
CONNS="${BENCH_CONNS:-32}"
STREAMS="${BENCH_STREAMS:-1000}"
ONLY="${BENCH_ONLY:-dagmedic dagmedic-2026 ts ts-stateless ts2 ts2-2026 py py-stateless}"
BENCH_OUT="${BENCH_OUT:-$BUILD/bench-mcp}"
HERE="$DM_ROOT/bench/mcp"

command -v wrk >/dev/null || dm_apt wrk
bash "$DM_ROOT/dev/setup.d/20-python-tools.sh"
bash "$DM_ROOT/dev/setup.d/30-node-tools.sh"
source "$DM_NODE_TOOLS/env.sh"
export DM_TS_SDK_PREFIX DM_TS_SDK2_PREFIX

if [ "${BENCH_BUILD:-1}" != 0 ]; then
  # (Re)configure so a build folder made before bench/mcp existed learns the target; keeps its build type.
  if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$DM_ROOT" -B "$BUILD" >/dev/null
  else
    cmake -S "$DM_ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$BUILD" --target mcp-bench-server -j "${BENCH_JOBS:-2}" >/dev/null
fi
[ -x "$BUILD/mcp-bench-server" ] || dm_die "$BUILD/mcp-bench-server is missing (BENCH_BUILD=0 builds nothing)"
mkdir -p "$BENCH_OUT"
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# Raised priority (root only) for the server and the load generator alike: on a shared machine it keeps other
# people's builds from dominating every figure; it favours none of the three servers.
NICE=()
if [ "$(id -u)" = 0 ] && [ "${BENCH_NICE:--10}" != 0 ]; then NICE=(nice -n "${BENCH_NICE:--10}"); fi
if [ "$(nproc)" -ge 2 ] && [ "${BENCH_PIN:-0}" = 1 ]; then
  PIN_SERVER=("${NICE[@]}" taskset -c 0)
  PIN_LOAD=("${NICE[@]}" taskset -c 1)
else
  PIN_SERVER=("${NICE[@]}")
  PIN_LOAD=("${NICE[@]}")
fi

SERVER_PID=""
stop_server() { dm_stop_pid "$SERVER_PID"; SERVER_PID=""; }
trap stop_server EXIT
trap 'exit 130' INT TERM

proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# CPU time (user + system, all threads) a process used so far, in clock ticks. Per-call CPU cost is far less
# sensitive to other load on the machine than latency is.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# initialize URL : prints the session id (empty if the server keeps none); fails if the server never answers 200.
initialize() {
  local url=$1 hdr sid code
  hdr=$(mktemp)
  for _ in $(seq 300); do
    code=$(curl -s -o /dev/null -D "$hdr" -w '%{http_code}' -m 2 -H 'Content-Type: application/json' \
      -H 'Accept: application/json, text/event-stream' "$url" \
      -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
      2>/dev/null || true)
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  [ "$code" = 200 ] || { rm -f "$hdr"; return 1; }
  sid=$(awk 'tolower($1) == "mcp-session-id:" { print $2 }' "$hdr" | tr -d '\r')
  rm -f "$hdr"
  local extra=()
  [ -n "$sid" ] && extra=(-H "Mcp-Session-Id: $sid")
  curl -s -o /dev/null -m 2 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H 'MCP-Protocol-Version: 2025-11-25' "${extra[@]}" "$url" \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$sid"
}

MODERN_META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
# discover URL : waits until a stateless 2026-07-28 server/discover answers 200 with supportedVersions (max 30 s).
discover() {
  local body
  for _ in $(seq 300); do
    body=$(curl -s -m 2 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
      -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: server/discover' "$1" \
      -d '{"jsonrpc":"2.0","id":0,"method":"server/discover","params":{'"$MODERN_META"'}}' 2>/dev/null || true)
    [[ "$body" == *'"supportedVersions"'*'2026-07-28'* ]] && return 0
    sleep 0.1
  done
  return 1
}

# wrk_run NAME URL SID CONNS SECONDS : one wrk run at revision $REVISION; prints its WRKJSON object.
wrk_run() {
  local out
  out=$(MCP_SESSION_ID="$3" MCP_REVISION="$REVISION" "${PIN_LOAD[@]}" wrk -t1 -c"$4" -d"$5s" --timeout 5s -s "$HERE/tools_call.lua" "$2" 2>&1)
  echo "$out" >"$BENCH_OUT/$1.wrk.txt"
  sed -n 's/^WRKJSON //p' <<<"$out"
}

RESULTS="$BENCH_OUT/results.jsonl"
: >"$RESULTS"

# bench_server NAME REVISION COMMAND... : one row: start COMMAND --port N, wait until it answers (2025-11-25:
# initialize, keeping the session id if it gives one; 2026-07-28: server/discover), then the load runs.
bench_server() {
  local name=$1
  REVISION=$2
  shift 2
  local port url sid="" idle_rss idle_threads
  port=$(dm_free_port)
  url="http://127.0.0.1:$port/mcp"
  "${PIN_SERVER[@]}" "$@" --port "$port" </dev/null >"$BENCH_OUT/$name.server.log" 2>&1 &
  SERVER_PID=$!
  if [ "$REVISION" = 2026-07-28 ]; then
    if ! discover "$url"; then
      dm_log "$name did not answer server/discover (log: $BENCH_OUT/$name.server.log)"
      stop_server
      return 1
    fi
  elif ! sid=$(initialize "$url"); then
    dm_log "$name did not answer initialize (log: $BENCH_OUT/$name.server.log)"
    stop_server
    return 1
  fi
  sleep 1
  idle_rss=$(proc_kb "$SERVER_PID" VmRSS)
  idle_threads=$(proc_kb "$SERVER_PID" Threads)
  dm_log "$name ($REVISION): pid $SERVER_PID, idle RSS ${idle_rss} kB, $idle_threads threads; warming up ${WARMUP}s"
  wrk_run "$name-warmup" "$url" "$sid" "$CONNS" "$WARMUP" >/dev/null
  dm_log "$name: throughput run, $CONNS connections, ${SECONDS_RUN}s"
  local thr lat c0 c1 c2
  c0=$(cpu_ticks "$SERVER_PID")
  thr=$(wrk_run "$name-throughput" "$url" "$sid" "$CONNS" "$SECONDS_RUN")
  c1=$(cpu_ticks "$SERVER_PID")
  local load_threads
  load_threads=$(proc_kb "$SERVER_PID" Threads)
  dm_log "$name: latency run, 1 connection, ${SECONDS_RUN}s"
  lat=$(wrk_run "$name-latency" "$url" "$sid" 1 "$SECONDS_RUN")
  c2=$(cpu_ticks "$SERVER_PID")
  local peak_rss
  peak_rss=$(proc_kb "$SERVER_PID" VmHWM)
  stop_server
  printf '{"server":"%s","revision":"%s","idle_rss_kb":%s,"idle_threads":%s,"load_threads":%s,"peak_rss_kb":%s,"clk_tck":%s,' \
    "$name" "$REVISION" "$idle_rss" "$idle_threads" "$load_threads" "$peak_rss" "$CLK_TCK" >>"$RESULTS"
  printf '"cpu_ticks_throughput":%s,"cpu_ticks_latency":%s,"throughput":%s,"latency":%s}\n' \
    $((c1 - c0)) $((c2 - c1)) "${thr:-null}" "${lat:-null}" >>"$RESULTS"
}

for s in $ONLY; do
  case $s in
    dagmedic) bench_server dagmedic 2025-11-25 "$BUILD/mcp-bench-server" --io-threads 1 --executor-threads 2 || true ;;
    dagmedic-2026)
      bench_server dagmedic-2026 2026-07-28 "$BUILD/mcp-bench-server" --io-threads 1 --executor-threads 2 || true ;;
    ts) bench_server ts 2025-11-25 "$DM_NODE22" "$HERE/ts_server.mjs" || true ;;
    py) bench_server py 2025-11-25 "$DM_VENV/bin/python" "$HERE/py_server.py" || true ;;
    ts-stateless) bench_server ts-stateless 2025-11-25 "$DM_NODE22" "$HERE/ts_server.mjs" --stateless || true ;;
    ts2) bench_server ts2 2025-11-25 "$DM_NODE22" "$HERE/ts2_server.mjs" || true ;;
    ts2-2026) bench_server ts2-2026 2026-07-28 "$DM_NODE22" "$HERE/ts2_server.mjs" || true ;;
    py-stateless) bench_server py-stateless 2025-11-25 "$DM_VENV/bin/python" "$HERE/py_server.py" --stateless || true ;;
    *) dm_die "unknown server $s (dagmedic, dagmedic-2026, ts, ts-stateless, ts2, ts2-2026, py, py-stateless)" ;;
  esac
done

SSE_JSON="$BENCH_OUT/sse.json"
: >"$SSE_JSON"
if [[ " $ONLY " == *" dagmedic "* ]]; then
  port=$(dm_free_port)
  "${PIN_SERVER[@]}" "$BUILD/mcp-bench-server" --port "$port" --io-threads 1 --executor-threads 2 \
    </dev/null >"$BENCH_OUT/dagmedic-sse.server.log" 2>&1 &
  SERVER_PID=$!
  initialize "http://127.0.0.1:$port/mcp" >/dev/null
  dm_log "dagmedic: opening $STREAMS SSE streams"
  "${PIN_LOAD[@]}" python3 "$HERE/sse_streams.py" --url "http://127.0.0.1:$port/mcp" --pid "$SERVER_PID" \
    --streams "$STREAMS" >"$SSE_JSON" || true
  stop_server
fi

python3 - "$RESULTS" "$SSE_JSON" "$CONNS" "$SECONDS_RUN" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sse_text = open(sys.argv[2]).read().strip()
conns, secs = sys.argv[3], sys.argv[4]
def pkg_version(prefix_var, pkg):
    try:
        return json.load(open(os.path.join(os.environ[prefix_var], "node_modules", pkg, "package.json")))["version"]
    except Exception:  # noqa: BLE001 - a label only
        return "?"

ts1 = pkg_version("DM_TS_SDK_PREFIX", "@modelcontextprotocol/sdk")
ts2 = pkg_version("DM_TS_SDK2_PREFIX", "@modelcontextprotocol/server")
label = {"dagmedic": "dagmedic (C++ dm_mcp)", "dagmedic-2026": "dagmedic (C++ dm_mcp) stateless",
         "ts": f"TS SDK {ts1}", "ts-stateless": f"TS SDK {ts1} stateless",
         "ts2": f"TS SDK v2 {ts2} stateless (SSE)", "ts2-2026": f"TS SDK v2 {ts2} stateless",
         "py": "Python SDK 2.3.0", "py-stateless": "Python SDK 2.3.0 stateless"}

def rps(r):
    return r["requests"] / (r["duration_us"] / 1e6) if r and r["duration_us"] else 0.0

def ms(us):
    return f"{us / 1000:.2f}"

def cpu_us(r):  # server CPU time per call in the throughput run
    t = r["throughput"]
    return r["cpu_ticks_throughput"] * 1e6 / r["clk_tck"] / t["requests"] if t and t["requests"] else float("nan")

print()
print(f"MCP tools/call round trip, Streamable HTTP, JSON responses, one session (none when stateless); {secs}s per run; "
      f"{os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f}")
print(f"{'server':34} {'revision':10} {'req/s @' + conns:>10} {'p50 ms':>7} {'p99 ms':>7} {'bad':>5} | "
      f"{'req/s @1':>8} {'p50 ms':>7} {'p99 ms':>7} | {'CPU us/call':>11} {'idle RSS':>9} {'peak RSS':>9} {'threads':>7}")
for r in rows:
    t, l = r["throughput"], r["latency"]
    bad = (t["bad"] + t["status_errors"] + t["timeouts"] + t["connect_errors"] + t["read_errors"]) if t else -1
    bad += (l["bad"] + l["status_errors"] + l["timeouts"]) if l else 0
    print(f"{label.get(r['server'], r['server']):34} {r.get('revision', '2025-11-25'):10} {rps(t):>10.0f} "
          f"{ms(t['p50_us']) if t else '-':>7} "
          f"{ms(t['p99_us']) if t else '-':>7} {bad:>5} | {rps(l):>8.0f} {ms(l['p50_us']) if l else '-':>7} "
          f"{ms(l['p99_us']) if l else '-':>7} | {cpu_us(r):>11.0f} {r['idle_rss_kb'] / 1024:>7.1f}MB {r['peak_rss_kb'] / 1024:>7.1f}MB "
          f"{r['idle_threads']:>3}/{r['load_threads']:<3}")
by = {r["server"]: r for r in rows}
print()
# The goal on each revision: dagmedic >= 20x the best TypeScript SDK mode that serves that revision.
for rev, ours, theirs in (("2025-11-25", "dagmedic", ("ts", "ts-stateless", "ts2")),
                          ("2026-07-28", "dagmedic-2026", ("ts2-2026",))):
    best = max(((rps(by[k]["throughput"]), k) for k in theirs if k in by and by[k]["throughput"]), default=(0, ""))
    if ours in by and by[ours]["throughput"] and best[0]:
        ratio = rps(by[ours]["throughput"]) / best[0]
        print(f"{rev}: dagmedic / best TypeScript SDK mode ({label[best[1]]}) throughput: {ratio:.1f}x "
              f"(target >= 20x: {'met' if ratio >= 20 else 'NOT met'})")
for ours in ("dagmedic", "dagmedic-2026"):
    if ours in by and by[ours]["throughput"]:
        d = by[ours]
        p99 = d["throughput"]["p99_us"] / 1000
        print(f"{label[ours]} ({d.get('revision')}) p99: {p99:.2f} ms @{conns} conns (target < 2 ms: "
              f"{'met' if p99 < 2 else 'NOT met'}), {ms(d['latency']['p99_us'])} ms @1 conn; idle RSS "
              f"{d['idle_rss_kb'] / 1024:.1f} MB (target <= 15 MB: {'met' if d['idle_rss_kb'] <= 15 * 1024 else 'NOT met'})")
if sse_text:
    s = json.loads(sse_text)
    b, a, h = s["before"], s["all_open"], s["after_hold"]
    print(f"\nSSE: {s['opened']}/{s['streams_requested']} streams opened in {s['open_seconds']}s, "
          f"{s['still_open_after_hold']} still open after the hold; errors {s['error_count']}")
    print(f"     RSS {b['rss_kb'] / 1024:.1f} MB -> {a['rss_kb'] / 1024:.1f} MB all open -> {h['rss_kb'] / 1024:.1f} MB "
          f"after hold ({(a['rss_kb'] - b['rss_kb']) / max(s['opened'], 1):.1f} kB per stream incl. its session); "
          f"threads {b['threads']} -> {a['threads']} -> {h['threads']}")
PY
