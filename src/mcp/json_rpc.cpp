#include "mcp/json_rpc.h"

#include <cstdint>

namespace dm::mcp::rpc {

namespace {

// Length of the UTF-8 sequence starting at s[i] if it is well-formed (RFC 3629: no overlongs, no
// surrogates, max U+10FFFF), else 0.
std::size_t utf8_seq(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  const std::size_t n = s.size();
  const auto cont = [&](std::size_t k) { return k < n && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    const unsigned char c1 = b(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // UTF-16 surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const unsigned char c1 = b(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::string prescan(std::string_view text, const Limits& limits, int* code,
                    std::optional<std::string>* raw_id_number) {
  if (text.size() > limits.max_bytes) {
    *code = kInvalidRequest;
    return "message of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
           std::to_string(limits.max_bytes) + " bytes";
  }
  int depth = 0;
  bool in_string = false;
  bool escape = false;
  std::string current;   // text of the string being read at depth 1 (keys), capped
  std::string last_key;  // last complete string at depth 1
  bool after_colon = false;
  std::string pending_key;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const std::size_t len = utf8_seq(text, i);
    if (len == 0) {
      *code = kParseError;
      return "invalid UTF-8 at byte " + std::to_string(i);
    }
    if (in_string) {
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
      } else if (c == '"') {
        in_string = false;
        if (depth == 1) last_key = current;
      } else if (depth == 1 && current.size() < 8) {
        current.append(text.substr(i, len));
      }
      i += len;
      continue;
    }
    if (after_colon && !is_ws(c)) {
      after_colon = false;
      if (pending_key == "id" && depth == 1 && (c == '-' || (c >= '0' && c <= '9'))) {
        std::size_t j = i;
        while (j < text.size() &&
               (text[j] == '-' || text[j] == '+' || text[j] == '.' || text[j] == 'e' ||
                text[j] == 'E' || (text[j] >= '0' && text[j] <= '9')))
          ++j;
        *raw_id_number = std::string(text.substr(i, j - i));
      }
    }
    switch (c) {
      case '"':
        in_string = true;
        current.clear();
        break;
      case '{':
      case '[':
        if (++depth > limits.max_depth) {
          *code = kParseError;
          return "JSON nesting deeper than " + std::to_string(limits.max_depth) + " levels";
        }
        break;
      case '}':
      case ']':
        --depth;
        break;
      case ':':
        if (depth == 1) {
          after_colon = true;
          pending_key = last_key;
        }
        break;
      default:
        break;
    }
    i += len;
  }
  *code = 0;
  return {};
}

Id make_id(json v) {
  Id id;
  id.text = dump(v);
  id.value = std::move(v);
  return id;
}

namespace {

Message invalid(int code, std::string msg, std::optional<Id> id = std::nullopt) {
  Message m;
  m.kind = Message::Kind::invalid;
  m.error_code = code;
  m.error_message = std::move(msg);
  m.id = std::move(id);
  return m;
}

}  // namespace

Message parse(std::string_view text, const Limits& limits) {
  int code = 0;
  std::optional<std::string> raw_id;
  if (std::string why = prescan(text, limits, &code, &raw_id); !why.empty()) {
    return invalid(code, (code == kParseError ? "Parse error: " : "Invalid Request: ") + why);
  }
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    return invalid(kParseError, std::string("Parse error: ") + e.what());
  }
  if (doc.is_array()) return invalid(kInvalidRequest, "Invalid Request: batches are not supported");
  if (!doc.is_object()) return invalid(kInvalidRequest, "Invalid Request: not a JSON object");

  std::optional<Id> id;
  bool has_id = false;
  if (auto it = doc.find("id"); it != doc.end()) {
    has_id = true;
    if (it->is_string() || it->is_number_integer() || it->is_number_unsigned()) {
      id = make_id(*it);
    } else if (it->is_number_float()) {
      id = Id{*it, raw_id ? *raw_id : dump(*it)};
    } else {
      return invalid(kInvalidRequest, "Invalid Request: id must be a string or a number");
    }
  }
  auto jv = doc.find("jsonrpc");
  if (jv == doc.end() || !jv->is_string() || jv->get<std::string>() != "2.0") {
    return invalid(kInvalidRequest, "Invalid Request: jsonrpc must be \"2.0\"", id);
  }
  Message m;
  m.id = id;
  if (auto mt = doc.find("method"); mt != doc.end()) {
    if (!mt->is_string())
      return invalid(kInvalidRequest, "Invalid Request: method must be a string", id);
    m.method = mt->get<std::string>();
    if (auto p = doc.find("params"); p != doc.end()) {
      if (p->is_object()) {
        m.params = std::move(*p);
      } else if (p->is_array()) {
        if (!has_id) return invalid(kInvalidRequest, "Invalid Request: params must be an object");
        return invalid(kInvalidParams, "Invalid params: params must be an object", id);
      } else if (!p->is_null()) {
        return invalid(kInvalidRequest, "Invalid Request: params must be an object", id);
      }
    }
    m.kind = has_id ? Message::Kind::request : Message::Kind::notification;
    return m;
  }
  const bool has_result = doc.contains("result");
  const bool has_error = doc.contains("error");
  if (!has_id || has_result == has_error) {
    return invalid(kInvalidRequest, "Invalid Request: neither a request nor a response", id);
  }
  m.kind = Message::Kind::response;
  if (has_result) m.result = std::move(doc["result"]);
  if (has_error) m.error = std::move(doc["error"]);
  return m;
}

std::string dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string response(const Id& id, const json& result) {
  return R"({"jsonrpc":"2.0","id":)" + id.text + R"(,"result":)" + dump(result) + "}";
}

std::string error_response(const Id* id, int code, std::string_view message, const json* data) {
  json err = {{"code", code}, {"message", std::string(message)}};
  if (data != nullptr) err["data"] = *data;
  return R"({"jsonrpc":"2.0","id":)" + (id ? id->text : std::string("null")) + R"(,"error":)" +
         dump(err) + "}";
}

std::string notification(std::string_view method, const json& params) {
  json m = {{"jsonrpc", "2.0"}, {"method", std::string(method)}};
  if (!params.is_null()) m["params"] = params;
  return dump(m);
}

std::string request(const json& id, std::string_view method, const json& params) {
  json m = {{"jsonrpc", "2.0"}, {"id", id}, {"method", std::string(method)}};
  if (!params.is_null()) m["params"] = params;
  return dump(m);
}

}  // namespace dm::mcp::rpc
