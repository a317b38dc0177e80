#include "mcp/http/message_peek.h"

namespace dm::mcp::http {

int json_nesting_depth(std::string_view text, int limit) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        max_depth = depth;
        if (max_depth > limit) return limit + 1;
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

Peek peek_message(std::string_view body) {
  Peek p;
  // nlohmann's parser recurses per nesting level: bound the depth before parsing.
  if (json_nesting_depth(body, kMaxPeekDepth) > kMaxPeekDepth) {
    p.kind = PeekKind::too_deep;
    return p;
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    p.kind = PeekKind::parse_error;
    return p;
  }
  if (j.is_array()) {
    p.kind = PeekKind::batch;
    return p;
  }
  if (!j.is_object()) return p;
  auto id = j.find("id");
  bool id_ok = id != j.end() && (id->is_string() || id->is_number_integer());
  auto method = j.find("method");
  if (method != j.end()) {
    if (!method->is_string()) return p;
    p.method = method->get<std::string>();
    if (id == j.end()) {
      p.kind = PeekKind::notification;
      return p;
    }
    if (!id_ok) return p;
    p.kind = PeekKind::request;
    p.id = *id;
    auto params = j.find("params");
    if (params != j.end() && params->is_object()) {
      if (p.method == "initialize") {
        auto v = params->find("protocolVersion");
        if (v != params->end() && v->is_string()) p.requested_version = v->get<std::string>();
      }
      const char* key = p.method == "resources/read"                            ? "uri"
                        : p.method == "tools/call" || p.method == "prompts/get" ? "name"
                                                                                : nullptr;
      if (key)
        if (auto t = params->find(key); t != params->end() && t->is_string())
          p.target = t->get<std::string>();
      auto meta = params->find("_meta");
      if (meta != params->end() && meta->is_object()) {
        auto v = meta->find("io.modelcontextprotocol/protocolVersion");
        if (v != meta->end() && v->is_string()) p.meta_version = v->get<std::string>();
        auto c = meta->find("io.modelcontextprotocol/clientCapabilities");
        p.meta_complete = p.meta_version && c != meta->end() && c->is_object();
      }
    }
    return p;
  }
  if (id != j.end() && (j.contains("result") || j.contains("error"))) {
    p.kind = PeekKind::response;
    p.id = *id;
    return p;
  }
  return p;
}

}  // namespace dm::mcp::http
