#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/parser.h"

namespace dm::config {

const char* kind_name(Kind k) noexcept { return k == Kind::mwaa ? "mwaa" : "airflow"; }
const char* tier_name(Tier t) noexcept { return t == Tier::prod ? "prod" : "dev"; }
const char* api_version_name(ApiVersion v) noexcept {
  switch (v) {
    case ApiVersion::v1:
      return "v1";
    case ApiVersion::v2:
      return "v2";
    default:
      return "auto";
  }
}

const Environment* Config::find(std::string_view name) const {
  for (const auto& e : environments)
    if (e.name == name) return &e;
  return nullptr;
}

Result<const Environment*> Config::pick(std::string_view name) const {
  std::string where = source.empty() ? "no config file" : source;
  if (!name.empty()) {
    if (auto* e = find(name)) return e;
    std::string known;
    for (const auto& e : environments) known += (known.empty() ? "" : ", ") + e.name;
    return make_error(Errc::not_found,
                      "environment \"" + std::string(name) + "\" is not in " + where +
                          (known.empty() ? " (it defines none)" : " (known: " + known + ")"));
  }
  if (!defaults.environment.empty()) return find(defaults.environment);
  if (environments.size() == 1) return &environments.front();
  if (environments.empty())
    return make_error(Errc::failed_precondition,
                      where + " defines no environments; see docs/config.md");
  return make_error(
      Errc::invalid_argument,
      "several environments in " + where + ": name one (--env NAME) or set defaults.environment");
}

RecoveryRule Config::recovery_for(std::string_view dag_id) const {
  for (const auto& r : recovery)
    if (glob_match(r.dag, dag_id)) return r;
  return RecoveryRule{};
}

Result<Config> parse_config(std::string_view yaml, std::string_view source) {
  return Parser(source).parse(yaml);
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::not_found, path + ": cannot open the config file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return make_error(Errc::invalid_argument, path + ": read error");
  return parse_config(ss.str(), path);
}

std::string default_config_path() {
  if (const char* p = std::getenv("DAGMEDIC_CONFIG"); p && *p) return p;
  std::string base;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    base = std::string(h) + "/.config";
  } else {
    base = ".config";
  }
  return base + "/dagmedic/config.yaml";
}

Result<Config> load_config(const std::string& explicit_path) {
  if (!explicit_path.empty()) return load_config_file(explicit_path);
  std::string path = default_config_path();
  bool from_env = std::getenv("DAGMEDIC_CONFIG") && *std::getenv("DAGMEDIC_CONFIG");
  auto r = load_config_file(path);
  if (!r.ok() && r.error().code == Errc::not_found && !from_env) return Config{};
  if (!r.ok() && r.error().code == Errc::not_found)
    return make_error(Errc::not_found,
                      path + " (from $DAGMEDIC_CONFIG): cannot open the config file");
  return r;
}

}  // namespace dm::config
