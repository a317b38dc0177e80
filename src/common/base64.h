// Base64 (RFC 4648), the program's one codec. Standard (with padding): MCP blob contents and list
// cursors, HTTP Basic auth, the MWAA CLI's stdout/stderr. URL-safe (§5, no padding): JWT segments.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dm {

std::string base64_encode(std::string_view bytes);
// nullopt for characters outside the alphabet or bad padding/length.
std::optional<std::string> base64_decode(std::string_view text);
// As base64_decode, but ASCII whitespace is ignored and the final padding may be missing (what
// services send as "base64" in JSON, e.g. the MWAA CLI's stdout/stderr).
std::optional<std::string> base64_decode_lenient(std::string_view text);

// The URL-safe alphabet ('-' and '_' for '+' and '/') without padding, as JWTs (RFC 7515) use it.
std::string base64url_encode(std::string_view bytes);
// nullopt for characters outside the URL-safe alphabet, a length no padding makes whole, or a
// non-canonical final character (unused bits not zero: RFC 4648 §3.5); a final '=' padding is
// allowed.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace dm
