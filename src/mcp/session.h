// The seam between MCP protocol state (src/mcp core) and transports (stdio, Streamable HTTP,
// in-memory). A transport moves message texts; a Session owns everything the protocol says
// about one client. Nothing here knows about Airflow.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dm::mcp {

// One JSON-RPC message the server sends to the client.
struct OutboundMessage {
  std::string json;  // exactly one serialized JSON-RPC message, no trailing newline
  // Id of the client request whose handling produced this message (its response, progress and
  // log notifications sent while it ran, server->client requests made by its handler).
  // nullopt: not tied to any request (list_changed, resource updated, ...): on HTTP it belongs on
  // the session's standalone GET stream.
  std::optional<nlohmann::json> related_request;
  // True only for the response (result or error) that completes `related_request`; nothing
  // related to that request follows it.
  // Cancelled request (notifications/cancelled): per MCP no response is sent, so the session
  // emits exactly one message with EMPTY `json` and completes_request = true instead. A transport
  // writes nothing for it; it only ends the request's stream (HTTP: close that SSE stream).
  bool completes_request = false;
};

// Receives a session's outbound messages. May be called from any thread, concurrently;
// implementations must be thread-safe and must not block (queue and return).
using OutboundSink = std::function<void(OutboundMessage)>;

enum class InboundKind {
  request,       // has method and id: exactly one completes_request message will follow
  notification,  // has method, no id: nothing is answered
  response,      // answer to a server->client request
  invalid,  // parse error / invalid request: an error response was already sent (id null or echoed)
};

struct InboundInfo {
  InboundKind kind = InboundKind::invalid;
  std::optional<nlohmann::json> id;  // request id as sent (string or number), when there is one
  std::string method;                // for requests and notifications
};

// What an HTTP transport read from the headers of the POST that carried a message, for the
// 2026-07-28 checks of headers against the body (streamable-http "Server Validation"): values as
// received (surrounding spaces and tabs included; the session trims them and decodes the
// `=?base64?...?=` form where the revision allows it). A header that was absent is nullopt.
struct RequestHeaders {
  std::optional<std::string> protocol_version{};  // MCP-Protocol-Version
  std::optional<std::string> method{};            // Mcp-Method
  std::optional<std::string> name{};              // Mcp-Name
  // Mcp-Param-{Name} headers: {Name lowercased, value}, in arrival order.
  std::vector<std::pair<std::string, std::string>> params{};
};

// Protocol state for one client: lifecycle, negotiated version, log level, subscriptions,
// in-flight requests and pending server->client requests.
// Thread-safety: all members may be called from any thread.
class Session {
 public:
  virtual ~Session() = default;

  // Feeds one message text (one JSON-RPC message; arrays are rejected: no batching).
  // Never throws and never waits for a handler: requests run on the server's executor and every
  // answer, including errors for malformed input, goes to the sink. Returns what the text was
  // so an HTTP transport can pick 202 versus a response stream.
  // Ordering: messages may reach the sink BEFORE receive() returns, on the calling thread
  // (initialize, ping, lists and all error answers are produced synchronously). The error answer
  // to an `invalid` text has related_request = the echoed id, or a JSON null when the id could
  // not be read, and completes_request = true.
  virtual InboundInfo receive(std::string_view text) = 0;
  // The same for a message that came with HTTP headers outside any legacy session: a request on
  // a session that has not answered `initialize` is then served as 2026-07-28 and checked
  // against the headers first (a missing or contradicting one is answered with -32020
  // HeaderMismatch). On an initialized session the headers are ignored. The default ignores them.
  virtual InboundInfo receive(std::string_view text, const RequestHeaders& headers) {
    (void)headers;
    return receive(text);
  }

  // Ends the session: cancels in-flight handlers (their results are dropped, nothing more is
  // sent), fails pending server->client requests. Idempotent. No sink call starts after it returns.
  virtual void close() = 0;

  // Negotiated protocol revision ("2025-11-25", ...); empty until initialize succeeded.
  virtual std::string protocol_version() const = 0;
};

// Makes sessions. The MCP server implements it; transports depend only on this.
class SessionFactory {
 public:
  virtual ~SessionFactory() = default;
  // Opens a new session whose outbound messages go to `sink`. Never null.
  virtual std::shared_ptr<Session> open_session(OutboundSink sink) = 0;
};

}  // namespace dm::mcp
