// Rule files compiled into the binary, so dagmedic works with no files installed.
// At build time src/logs/CMakeLists.txt embeds every rules/*.yaml of the source tree.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace dm::logs {

// The embedded copy of rules/<file_name> (e.g. "redaction.yaml", "categories.yaml"), or nullopt
// if no such file was embedded. The view points at static storage (valid for the whole program).
// Thread-safe (pure lookup).
std::optional<std::string_view> embedded_rules(std::string_view file_name);

// Names of every embedded rule file, sorted. Thread-safe.
std::vector<std::string_view> embedded_rule_files();

}  // namespace dm::logs
