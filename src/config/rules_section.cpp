// `rules:` — the user's redaction and category rule files (docs/config.md "Rules").
#include <filesystem>

#include "config/parser.h"

namespace dm::config {

std::optional<Error> parse_rules_section(const Parser& p, const YAML::Node& n, RulesSettings& out) {
  if (!n.IsMap()) return p.err("rules", "must be a mapping (redaction, categories)");
  if (auto e = p.check_keys(n, "rules", {"redaction", "categories"})) return e;
  const std::filesystem::path base = std::filesystem::path(p.source()).parent_path();
  auto files = [&](const char* key, std::vector<std::string>& into) -> std::optional<Error> {
    if (!n[key]) return std::nullopt;
    const std::string path = std::string("rules.") + key;
    auto v = p.string_list(n[key], path);
    if (!v) return v.error();
    for (std::size_t i = 0; i < v->size(); ++i) {
      std::string f = (*v)[i];
      const std::string at = path + "[" + std::to_string(i) + "]";
      if (f.empty()) return p.err(at, "must name a file");
      if (f.rfind("~/", 0) == 0) {
        const char* home = std::getenv("HOME");
        if (!home || !*home) return p.err(at, "cannot expand ~: $HOME is not set");
        f = std::string(home) + f.substr(1);
      } else if (f.front() != '/') {
        f = (base / f).lexically_normal().string();
      }
      into.push_back(std::move(f));
    }
    return std::nullopt;
  };
  if (auto e = files("redaction", out.redaction)) return e;
  return files("categories", out.categories);
}

}  // namespace dm::config
