// `watch:` — the loop of `dagmedic watch` (docs/watch.md, docs/config.md).
#include <algorithm>
#include <tuple>

#include "common/glob.h"
#include "config/parser.h"

namespace dm::config {

const FreshnessRule* FreshnessSettings::rule_for(std::string_view dag_id,
                                                 const std::vector<std::string>& tags) const {
  for (const auto& r : rules) {
    if (!glob_match(r.dag, dag_id)) continue;
    if (!r.tag.empty() && std::find(tags.begin(), tags.end(), r.tag) == tags.end()) continue;
    return &r;
  }
  return nullptr;
}

namespace {

//   freshness:
//     interval_seconds: 300
//     rules:
//       - {dag: "etl_*", grace_minutes: 30}
//       - {tag: "tier=1", grace_minutes: 10, include_paused: false}
std::optional<Error> parse_freshness(const Parser& p, const YAML::Node& n, FreshnessSettings& out) {
  const std::string path = "watch.freshness";
  if (!n.IsMap()) return p.err(path, "must be a mapping (interval_seconds, rules)");
  if (auto e = p.check_keys(n, path, {"interval_seconds", "rules"})) return e;
  if (n["interval_seconds"]) {
    auto v = p.integer(n["interval_seconds"], path + ".interval_seconds", 1, 86400);
    if (!v) return v.error();
    out.interval_seconds = static_cast<int>(*v);
  }
  const YAML::Node& rules = n["rules"];
  if (!rules) return std::nullopt;
  if (!rules.IsSequence())
    return p.err(path + ".rules", "must be a list of rules (dag, tag, grace_minutes…)");
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const std::string rp = path + ".rules[" + std::to_string(i) + "]";
    const YAML::Node& r = rules[i];
    if (!r.IsMap()) return p.err(rp, "must be a mapping");
    if (auto e = p.check_keys(r, rp, {"dag", "tag", "grace_minutes", "include_paused"})) return e;
    if (!r["dag"] && !r["tag"]) return p.err(rp, "needs a dag (id or glob) or a tag");
    FreshnessRule rule;
    if (r["dag"]) {
      auto v = p.str(r["dag"], rp + ".dag");
      if (!v) return v.error();
      if (v->empty()) return p.err(rp + ".dag", "must not be empty");
      rule.dag = *v;
    }
    if (r["tag"]) {
      auto v = p.str(r["tag"], rp + ".tag");
      if (!v) return v.error();
      if (v->empty()) return p.err(rp + ".tag", "must not be empty");
      rule.tag = *v;
    }
    if (r["grace_minutes"]) {
      auto v = p.integer(r["grace_minutes"], rp + ".grace_minutes", 0, 7 * 24 * 60);
      if (!v) return v.error();
      rule.grace_minutes = static_cast<int>(*v);
    }
    if (r["include_paused"]) {
      auto v = p.boolean(r["include_paused"], rp + ".include_paused");
      if (!v) return v.error();
      rule.include_paused = *v;
    }
    out.rules.push_back(std::move(rule));
  }
  return std::nullopt;
}

//   stuck: {enabled: true, factor: 3, min_seconds: 600, max_seconds: 43200, queued_seconds: 1800,
//           history_days: 7}
std::optional<Error> parse_stuck(const Parser& p, const YAML::Node& n, StuckSettings& out) {
  const std::string path = "watch.stuck";
  if (!n.IsMap())
    return p.err(path,
                 "must be a mapping (enabled, factor, min_seconds, max_seconds, "
                 "queued_seconds, history_days)");
  if (auto e = p.check_keys(
          n, path,
          {"enabled", "factor", "min_seconds", "max_seconds", "queued_seconds", "history_days"}))
    return e;
  if (n["enabled"]) {
    auto b = p.boolean(n["enabled"], path + ".enabled");
    if (!b) return b.error();
    out.enabled = *b;
  }
  const long long week = 7LL * 24 * 3600;
  for (auto [key, lo, hi, field] : {std::tuple{"factor", 1LL, 100LL, &out.factor},
                                    std::tuple{"min_seconds", 0LL, week, &out.min_seconds},
                                    std::tuple{"max_seconds", 0LL, week, &out.max_seconds},
                                    std::tuple{"queued_seconds", 0LL, week, &out.queued_seconds},
                                    std::tuple{"history_days", 1LL, 90LL, &out.history_days}}) {
    if (!n[key]) continue;
    auto v = p.integer(n[key], path + "." + key, lo, hi);
    if (!v) return v.error();
    *field = static_cast<int>(*v);
  }
  return std::nullopt;
}

//   lease: {enabled: true, ttl_seconds: 30, holder: node-a}
std::optional<Error> parse_lease(const Parser& p, const YAML::Node& l, WatchLeaseSettings& out) {
  if (!l.IsMap()) return p.err("watch.lease", "must be a mapping (enabled, ttl_seconds, holder)");
  if (auto e = p.check_keys(l, "watch.lease", {"enabled", "ttl_seconds", "holder"})) return e;
  if (l["enabled"]) {
    auto b = p.boolean(l["enabled"], "watch.lease.enabled");
    if (!b) return b.error();
    out.enabled = *b;
  }
  if (l["ttl_seconds"]) {
    auto v = p.integer(l["ttl_seconds"], "watch.lease.ttl_seconds", 5, 3600);
    if (!v) return v.error();
    out.ttl_seconds = static_cast<int>(*v);
  }
  if (l["holder"]) {
    auto v = p.str(l["holder"], "watch.lease.holder");
    if (!v) return v.error();
    if (v->empty() || v->size() > 200)
      return p.err("watch.lease.holder",
                   "must be 1 to 200 characters (or left out: <hostname>:<pid>)");
    out.holder = *v;
  }
  return std::nullopt;
}

}  // namespace

bool WatchSettings::enabled_for(std::string_view env) const {
  auto it = environments.find(env);
  return it == environments.end() || it->second.enabled;
}

std::optional<Error> parse_watch_section(const Parser& p, const YAML::Node& n, WatchSettings& out) {
  if (n.IsNull()) return std::nullopt;  // `watch:` with nothing under it: the defaults
  if (!n.IsMap())
    return p.err(
        "watch",
        "must be a mapping (interval_seconds, overlap_seconds, initial_lookback_minutes, "
        "max_runs_per_cycle, recovery_checks_per_cycle, import_errors, failed_runs_in_a_row, "
        "freshness, stuck, lease, environments)");
  if (auto e =
          p.check_keys(n, "watch",
                       {"interval_seconds", "overlap_seconds", "initial_lookback_minutes",
                        "max_runs_per_cycle", "recovery_checks_per_cycle", "import_errors",
                        "failed_runs_in_a_row", "freshness", "stuck", "lease", "environments"}))
    return e;
  auto set_int = [&](const char* key, long long lo, long long hi,
                     int& field) -> std::optional<Error> {
    if (!n[key]) return std::nullopt;
    auto v = p.integer(n[key], std::string("watch.") + key, lo, hi);
    if (!v) return v.error();
    field = static_cast<int>(*v);
    return std::nullopt;
  };
  if (auto e = set_int("interval_seconds", 1, 86400, out.interval_seconds)) return e;
  if (auto e = set_int("overlap_seconds", 0, 86400, out.overlap_seconds)) return e;
  if (auto e =
          set_int("initial_lookback_minutes", 1, 60LL * 24 * 366, out.initial_lookback_minutes))
    return e;
  if (auto e = set_int("max_runs_per_cycle", 1, 10000, out.max_runs_per_cycle)) return e;
  if (auto e = set_int("recovery_checks_per_cycle", 0, 10000, out.recovery_checks_per_cycle))
    return e;
  if (auto e = set_int("failed_runs_in_a_row", 0, 1000, out.failed_runs_in_a_row)) return e;
  if (out.failed_runs_in_a_row == 1)
    return p.err("watch.failed_runs_in_a_row",
                 "must be 0 (off) or at least 2 (one failed run is the run's own incident)");
  if (n["freshness"])
    if (auto e = parse_freshness(p, n["freshness"], out.freshness)) return e;
  if (n["stuck"])
    if (auto e = parse_stuck(p, n["stuck"], out.stuck)) return e;
  if (n["import_errors"]) {
    auto b = p.boolean(n["import_errors"], "watch.import_errors");
    if (!b) return b.error();
    out.import_errors = *b;
  }
  if (n["lease"])
    if (auto e = parse_lease(p, n["lease"], out.lease)) return e;
  if (const auto& envs = n["environments"]; envs) {
    if (!envs.IsMap())
      return p.err("watch.environments",
                   "must be a mapping of environment name to {enabled: true|false}");
    for (const auto& kv : envs) {
      const std::string name = kv.first.as<std::string>();
      const std::string path = "watch.environments." + name;
      WatchEnvironmentSettings w;
      const YAML::Node& v = kv.second;
      if (!v.IsMap()) return p.err(path, "must be a mapping ({enabled: true|false})");
      if (auto e = p.check_keys(v, path, {"enabled"})) return e;
      if (v["enabled"]) {
        auto b = p.boolean(v["enabled"], path + ".enabled");
        if (!b) return b.error();
        w.enabled = *b;
      }
      out.environments[name] = w;
    }
  }
  return std::nullopt;
}

}  // namespace dm::config
