// `recovery:` — per-DAG rules for check_recovery_rules (Verify stage).
//
//   recovery:
//     - dag: "orders_*"
//       quiet_minutes: 60
//       critical_tasks: [load_orders, publish_orders]
//       escalate_after_failures: 2
#include "config/parser.h"

namespace dm::config {

std::optional<Error> parse_recovery_section(const Parser& p, const YAML::Node& n,
                                            std::vector<RecoveryRule>& out) {
  if (!n.IsSequence()) return p.err("recovery", "must be a list of rules (dag, quiet_minutes…)");
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string path = "recovery[" + std::to_string(i) + "]";
    const YAML::Node& r = n[i];
    if (!r.IsMap()) return p.err(path, "must be a mapping");
    if (auto e = p.check_keys(
            r, path, {"dag", "quiet_minutes", "critical_tasks", "escalate_after_failures"}))
      return e;
    RecoveryRule rule;
    if (!r["dag"]) return p.err(path + ".dag", "missing (a DAG id or glob such as \"orders_*\")");
    auto dag = p.str(r["dag"], path + ".dag");
    if (!dag) return dag.error();
    if (dag->empty()) return p.err(path + ".dag", "must not be empty");
    rule.dag = *dag;
    if (r["quiet_minutes"]) {
      auto v = p.integer(r["quiet_minutes"], path + ".quiet_minutes", 0, 7 * 24 * 60);
      if (!v) return v.error();
      rule.quiet_minutes = static_cast<int>(*v);
    }
    if (r["critical_tasks"]) {
      auto v = p.string_list(r["critical_tasks"], path + ".critical_tasks");
      if (!v) return v.error();
      rule.critical_tasks = std::move(*v);
    }
    if (r["escalate_after_failures"]) {
      auto v = p.integer(r["escalate_after_failures"], path + ".escalate_after_failures", 1, 100);
      if (!v) return v.error();
      rule.escalate_after_failures = static_cast<int>(*v);
    }
    out.push_back(std::move(rule));
  }
  return std::nullopt;
}

}  // namespace dm::config
