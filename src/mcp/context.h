// What a handler (tool, resource, prompt, completion) can do while it runs for one client request:
// watch for cancellation, report progress, log to the client, and ask the client things
// (elicitation, sampling) without blocking the transport.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "mcp/cancel.h"
#include "mcp/session.h"

namespace dm::mcp {

using json = nlohmann::json;

// RFC 5424 severities as MCP names them (logging/setLevel, notifications/message), low to high.
enum class LogLevel { debug, info, notice, warning, error, critical, alert, emergency };
const char* log_level_name(LogLevel l) noexcept;
std::optional<LogLevel> parse_log_level(std::string_view s) noexcept;

// Implemented by the session; handed by reference to a handler for the duration of one call.
// Thread-safety: a handler may use it from its own thread and from threads it starts, but not after
// the handler returned.
class RequestContext {
 public:
  virtual ~RequestContext() = default;

  // True once the client cancelled the request or the session closed. A cancelled handler should
  // stop soon; whatever it returns is dropped (no response is sent).
  virtual bool cancelled() const = 0;
  virtual const CancelToken& cancel_token() const = 0;

  // notifications/progress for this request; a no-op when the request carried no
  // `_meta.progressToken`. `progress` should increase from call to call.
  virtual void progress(double progress, std::optional<double> total = std::nullopt,
                        std::string message = {}) = 0;

  // notifications/message, sent only when `level` >= the level the client set (logging/setLevel;
  // everything is sent until it does).
  virtual void log(LogLevel level, std::string logger, json data) = 0;

  // Server->client request (`elicitation/create`, `sampling/createMessage`, `roots/list`, ...).
  // Blocks this handler (never the transport) until the client answers, `timeout` passes
  // (Errc::timeout; the client gets notifications/cancelled), or the request is cancelled
  // (Errc::cancelled). A JSON-RPC error answer → Errc::protocol with "code: message".
  virtual Result<json> request_client(std::string method, json params,
                                      std::chrono::milliseconds timeout) = 0;

  // elicitation/create in form mode: `message` plus a flat `requested_schema` (object of primitive
  // properties). Errc::failed_precondition if the client did not declare `elicitation` (form).
  // Returns the client's result: {"action": "accept"|"decline"|"cancel", "content": {...}}.
  virtual Result<json> elicit_form(std::string message, json requested_schema,
                                   std::chrono::milliseconds timeout) = 0;

  // elicitation/create in URL mode (revision 2025-11-25): the user completes an out-of-band page.
  // Errc::failed_precondition if the client did not declare `elicitation.url`.
  virtual Result<json> elicit_url(std::string message, std::string url, std::string elicitation_id,
                                  std::chrono::milliseconds timeout) = 0;

  // sampling/createMessage with the given params (messages, maxTokens, ...).
  // Errc::failed_precondition if the client did not declare `sampling`.
  virtual Result<json> create_message(json params, std::chrono::milliseconds timeout) = 0;

  // What the client declared (legacy: in initialize; 2026-07-28: in this request's `_meta`), and
  // the revision the request is served under.
  virtual const json& client_capabilities() const = 0;
  virtual const json& client_info() const = 0;
  virtual std::string protocol_version() const = 0;
  // The request's `_meta` (empty object when absent).
  virtual const json& request_meta() const = 0;
  // Who the transport authenticated for this request (session.h Caller); null when it
  // authenticates no one (stdio, HTTP without authorization).
  virtual const Caller* caller() const = 0;

  // ---- 2026-07-28 and multi round-trip requests (server.h: InputRequired) ----
  // True when the request is served statelessly under a modern revision (no session; no
  // server->client requests: request_client/elicit_*/create_message fail with
  // Errc::failed_precondition and the handler answers InputRequired instead).
  virtual bool modern() const { return false; }
  // The answers to the InputRequired this handler gave before (key -> ElicitResult,
  // CreateMessageResult, ListRootsResult as the client sent them; unknown keys may be present:
  // ignore them). Empty object on a first call.
  virtual const json& input_responses() const = 0;
  // The `state` of that InputRequired, verified (sealed by this server for this very request:
  // same method, target, arguments and claims, not expired). nullopt on a first call.
  virtual const std::optional<json>& request_state() const = 0;
  // True if client_capabilities() declares `capability` ("elicitation", "sampling", "roots"), or
  // the extension named by it (e.g. kTasksExtension) under "extensions".
  bool client_supports(std::string_view capability) const;
  // True while running as a task (tasks extension): there is no response stream, progress and
  // log are dropped.
  virtual bool in_task() const { return false; }
};

// Tool handlers get the same context.
using ToolContext = RequestContext;

}  // namespace dm::mcp
