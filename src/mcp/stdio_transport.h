// stdio transport: newline-delimited JSON-RPC on a pair of file descriptors (stdin/stdout by
// default). The output fd carries protocol messages only; diagnostics go to stderr.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "common/result.h"
#include "mcp/session.h"

namespace dm::mcp {

struct StdioOptions {
  int in_fd = 0;   // read side; not closed by the transport
  int out_fd = 1;  // write side; not closed by the transport
  // A line longer than this is answered with a -32600 error and skipped (not buffered whole).
  std::size_t max_line_bytes = 4u << 20;
  // After EOF, requests already received may finish for this long before the session is closed
  // (so `printf '...' | server` gets its answers); then in-flight handlers are cancelled.
  std::chrono::milliseconds drain_timeout{2000};
};

// Serves one session over the fds until EOF on `in_fd`, a read error, or stop().
// Thread-safety: run() is called once, from one thread; stop() may be called from any thread.
class StdioTransport {
 public:
  StdioTransport(std::shared_ptr<SessionFactory> factory, StdioOptions opts = {});
  ~StdioTransport();
  StdioTransport(const StdioTransport&) = delete;
  StdioTransport& operator=(const StdioTransport&) = delete;

  // Blocks: reads lines, feeds them to the session, writes its messages one per line. On EOF the
  // session is drained (see drain_timeout), closed, pending output flushed; then returns.
  // Errc::unavailable on a read/write error other than EOF (EPIPE on output ends the loop too).
  Status run();
  // Makes run() return soon (closes the session without draining). Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm::mcp
