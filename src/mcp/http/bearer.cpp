#include "mcp/http/bearer.h"

namespace dm::mcp::http {

std::string bearer_challenge(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out = "Bearer";
  bool first = true;
  for (const auto& [k, v] : params) {
    out += first ? " " : ", ";
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) continue;
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out;
}

std::string bearer_token(std::string_view h, bool& invalid) {
  invalid = false;
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (h.size() < kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = h[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return {};
  }
  std::string_view rest = h.substr(kScheme.size());
  if (!rest.empty() && rest.front() != ' ') return {};  // e.g. "Bearerx"
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty()) {
    invalid = true;
    return {};
  }
  // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  std::size_t i = 0;
  auto tokchar = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
  };
  while (i < rest.size() && tokchar(rest[i])) ++i;
  std::size_t body = i;
  while (i < rest.size() && rest[i] == '=') ++i;
  if (body == 0 || i != rest.size()) {
    invalid = true;
    return {};
  }
  return std::string(rest);
}

bool query_has_access_token(std::string_view q) {
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    std::string_view name = part.substr(0, part.find('='));
    std::string lower;
    for (char c : name) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower == "access_token" || lower == "access%5ftoken") return true;
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return false;
}

std::string caller_key(const Caller& c) {
  return c.issuer + '\n' + c.subject + '\n' + c.client_id + '\n' + c.principal;
}

}  // namespace dm::mcp::http
