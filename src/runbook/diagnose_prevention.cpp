#include "runbook/diagnose_prevention.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "common/yaml_load.h"
#include "logs/rules_embed.h"

namespace dm::runbook {

struct PreventionRules::Impl {
  std::map<std::string, PreventionStep> actions;
  std::map<std::string, std::vector<std::string>, std::less<>> categories;
  std::vector<std::string> always;
};

namespace {

Error bad(const std::string& what) {
  return make_error(Errc::invalid_argument, "prevention rules: " + what);
}

bool good_kind(const std::string& k) {
  if (k.empty() || k.size() > 64) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A list of known kinds. yaml-cpp throws; the caller catches.
Result<std::vector<std::string>> kinds_of(const YAML::Node& n, const PreventionRules::Impl& impl,
                                          const std::string& where) {
  if (!n.IsSequence()) return bad(where + " must be a list of action kinds");
  std::vector<std::string> out;
  for (const auto& k : n) {
    auto s = k.as<std::string>();
    if (!impl.actions.count(s)) return bad(where + " names unknown action \"" + s + "\"");
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::shared_ptr<const PreventionRules>> parse(std::string_view text) {
  auto impl = std::make_shared<PreventionRules::Impl>();
  YAML::Node root = load_one_yaml_document(std::string(text));
  if (!root.IsMap()) return bad("the file must be a mapping");
  if (!root["version"] || root["version"].as<int>() != 1) return bad("version must be 1");
  const YAML::Node actions = root["actions"];
  if (!actions || !actions.IsMap()) return bad("`actions` must be a mapping");
  for (const auto& a : actions) {
    auto kind = a.first.as<std::string>();
    if (!good_kind(kind)) return bad("action kind \"" + kind + "\" must match [a-z0-9_]+");
    const YAML::Node& v = a.second;
    if (!v.IsMap() || !v["title"] || !v["detail"])
      return bad("action \"" + kind + "\" needs a title and a detail");
    auto title = v["title"].as<std::string>();
    auto detail = v["detail"].as<std::string>();
    if (title.empty() || detail.empty())
      return bad("action \"" + kind + "\" has an empty title or detail");
    impl->actions[kind] = PreventionStep{kind, std::move(title), std::move(detail)};
  }
  const YAML::Node cats = root["categories"];
  if (!cats || !cats.IsMap()) return bad("`categories` must be a mapping");
  for (const auto& c : cats) {
    auto name = c.first.as<std::string>();
    auto kinds = kinds_of(c.second, *impl, "category \"" + name + "\"");
    if (!kinds) return kinds.error();
    impl->categories[name] = std::move(*kinds);
  }
  if (const YAML::Node always = root["always"]) {
    auto kinds = kinds_of(always, *impl, "`always`");
    if (!kinds) return kinds.error();
    impl->always = std::move(*kinds);
  }
  return std::make_shared<const PreventionRules>(std::move(impl));
}

}  // namespace

Result<std::shared_ptr<const PreventionRules>> PreventionRules::from_yaml(std::string_view yaml) {
  try {
    return parse(yaml);
  } catch (const std::exception& e) {
    return bad(e.what());
  }
}

Result<std::shared_ptr<const PreventionRules>> PreventionRules::builtin() {
  static std::once_flag once;
  static std::shared_ptr<const PreventionRules> rules;
  static Error error;
  std::call_once(once, [] {
    auto text = logs::embedded_rules("prevention.yaml");
    if (!text) {
      error = make_error(Errc::internal, "prevention.yaml is not embedded (build bug)");
      return;
    }
    auto r = from_yaml(*text);
    if (!r) {
      error = make_error(Errc::internal, "embedded " + r.error().message);
      return;
    }
    rules = *r;
  });
  if (!rules) return error;
  return rules;
}

std::vector<PreventionStep> PreventionRules::for_category(std::string_view category) const {
  std::vector<std::string> kinds;
  auto it = impl_->categories.find(category);
  if (it == impl_->categories.end()) it = impl_->categories.find(std::string_view("unknown"));
  if (it != impl_->categories.end()) kinds = it->second;
  for (const auto& k : impl_->always)
    if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
  std::vector<PreventionStep> out;
  std::vector<std::string> seen;
  for (const auto& k : kinds) {
    if (std::find(seen.begin(), seen.end(), k) != seen.end()) continue;
    seen.push_back(k);
    out.push_back(impl_->actions.at(k));
  }
  return out;
}

bool PreventionRules::knows(std::string_view category) const {
  return impl_->categories.find(category) != impl_->categories.end();
}

std::vector<std::string> PreventionRules::categories() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : impl_->categories) out.push_back(k);
  return out;
}

}  // namespace dm::runbook
