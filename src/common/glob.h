// Shell-style globs for config allowlists and rules: '*' matches any run of characters (also
// empty), '?' exactly one; every other character is literal (no classes, no escapes). Pure,
// thread-safe, linear in practice (one backtrack point for the last '*').
#pragma once

#include <string_view>

namespace dm {

bool glob_match(std::string_view pattern, std::string_view text) noexcept;

}  // namespace dm
