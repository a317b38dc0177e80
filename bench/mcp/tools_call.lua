-- wrk script: MCP tools/call `echo` round trips over Streamable HTTP on one already-initialized session, or
-- stateless ones.
-- Env: MCP_SESSION_ID (from run.sh's initialize; empty = none). MCP_REVISION: 2025-11-25 (default) sends the
-- request as a 2025 client on that session does; 2026-07-28 sends it statelessly as that revision says: the
-- `_meta` protocolVersion + clientCapabilities envelope in params and the Mcp-Method / Mcp-Name headers.
-- Every request gets a JSON-RPC id unique across threads (a session must not see two in-flight requests with the
-- same id). A response counts as bad unless it is a 200 whose body holds the echoed text. done() prints one line:
-- WRKJSON {...} for run.sh.
local session_id = os.getenv("MCP_SESSION_ID") or ""
local revision = os.getenv("MCP_REVISION") or "2025-11-25"
local modern = revision == "2026-07-28"
local meta = ""
if modern then
  meta = ',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",' ..
      '"io.modelcontextprotocol/clientCapabilities":{}}'
end
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  bad = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = revision
  if modern then
    wrk.headers["Mcp-Method"] = "tools/call"
    wrk.headers["Mcp-Name"] = "echo"
  end
  if session_id ~= "" then
    wrk.headers["Mcp-Session-Id"] = session_id
  end
end

function request()
  counter = counter + 1
  local id = tid * 1000000000 + counter
  local body = '{"jsonrpc":"2.0","id":' .. id ..
      ',"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}' .. meta .. '}}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, "echo: hello", 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"bad":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, bad_total, e.connect, e.read, e.write, e.status, e.timeout))
end
