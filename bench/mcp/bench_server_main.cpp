// Benchmark server (a): dagmedic's MCP core (dm_mcp) over its Streamable HTTP transport. Serves the
// same trivial tool as ts_server.mjs and py_server.py: `echo` {text: string} -> "echo: <text>".
//
// Usage: mcp-bench-server --port N [--io-threads N] [--executor-threads N]
// Binds 127.0.0.1, endpoint /mcp; runs until SIGTERM/SIGINT. Driven by bench/mcp/run.sh only.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "mcp/http/http_server.h"
#include "mcp/server.h"

namespace {

// Parses "--name value" as a non-negative int within [lo, hi]; false on anything else.
bool parse_int(const char* s, long lo, long hi, long& out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  out = v;
  return true;
}

int usage() {
  std::fprintf(stderr,
               "usage: mcp-bench-server --port N [--io-threads N] [--executor-threads N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  long port = 0, io_threads = 1, executor_threads = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) return usage();
    const char* v = argv[++i];
    bool ok = false;
    if (a == "--port")
      ok = parse_int(v, 0, 65535, port);
    else if (a == "--io-threads")
      ok = parse_int(v, 1, 64, io_threads);
    else if (a == "--executor-threads")
      ok = parse_int(v, 1, 64, executor_threads);
    if (!ok) return usage();
  }

  dm::mcp::ServerOptions opts;
  opts.name = "bench-dagmedic";
  opts.version = "1.0.0";
  opts.executor_threads = static_cast<int>(executor_threads);
  auto server = dm::mcp::Server::create(opts);
  auto added = server->add_tool({
      .name = "echo",
      .description = "Echo the text back",
      .input_schema = {{"type", "object"},
                       {"properties", {{"text", {{"type", "string"}}}}},
                       {"required", {"text"}}},
      .handler = [](const dm::mcp::json& args,
                    dm::mcp::ToolContext&) -> dm::Result<dm::mcp::ToolResult> {
        // The schema was validated before this runs; still, never let nlohmann throw out of here.
        const auto it = args.find("text");
        if (it == args.end() || !it->is_string()) return dm::mcp::ToolResult::error("text: string");
        return dm::mcp::ToolResult::text("echo: " + it->get<std::string>());
      },
  });
  if (!added.ok()) {
    std::fprintf(stderr, "add_tool: %s\n", added.error().message.c_str());
    return 1;
  }

  dm::mcp::http::HttpServerOptions http_opts;
  http_opts.port = static_cast<uint16_t>(port);
  http_opts.io_threads = static_cast<int>(io_threads);
  dm::mcp::http::HttpServer http(server, http_opts);
  auto bound = http.start();
  if (!bound.ok()) {
    std::fprintf(stderr, "start: %s\n", bound.error().message.c_str());
    return 1;
  }
  std::fprintf(stderr, "bench-dagmedic listening on 127.0.0.1:%u\n", static_cast<unsigned>(*bound));
  http.wait_for_shutdown_signal();
  server->shutdown();
  return 0;
}
