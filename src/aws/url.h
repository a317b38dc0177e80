// Minimal absolute-URL splitter for signing and endpoint checks (http/https only).
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dm::aws {

struct UrlParts {
  std::string scheme;       // lower-case: "http" or "https"
  std::string host;         // lower-case; IPv6 without brackets ("::1")
  std::optional<int> port;  // explicit port, if any
  std::string path;         // raw, as written (may be empty)
  std::string query;        // raw, without '?', fragment dropped
  bool ipv6 = false;
};

// Splits "scheme://[userinfo@]host[:port][/path][?query][#fragment]". Errors
// (Errc::invalid_argument) for other schemes, an empty host or a bad port; messages never
// include userinfo.
Result<UrlParts> parse_url(std::string_view url);

// The Host header value botocore derives from a URL: lower-case host, brackets for IPv6,
// ":port" only when the port is not the scheme's default.
std::string host_header(const UrlParts& u);

}  // namespace dm::aws
