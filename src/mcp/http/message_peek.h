// A first look at a POST body before it reaches the Session: the transport must know whether it
// is a request (and its id) BEFORE the session runs it, so the answer can be routed to this POST.
// Thread-safe, never throws.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace dm::mcp::http {

enum class PeekKind {
  request,       // object with string "method" and a string/integer "id"
  notification,  // object with string "method" and no "id"
  response,      // object with "id" and "result" or "error", no "method"
  parse_error,   // not JSON (or invalid UTF-8): answer 400 with -32700
  too_deep,      // nesting deeper than kMaxPeekDepth: answer 400 with -32600
  batch,         // a JSON array: batching is not supported: 400 with -32600
  invalid,       // JSON but not a JSON-RPC message shape: 400 with -32600
};

inline constexpr int kMaxPeekDepth = 64;

struct Peek {
  PeekKind kind = PeekKind::invalid;
  std::optional<nlohmann::json> id;  // for requests and responses
  std::string method;                // for requests and notifications
  std::string requested_version;     // params.protocolVersion of an initialize request
  // What a request acts on, for authorization: params.name of tools/call and prompts/get,
  // params.uri of resources/read ("" otherwise or when absent).
  std::string target;
  // params._meta["io.modelcontextprotocol/protocolVersion"] when it is a string: the message is
  // a 2026-07-28 ("modern") request, served statelessly.
  std::optional<std::string> meta_version;
  // params._meta carries both the protocolVersion (string) and clientCapabilities (object) a
  // 2026-07-28 request needs.
  bool meta_complete = false;
};

Peek peek_message(std::string_view body);

// Deepest nesting of arrays/objects in `text`, ignoring brackets inside strings. Stops counting
// once `limit` is exceeded (returns limit + 1).
int json_nesting_depth(std::string_view text, int limit);

}  // namespace dm::mcp::http
