// The rules a process runs with: the built-in set (compiled in, rules_embed.h) extended by the
// user's files (config `rules:`, `dagmedic logs --rules …`). Loaded once at start; a bad file
// stops the start.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "logs/category.h"
#include "logs/redact.h"

namespace dm::logs {

struct RuleSets {
  std::shared_ptr<const Redactor> redactor;        // never null from load_rule_sets
  std::shared_ptr<const Categorizer> categorizer;  // never null from load_rule_sets
};

// Built-in rules plus `redaction_files` (after the built-in rules, in order) and
// `category_files` (checked before the built-in rules; a later file first). No files: the shared
// built-in sets. Errors: invalid_argument naming the file and line ("redaction rules
// f.yaml:7: rule 'x': missing 'pattern'", "f.yaml:3: rule y: unknown category 'z'"), not_found
// for a file that cannot be read, internal for a broken built-in set (a build bug).
Result<RuleSets> load_rule_sets(const std::vector<std::string>& redaction_files,
                                const std::vector<std::string>& category_files);

// Each set alone, loaded and checked as load_rule_sets does. For a caller that uses one set: the
// other's built-in rules need not be compiled (vectorscan compiles take most of a CLI start).
Result<std::shared_ptr<const Redactor>> load_redactor(const std::vector<std::string>& files);
Result<std::shared_ptr<const Categorizer>> load_categorizer(const std::vector<std::string>& files);

}  // namespace dm::logs
