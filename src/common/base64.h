// Standard base64 (RFC 4648, with padding): MCP blob contents and list cursors, HTTP Basic auth,
// the MWAA CLI's stdout/stderr. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dm {

std::string base64_encode(std::string_view bytes);
// nullopt for characters outside the alphabet or bad padding/length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace dm
