#include "logs/rule_sets.h"

namespace dm::logs {

Result<RuleSets> load_rule_sets(const std::vector<std::string>& redaction_files,
                                const std::vector<std::string>& category_files) {
  auto redactor =
      redaction_files.empty() ? Redactor::builtin() : Redactor::builtin_plus_files(redaction_files);
  if (!redactor) return redactor.error();
  auto categorizer = category_files.empty() ? Categorizer::builtin()
                                            : Categorizer::builtin_plus_files(category_files);
  if (!categorizer) return categorizer.error();
  return RuleSets{std::move(*redactor), std::move(*categorizer)};
}

}  // namespace dm::logs
