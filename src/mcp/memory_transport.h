// In-memory client/server pair for tests: a synchronous MCP client talking to a SessionFactory
// without stdio or sockets. Later test suites drive runbook tools through it.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "mcp/session.h"

namespace dm::mcp {

using json = nlohmann::json;

struct InMemoryClientOptions {
  std::chrono::milliseconds timeout{10000};  // default wait for a response in call()/wait()
};

// Thread-safety: all members may be called from any thread. Server messages are processed in order
// by the client's own worker thread; handlers for server->client requests run there (a blocking
// handler delays later messages, never the server).
class InMemoryClient {
 public:
  // Handles a server->client request (elicitation/create, sampling/createMessage, roots/list):
  // return the result object, or an Error (sent as JSON-RPC error -32603 / -32601 if unhandled).
  using RequestHandler = std::function<Result<json>(const json& params)>;

  explicit InMemoryClient(std::shared_ptr<SessionFactory> server, InMemoryClientOptions opts = {});
  ~InMemoryClient();  // closes the session
  InMemoryClient(const InMemoryClient&) = delete;
  InMemoryClient& operator=(const InMemoryClient&) = delete;

  // Registers a handler for server->client requests with this method. Set before initialize().
  void on_request(const std::string& method, RequestHandler handler);

  // initialize + notifications/initialized. Returns the initialize result.
  // `capabilities` are the client capabilities declared (e.g. {"elicitation":{}}).
  Result<json> initialize(std::string protocol_version = "2025-11-25",
                          json capabilities = json::object());

  // Sends a request and waits for its response: the `result` object, or Errc::protocol with
  // "CODE: message" for a JSON-RPC error (code also available via last_error_code()), or
  // Errc::timeout.
  Result<json> call(const std::string& method, json params = json::object());
  // Same, but returns the whole response message ({"jsonrpc","id","result"|"error"}).
  Result<json> call_raw(const std::string& method, json params = json::object());

  // Asynchronous pieces for cancellation/progress tests.
  json start(const std::string& method, json params);  // sends, returns the id used
  // Waits for the response to `id` up to `timeout`; nullopt if none came.
  std::optional<json> wait(const json& id, std::optional<std::chrono::milliseconds> timeout = {});
  void notify(const std::string& method, json params = json::object());

  // Feeds a raw text to the session (edge-case tests); returns what the session said it was.
  InboundInfo send_raw(const std::string& text);
  // Next message the server sent that is not a response to a call/start request (responses to
  // send_raw requests land here too), waiting up to `timeout`; nullopt if none.
  std::optional<json> next_message(std::optional<std::chrono::milliseconds> timeout = {});
  // Notifications (and server->client requests) received so far with this method (all when
  // empty), in order. Non-consuming.
  std::vector<json> notifications(const std::string& method = {}) const;
  // Waits until at least `n` notifications with `method` arrived or timeout; returns whether so.
  bool wait_notifications(const std::string& method, std::size_t n,
                          std::optional<std::chrono::milliseconds> timeout = {});

  int last_error_code() const;
  Session& session();
  void close();  // closes the session (idempotent)

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace dm::mcp
