#include "mcp/http/request_checks.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

namespace dm::mcp::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct HostPort {
  std::string_view host;  // brackets kept for IPv6: "[::1]"
  std::string_view port;  // empty when absent
  bool ok = false;
};

// Splits "name[:port]" / "[v6][:port]"; rejects empty names, bad ports and stray characters.
HostPort split_host_port(std::string_view s) {
  HostPort hp;
  if (s.empty()) return hp;
  std::string_view rest;
  if (s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return hp;
    hp.host = s.substr(0, close + 1);
    rest = s.substr(close + 1);
  } else {
    auto colon = s.find(':');
    hp.host = s.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : s.substr(colon);
  }
  if (!rest.empty()) {
    if (rest.front() != ':' || rest.size() < 2 || rest.size() > 6) return hp;
    hp.port = rest.substr(1);
    if (!std::all_of(hp.port.begin(), hp.port.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      return hp;
  }
  if (hp.host.empty()) return hp;
  for (char c : hp.host) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '/' || c == '@' || c == '\\') return hp;
  }
  hp.ok = true;
  return hp;
}

constexpr std::array<std::string_view, 3> kLoopback = {"localhost", "127.0.0.1", "[::1]"};

bool is_loopback_name(std::string_view host) {
  return std::any_of(kLoopback.begin(), kLoopback.end(),
                     [&](std::string_view l) { return iequals(l, host); });
}

// Matches `value` (host[:port]) against an allow-list entry of the same form.
bool host_entry_matches(const HostPort& value, std::string_view entry) {
  HostPort e = split_host_port(entry);
  if (!e.ok || !iequals(e.host, value.host)) return false;
  return e.port.empty() || e.port == value.port;
}

}  // namespace

bool host_allowed(std::string_view host_header, const std::vector<std::string>& allowed) {
  HostPort hp = split_host_port(trim(host_header));
  if (!hp.ok) return false;
  if (allowed.empty()) return is_loopback_name(hp.host);
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& e) { return host_entry_matches(hp, e); });
}

bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed) {
  origin = trim(origin);
  auto sep = origin.find("://");
  if (sep == std::string_view::npos) return false;
  std::string_view scheme = origin.substr(0, sep);
  std::string_view authority = origin.substr(sep + 3);
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  HostPort hp = split_host_port(authority);
  if (!hp.ok) return false;
  if (allowed.empty()) {
    return (iequals(scheme, "http") || iequals(scheme, "https")) && is_loopback_name(hp.host);
  }
  for (const auto& entry : allowed) {
    std::string_view e = trim(entry);
    auto esep = e.find("://");
    if (esep == std::string_view::npos) continue;
    if (!iequals(e.substr(0, esep), scheme)) continue;
    std::string_view eauth = e.substr(esep + 3);
    if (!eauth.empty() && eauth.back() == '/') eauth.remove_suffix(1);
    if (host_entry_matches(hp, eauth)) return true;
  }
  return false;
}

bool accepts(std::string_view accept_header, std::string_view media_type) {
  while (!accept_header.empty()) {
    auto comma = accept_header.find(',');
    std::string_view item = accept_header.substr(0, comma);
    accept_header =
        comma == std::string_view::npos ? std::string_view{} : accept_header.substr(comma + 1);
    auto semi = item.find(';');
    std::string_view type = trim(item.substr(0, semi));
    if (!iequals(type, media_type)) continue;
    bool refused = false;
    while (semi != std::string_view::npos) {
      item = item.substr(semi + 1);
      semi = item.find(';');
      std::string_view param = trim(item.substr(0, semi));
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        std::string_view q = trim(param.substr(2));
        refused = !q.empty() &&
                  std::all_of(q.begin(), q.end(), [](char c) { return c == '0' || c == '.'; });
      }
    }
    if (!refused) return true;
  }
  return false;
}

bool is_json_content_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  return iequals(trim(content_type.substr(0, semi)), "application/json");
}

bool is_supported_protocol_version(std::string_view v) {
  return v == "2024-11-05" || v == "2025-03-26" || v == "2025-06-18" || v == "2025-11-25";
}

std::string jsonrpc_error(int code, std::string_view message) {
  nlohmann::json j = {{"jsonrpc", "2.0"},
                      {"id", nullptr},
                      {"error", {{"code", code}, {"message", std::string(message)}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dm::mcp::http
