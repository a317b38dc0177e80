// `store:` — where dagmedic keeps incidents, signature history, approvals and the audit chain.
#include "config/parser.h"

namespace dm::config {

std::optional<Error> parse_store_section(const Parser& p, const YAML::Node& n, StoreSettings& out) {
  if (!n.IsMap()) return p.err("store", "must be a mapping (backend, path, dsn_env)");
  if (auto e = p.check_keys(n, "store", {"backend", "path", "dsn_env"})) return e;
  std::string backend = "sqlite";
  if (n["backend"]) {
    auto v = p.str(n["backend"], "store.backend");
    if (!v) return v.error();
    backend = *v;
  }
  if (backend == "sqlite") {
    out.backend = StoreSettings::Backend::sqlite;
  } else if (backend == "postgres") {
    out.backend = StoreSettings::Backend::postgres;
  } else {
    return p.err("store.backend", "must be sqlite or postgres, got \"" + backend + "\"");
  }
  if (n["path"]) {
    auto v = p.str(n["path"], "store.path");
    if (!v) return v.error();
    out.path = *v;
    if (out.path.rfind("~/", 0) == 0) {
      const char* home = std::getenv("HOME");
      if (!home || !*home) return p.err("store.path", "cannot expand ~: $HOME is not set");
      out.path = std::string(home) + out.path.substr(1);
    }
  }
  if (n["dsn_env"]) {
    auto v = p.str(n["dsn_env"], "store.dsn_env");
    if (!v) return v.error();
    out.dsn_env = *v;
  }
  if (out.backend == StoreSettings::Backend::postgres && out.dsn_env.empty())
    return p.err("store.dsn_env",
                 "missing: name the environment variable that holds the PostgreSQL connection "
                 "string (e.g. DAGMEDIC_PG_DSN)");
  if (out.backend == StoreSettings::Backend::sqlite && !out.dsn_env.empty())
    return p.err("store.dsn_env", "only used with backend: postgres");
  return std::nullopt;
}

}  // namespace dm::config
