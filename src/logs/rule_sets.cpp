#include "logs/rule_sets.h"

namespace dm::logs {

Result<std::shared_ptr<const Redactor>> load_redactor(const std::vector<std::string>& files) {
  return files.empty() ? Redactor::builtin() : Redactor::builtin_plus_files(files);
}

Result<std::shared_ptr<const Categorizer>> load_categorizer(const std::vector<std::string>& files) {
  return files.empty() ? Categorizer::builtin() : Categorizer::builtin_plus_files(files);
}

Result<RuleSets> load_rule_sets(const std::vector<std::string>& redaction_files,
                                const std::vector<std::string>& category_files) {
  auto redactor = load_redactor(redaction_files);
  if (!redactor) return redactor.error();
  auto categorizer = load_categorizer(category_files);
  if (!categorizer) return categorizer.error();
  return RuleSets{std::move(*redactor), std::move(*categorizer)};
}

}  // namespace dm::logs
