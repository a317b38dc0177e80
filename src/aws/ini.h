// Parser for the AWS shared credentials and config files (~/.aws/credentials, ~/.aws/config),
// following botocore's configparser rules: "[section]" headers; "key = value" or "key: value"
// (keys lower-cased, both sides trimmed); full-line comments starting with '#' or ';'; indented
// lines after a key are a nested block ("s3 =\n  max_concurrent_requests = 4"), kept as
// "key.sub"; no inline comments. Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dm::aws {

using IniSection = std::map<std::string, std::string>;
using IniFile = std::map<std::string, IniSection>;  // section name (trimmed) → keys

// Errors (Errc::invalid_argument) name `label` (the file) and the line number, never the line's
// text (it may hold a secret): a key before any section, a line that is neither a section, a
// key nor a comment, a duplicate section or key, an unterminated section header.
Result<IniFile> parse_ini(std::string_view text, std::string_view label);

// Profiles of a config file: "[default]" and "[profile NAME]" (the latter wins for "default");
// other sections ("[sso-session x]", "[services x]", bare names) are not profiles.
std::map<std::string, IniSection> config_profiles(const IniFile& config);

}  // namespace dm::aws
