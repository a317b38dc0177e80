// `watch:` — the loop of `dagmedic watch` (docs/watch.md, docs/config.md).
#include "config/parser.h"

namespace dm::config {

bool WatchSettings::enabled_for(std::string_view env) const {
  auto it = environments.find(env);
  return it == environments.end() || it->second.enabled;
}

std::optional<Error> parse_watch_section(const Parser& p, const YAML::Node& n, WatchSettings& out) {
  if (n.IsNull()) return std::nullopt;  // `watch:` with nothing under it: the defaults
  if (!n.IsMap())
    return p.err("watch",
                 "must be a mapping (interval_seconds, overlap_seconds, initial_lookback_minutes, "
                 "max_runs_per_cycle, environments)");
  if (auto e = p.check_keys(n, "watch",
                            {"interval_seconds", "overlap_seconds", "initial_lookback_minutes",
                             "max_runs_per_cycle", "environments"}))
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
