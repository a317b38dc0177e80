#include "guard/policy.h"

#include "common/glob.h"
#include "guard/canonical.h"

namespace dm::guard {
namespace {

// The path of the first key or string in `v` holding a control character (U+0000–U+001F other
// than tab, newline and carriage return, or U+007F); "" when none. Airflow refuses such a conf
// (HTTP 422) only after the approval is used up, and a NUL cannot be stored by PostgreSQL.
std::string control_character_at(const nlohmann::json& v, const std::string& path) {
  auto bad = [](const std::string& s) {
    for (unsigned char c : s)
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return true;
    return false;
  };
  if (v.is_string()) return bad(v.get_ref<const std::string&>()) ? path : std::string();
  if (v.is_object()) {
    for (const auto& [k, e] : v.items()) {
      if (bad(k)) return path + " key";
      if (auto w = control_character_at(e, path + "." + k); !w.empty()) return w;
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (auto w = control_character_at(v[i], path + "[" + std::to_string(i) + "]"); !w.empty())
        return w;
  }
  return {};
}

bool dag_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool run_char(char c) {
  return dag_char(c) || c == ':' || c == '+' || c == '@' || c == '~' || c == ' ';
}

// Shows an id in an error without letting it break the message (quotes, controls).
std::string shown(std::string_view id) {
  std::string out;
  for (char c : id.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f || c == '"' || c == '\\') ? '?' : c;
  }
  if (id.size() > 80) out += "…";
  return out;
}

// Adds additionalProperties:false at the top level when the schema lists properties and does
// not decide itself: unknown conf keys are refused by default.
nlohmann::json closed(nlohmann::json schema) {
  if (schema.is_object() && schema.contains("properties") &&
      !schema.contains("additionalProperties") && !schema.contains("patternProperties"))
    schema["additionalProperties"] = false;
  return schema;
}

}  // namespace

Status check_dag_id(std::string_view id) {
  if (id.empty() || id.size() > 250)
    return make_error(Errc::invalid_argument,
                      "policy: DAG id must be 1..250 characters (rule: id characters)");
  for (char c : id)
    if (!dag_char(c))
      return make_error(Errc::invalid_argument,
                        "policy: DAG id \"" + shown(id) +
                            "\" has a character outside [A-Za-z0-9_.-] (rule: id characters)");
  if (id.find("..") != std::string_view::npos || id.front() == '.')
    return make_error(Errc::invalid_argument, "policy: DAG id \"" + shown(id) +
                                                  "\" looks like a path (rule: id characters)");
  return Status::Ok();
}

Status check_run_id(std::string_view id) {
  if (id.empty() || id.size() > 250)
    return make_error(Errc::invalid_argument,
                      "policy: run id must be 1..250 characters (rule: id characters)");
  for (char c : id)
    if (!run_char(c))
      return make_error(Errc::invalid_argument,
                        "policy: run id \"" + shown(id) +
                            "\" has a character outside [A-Za-z0-9_:+.@~ -] (rule: id characters)");
  if (id.find("..") != std::string_view::npos || id.front() == '.' || id.front() == ' ')
    return make_error(Errc::invalid_argument, "policy: run id \"" + shown(id) +
                                                  "\" looks like a path (rule: id characters)");
  return Status::Ok();
}

Result<std::shared_ptr<const Policy>> Policy::make(PolicyRules rules,
                                                   const SchemaCompiler& compile) {
  std::shared_ptr<Policy> p(new Policy());
  for (auto& [name, t] : rules.tiers) {
    if (name != "dev" && name != "prod")
      return make_error(Errc::invalid_argument, "policy.tiers: unknown tier \"" + name + "\"");
    if (t.required_approvals < 1) t.required_approvals = 1;
    if (name == "prod") t.allow_without_approval = false;
  }
  for (std::size_t i = 0; i < rules.dags.size(); ++i) {
    auto& d = rules.dags[i];
    if (d.conf_schema.is_null()) {
      p->checkers_.emplace_back();
      continue;
    }
    d.conf_schema = closed(std::move(d.conf_schema));
    auto c = compile(d.conf_schema);
    if (!c)
      return make_error(Errc::invalid_argument,
                        "policy.dags[" + std::to_string(i) + "].conf_schema: " + c.error().message);
    p->checkers_.push_back(std::move(*c));
  }
  if (rules.max_ttl.count() < 60) rules.max_ttl = std::chrono::seconds(60);
  if (rules.default_ttl > rules.max_ttl) rules.default_ttl = rules.max_ttl;
  p->rules_ = std::move(rules);
  return std::shared_ptr<const Policy>(std::move(p));
}

Result<TierRule> Policy::tier(std::string_view name) const {
  auto it = rules_.tiers.find(name);
  if (it == rules_.tiers.end())
    return make_error(Errc::invalid_argument,
                      "policy: unknown environment tier \"" + std::string(name) + "\"");
  return it->second;
}

ApprovalPolicy Policy::approval_policy() const {
  ApprovalPolicy a;
  for (const auto& [name, t] : rules_.tiers) a.required_by_tier[name] = t.required_approvals;
  a.max_ttl = rules_.max_ttl;
  return a;
}

Status Policy::check(const WriteRequest& w) const {
  if (w.action != "trigger_dag" && w.action != "clear_failed_tasks")
    return make_error(Errc::invalid_argument, "policy: unknown action \"" + shown(w.action) +
                                                  "\" (allowed: trigger_dag, clear_failed_tasks)");
  auto t = tier(w.tier);
  if (!t) return t.error();
  if (auto st = check_dag_id(w.dag_id); !st) return st;
  if (w.action == "clear_failed_tasks") {
    if (auto st = check_run_id(w.run_id); !st) return st;
  } else if (!w.run_id.empty()) {
    return make_error(Errc::invalid_argument, "policy: trigger_dag takes no run id");
  }

  // Allowlist.
  if (auto it = rules_.allow_dags.find(w.env); it != rules_.allow_dags.end()) {
    bool ok = false;
    for (const auto& g : it->second) ok = ok || glob_match(g, w.dag_id);
    if (!ok)
      return make_error(Errc::permission_denied, "policy: DAG \"" + w.dag_id +
                                                     "\" is not on the write allowlist of "
                                                     "environment \"" +
                                                     w.env + "\" (rule policy.allow_dags." + w.env +
                                                     ")");
  } else if (w.tier != "dev") {
    return make_error(Errc::permission_denied,
                      "policy: environment \"" + w.env + "\" (tier " + w.tier +
                          ") allows no writes until its DAGs are listed (rule policy.allow_dags." +
                          w.env + "; prod tiers allow nothing by default)");
  }

  // Conf.
  if (!w.conf.is_object())
    return make_error(Errc::invalid_argument,
                      "policy: conf must be a JSON object (rule: conf type)");
  if (auto where = control_character_at(w.conf, "conf"); !where.empty())
    return make_error(Errc::invalid_argument,
                      "policy: " + where +
                          " holds a NUL or another control character (rule: conf text is "
                          "printable; tab, newline and carriage return allowed)");
  auto canon = canonical_json(w.conf);
  if (!canon) return make_error(Errc::invalid_argument, "policy: conf: " + canon.error().message);
  const DagRule* rule = nullptr;
  std::size_t idx = 0;
  for (std::size_t i = 0; i < rules_.dags.size(); ++i) {
    if (glob_match(rules_.dags[i].dag, w.dag_id)) {
      rule = &rules_.dags[i];
      idx = i;
      break;
    }
  }
  std::size_t max = rule && rule->conf_max_bytes ? rule->conf_max_bytes : rules_.conf_max_bytes;
  if (canon->size() > max)
    return make_error(Errc::too_large,
                      "policy: conf is " + std::to_string(canon->size()) + " bytes, over the " +
                          std::to_string(max) + "-byte limit (rule " +
                          (rule && rule->conf_max_bytes
                               ? "policy.dags[" + std::to_string(idx) + "].conf_max_bytes"
                               : std::string("policy.conf_max_bytes")) +
                          ")");
  if (rule && checkers_[idx]) {
    if (auto bad = checkers_[idx](w.conf))
      return make_error(Errc::invalid_argument,
                        "policy: conf does not match the schema of rule "
                        "policy.dags[" +
                            std::to_string(idx) + "] (dag \"" + rule->dag + "\"): " + *bad);
  } else if (!w.conf.empty()) {
    return make_error(Errc::invalid_argument,
                      "policy: DAG \"" + w.dag_id +
                          "\" has no conf schema, so its conf must be {} (rule: no unknown conf "
                          "keys; add policy.dags[].conf_schema for it)");
  }
  return Status::Ok();
}

}  // namespace dm::guard
