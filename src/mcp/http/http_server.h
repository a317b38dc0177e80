// MCP Streamable HTTP transport (legacy revisions 2024-11-05 .. 2025-11-25) on Boost.Beast/Asio.
//
// One endpoint (`path`): POST carries one JSON-RPC message, GET opens the session's standalone SSE
// stream (or resumes any stream of the session with Last-Event-ID), DELETE ends the session.
// Fully asynchronous: `io_threads` threads serve every connection and stream (no thread per
// connection or stream); each connection runs on its own strand.
//
// Behaviour worth knowing (details in http_server.cpp):
// - Responses to a request go either as one application/json body (when the first message for
//   the request is its completing response and response_mode is json_when_possible) or as an SSE
//   stream carrying progress/log/server->client requests and finally the response.
// - Every SSE event id is "<stream>_<seq>", unique per session. A stream starts with a priming
//   event (id, `retry:` and empty data) when the session negotiated 2025-11-25 or later (older
//   clients fail to parse empty data, as the TypeScript SDK also notes).
// - A client that disconnects mid-stream does NOT cancel the request: the handler keeps running
//   and its messages stay in the stream's bounded history (`stream_history` events) so that a GET
//   with Last-Event-ID replays them; history beyond the bound is dropped with a log line.
// - Messages with no related request go to the standalone GET stream; while none is open they
//   are queued (bounded by `stream_history`) and replayed to the next GET.
// - Sessions idle for `session_idle_timeout` (no request and no open stream) are closed.
// - Logs go to stderr only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "mcp/http/bearer.h"
#include "mcp/session.h"

namespace dm::mcp::http {

enum class ResponseMode {
  json_when_possible,  // JSON body if the first message for a request is its response, else SSE
  always_sse,          // every request gets an SSE stream (priming event sent at once)
};

struct HttpServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;  // 0 = pick a free port
  std::string path = "/mcp";
  // Accepted Host header values. Empty = localhost, 127.0.0.1, [::1] with any port. An entry
  // without a port matches any port; an entry with a port matches exactly.
  std::vector<std::string> allowed_hosts;
  // Accepted Origin header values ("http://host:port"). Empty = http(s) origins on the loopback
  // hosts above, any port. A request without Origin is allowed (non-browser clients).
  std::vector<std::string> allowed_origins;
  std::size_t max_body_bytes = 4 << 20;  // larger POST body -> 413 with a JSON-RPC error
  std::chrono::seconds session_idle_timeout{3600};
  int io_threads = 1;
  // Additions beyond the brief's minimum (defaults keep the brief's behaviour):
  ResponseMode response_mode = ResponseMode::json_when_possible;
  std::size_t stream_history = 256;           // events kept per stream for Last-Event-ID replay
  std::chrono::milliseconds sse_retry{1000};  // `retry:` sent in priming events
  // Authorization (bearer.h): null = none (the local, single-user mode); set = every request to
  // the endpoint needs a bearer token the gate accepts, and the RFC 9728 metadata is served.
  std::shared_ptr<BearerGate> bearer{};
};

// Thread-safety: all members may be called from any thread. Not copyable or movable.
class HttpServer {
 public:
  // `factory` must not be null; it is used from the io threads.
  HttpServer(std::shared_ptr<SessionFactory> factory, HttpServerOptions opts);
  ~HttpServer();  // stops if running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving in background threads; returns the bound port.
  // Errors: invalid_argument (bad address/options), unavailable (bind/listen failed),
  // failed_precondition (already started or stopped).
  dm::Result<uint16_t> start();

  // Blocks until SIGTERM/SIGINT (or stop() from another thread), then shuts down gracefully.
  // Returns at once if the server is not running.
  void wait_for_shutdown_signal();

  // Graceful: stops accepting, ends open streams (pending writes are flushed, then the streams
  // end), closes every session (Session::close), joins the io threads. Idempotent, thread-safe;
  // must not be called from an io thread (i.e. from inside a Session sink).
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::mcp::http
