#include "aws/url.h"

#include <cctype>

namespace dm::aws {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<UrlParts> parse_url(std::string_view url) {
  UrlParts u;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return make_error(Errc::invalid_argument, "URL has no scheme");
  u.scheme = lower(url.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https")
    return make_error(Errc::invalid_argument, "URL scheme must be http or https");
  std::string_view rest = url.substr(sep + 3);
  if (auto h = rest.find('#'); h != std::string_view::npos) rest = rest.substr(0, h);
  auto auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? "" : rest.substr(auth_end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return make_error(Errc::invalid_argument, "URL has an unterminated IPv6 host");
    u.host = lower(authority.substr(1, close - 1));
    u.ipv6 = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return make_error(Errc::invalid_argument, "URL has a malformed host");
      port = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    u.host = lower(authority);
  }
  if (u.host.empty()) return make_error(Errc::invalid_argument, "URL has an empty host");
  for (unsigned char c : u.host) {
    if (c <= 0x20 || c == 0x7f)
      return make_error(Errc::invalid_argument, "URL host has a control character");
  }
  if (!port.empty()) {
    if (port.size() > 5) return make_error(Errc::invalid_argument, "URL port is out of range");
    int p = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c)))
        return make_error(Errc::invalid_argument, "URL port is not a number");
      p = p * 10 + (c - '0');
    }
    if (p > 65535) return make_error(Errc::invalid_argument, "URL port is out of range");
    u.port = p;
  }
  auto q = tail.find('?');
  if (q == std::string_view::npos) {
    u.path = std::string(tail);
  } else {
    u.path = std::string(tail.substr(0, q));
    u.query = std::string(tail.substr(q + 1));
  }
  return u;
}

std::string host_header(const UrlParts& u) {
  std::string h = u.ipv6 ? "[" + u.host + "]" : u.host;
  if (u.port) {
    int def = u.scheme == "https" ? 443 : 80;
    if (*u.port != def) h += ":" + std::to_string(*u.port);
  }
  return h;
}

}  // namespace dm::aws
