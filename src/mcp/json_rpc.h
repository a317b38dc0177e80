// JSON-RPC 2.0 framing for MCP: classify one inbound message text (request, notification,
// response, or the exact error to answer), and serialize outbound messages. No batching.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace dm::mcp::rpc {

using json = nlohmann::json;

// JSON-RPC 2.0 error codes (spec section 5.1) plus the MCP ones used here.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kResourceNotFound = -32002;  // MCP: resources/read of an unknown URI

struct Limits {
  std::size_t max_bytes = 4u << 20;
  int max_depth = 64;
};

// A request/response id exactly as the client wrote it: `value` for matching, `text` (its JSON
// serialization as received, e.g. a 30-digit integer) for echoing byte-for-byte.
struct Id {
  json value;
  std::string text;
};

struct Message {
  enum class Kind { request, notification, response, invalid } kind = Kind::invalid;
  std::optional<Id> id;  // requests, responses; for invalid: echoed when it could be read
  std::string method;
  json params;                // object (or null when absent)
  json result;                // responses: result (when no error)
  std::optional<json> error;  // responses: error object
  // kind == invalid: the error to answer (with `id` or null).
  int error_code = 0;
  std::string error_message;
};

// Checks size, UTF-8 and nesting depth with a byte scan (before any recursive parse), then parses
// and classifies. Never throws.
Message parse(std::string_view text, const Limits& limits);

// Cheap pre-parse checks alone: empty string when fine, else the reason. Sets *code.
std::string prescan(std::string_view text, const Limits& limits, int* code,
                    std::optional<std::string>* raw_id_number);

// Serialization. `id` may be nullptr for a null id (errors about unreadable messages).
// Invalid UTF-8 inside values is replaced (U+FFFD) rather than throwing.
std::string dump(const json& v);
std::string response(const Id& id, const json& result);
std::string error_response(const Id* id, int code, std::string_view message,
                           const json* data = nullptr);
std::string notification(std::string_view method, const json& params);
std::string request(const json& id, std::string_view method, const json& params);

// Makes an Id from a value (its text is the dumped value).
Id make_id(json v);

}  // namespace dm::mcp::rpc
