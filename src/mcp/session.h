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

// Who the transport authenticated for one inbound message: an OAuth bearer token's holder on
// Streamable HTTP with authorization on. Transports that authenticate no one (stdio, HTTP without
// authorization) pass none. The protocol core only carries it to the handlers
// (RequestContext::caller), to the server's tool filter and into the claims a sealed
// requestState is bound to; what the fields mean is the application's business. Immutable once
// made; shared between threads.
struct Caller {
  std::string issuer{};
  std::string subject{};              // the token's `sub`
  std::string principal{};            // who the caller is to the application (a configured claim)
  std::string client_id{};            // the OAuth client making the request (azp / client_id)
  std::vector<std::string> scopes{};  // sorted, unique
  std::vector<std::string> environments{};  // sorted, unique (application-defined)
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
  // `headers`: what the HTTP POST that carried the message said, or null (stdio, in-memory). With
  // headers, a request on a session that has not answered `initialize` is served as 2026-07-28
  // and checked against them first (a missing or contradicting one is answered with -32020
  // HeaderMismatch); on an initialized session they are ignored.
  // `caller`: who the transport authenticated for this message, or null (see Caller). A request
  // it starts sees it through RequestContext::caller(); tools/list and tools/call apply the
  // server's tool filter to it.
  virtual InboundInfo receive(std::string_view text, const RequestHeaders* headers,
                              std::shared_ptr<const Caller> caller) = 0;
  // A transport that has no headers and authenticates no one.
  InboundInfo receive(std::string_view text) { return receive(text, nullptr, nullptr); }
  InboundInfo receive(std::string_view text, const RequestHeaders& headers) {
    return receive(text, &headers, nullptr);
  }
  InboundInfo receive(std::string_view text, std::shared_ptr<const Caller> caller) {
    return receive(text, nullptr, std::move(caller));
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
