// Internal to src/config: the strict YAML parser and the section parsers that live in their own
// files (one file per config section). Not part of the public API (config.h is).
// Functions never throw to callers of parse_config(); section parsers may let YAML::Exception
// escape, parse() catches it and reports the structure error.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/yaml_load.h"
#include "config/config.h"

namespace dm::config {

class Parser;

// Section parsers (each in <section>_section.cpp). They fill `cfg` from the node under their
// top-level key and return the first error.
std::optional<Error> parse_store_section(const Parser& p, const YAML::Node& n, StoreSettings& out);
std::optional<Error> parse_recovery_section(const Parser& p, const YAML::Node& n,
                                            std::vector<RecoveryRule>& out);
// policy_section.cpp: `policy:`, `identity:` and `audit:`.
std::optional<Error> parse_policy_section(const Parser& p, const YAML::Node& n,
                                          PolicySettings& out);
std::optional<Error> parse_identity_section(const Parser& p, const YAML::Node& n,
                                            IdentitySettings& out);
// "~/x" -> "$HOME/x"; any other path as it is.
std::string expand_home(const std::string& path);
std::optional<Error> parse_audit_section(const Parser& p, const YAML::Node& n, AuditSettings& out);
// auth_section.cpp: `auth:` (environment names are checked against environments: by parse()).
std::optional<Error> parse_auth_section(const Parser& p, const YAML::Node& n, AuthSettings& out);
// rules_section.cpp: `rules:`.
std::optional<Error> parse_rules_section(const Parser& p, const YAML::Node& n, RulesSettings& out);

// watch_section.cpp: `watch:` (environment names are checked against environments: by parse()).
std::optional<Error> parse_watch_section(const Parser& p, const YAML::Node& n, WatchSettings& out);
// notify_section.cpp: `notify:` (targets' kinds and URLs checked here).
std::optional<Error> parse_notify_section(const Parser& p, const YAML::Node& n,
                                          NotifySettings& out);

namespace detail {

// Keys that would hold a secret in clear: refused with a pointer to the reference form.
inline const std::set<std::string> kLiteralSecretKeys = {
    "password", "token", "secret", "api_key", "access_token", "secret_access_key", "passwd"};

}  // namespace detail

class Parser {
 public:
  explicit Parser(std::string_view source) : source_(source) {}

  // The file being parsed, as named in errors ("" for none).
  const std::string& source() const { return source_; }

  Error err(const std::string& key, const std::string& problem) const {
    return make_error(Errc::invalid_argument,
                      source_ + ": " + (key.empty() ? std::string() : key + ": ") + problem);
  }

  // Rejects keys outside `allowed`, with a special message for literal secrets.
  std::optional<Error> check_keys(const YAML::Node& map, const std::string& path,
                                  const std::set<std::string>& allowed) const {
    for (const auto& kv : map) {
      std::string k = kv.first.as<std::string>();
      std::string full = path.empty() ? k : path + "." + k;
      if (allowed.count(k)) continue;
      if (detail::kLiteralSecretKeys.count(k))
        return err(
            full,
            "literal secrets are not allowed in the config file; reference them "
            "instead with " +
                std::string(k == "token" || k == "access_token" ? "token_env or token_file"
                                                                : "password_env or password_file"));
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return err(full, "unknown key (allowed: " + list + ")");
    }
    return std::nullopt;
  }

  Result<std::string> str(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) return err(key, "must be a string");
    return n.as<std::string>();
  }

  Result<long long> integer(const YAML::Node& n, const std::string& key, long long lo,
                            long long hi) const {
    if (!n.IsScalar()) return err(key, "must be a number");
    long long v = 0;
    try {
      v = n.as<long long>();
    } catch (const YAML::Exception&) {
      return err(key, "must be a whole number, got \"" + n.as<std::string>() + "\"");
    }
    if (v < lo || v > hi)
      return err(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                          ", got " + std::to_string(v));
    return v;
  }

  Result<double> seconds(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) return err(key, "must be a number of seconds");
    double v = 0;
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      return err(key, "must be a number of seconds, got \"" + n.as<std::string>() + "\"");
    }
    if (!(v > 0 && v <= 3600)) return err(key, "must be between 0 and 3600 seconds");
    return v;
  }

  // A YAML sequence of strings (a single string is accepted as a one-element list).
  Result<std::vector<std::string>> string_list(const YAML::Node& n, const std::string& key) const {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      out.push_back(n.as<std::string>());
      return out;
    }
    if (!n.IsSequence()) return err(key, "must be a list of strings");
    for (std::size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) return err(key + "[" + std::to_string(i) + "]", "must be a string");
      out.push_back(n[i].as<std::string>());
    }
    return out;
  }

  Result<bool> boolean(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) return err(key, "must be true or false");
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      return err(key, "must be true or false, got \"" + n.as<std::string>() + "\"");
    }
  }

  std::optional<Error> timeouts(const YAML::Node& n, const std::string& path, Timeouts& out) const {
    if (!n.IsMap()) return err(path, "must be a mapping with connect_seconds / request_seconds");
    if (auto e = check_keys(n, path, {"connect_seconds", "request_seconds"})) return e;
    if (n["connect_seconds"]) {
      auto v = seconds(n["connect_seconds"], path + ".connect_seconds");
      if (!v) return v.error();
      out.connect = std::chrono::milliseconds(static_cast<long long>(*v * 1000));
    }
    if (n["request_seconds"]) {
      auto v = seconds(n["request_seconds"], path + ".request_seconds");
      if (!v) return v.error();
      out.request = std::chrono::milliseconds(static_cast<long long>(*v * 1000));
    }
    return std::nullopt;
  }

  std::optional<Error> defaults(const YAML::Node& n, Defaults& d) const {
    if (!n.IsMap()) return err("defaults", "must be a mapping");
    if (auto e = check_keys(n, "defaults", {"environment", "lookback_hours", "timeouts"})) return e;
    if (n["environment"]) {
      auto v = str(n["environment"], "defaults.environment");
      if (!v) return v.error();
      d.environment = *v;
    }
    if (n["lookback_hours"]) {
      auto v = integer(n["lookback_hours"], "defaults.lookback_hours", 1, 24 * 366);
      if (!v) return v.error();
      d.lookback_hours = static_cast<int>(*v);
    }
    if (n["timeouts"]) {
      if (auto e = timeouts(n["timeouts"], "defaults.timeouts", d.timeouts)) return e;
    }
    return std::nullopt;
  }

  std::optional<Error> caps(const YAML::Node& n, Caps& c) const {
    if (!n.IsMap()) return err("caps", "must be a mapping");
    if (auto e = check_keys(
            n, "caps",
            {"window_minutes_max", "tail_lines_default", "tail_lines_max", "output_bytes_max",
             "page_size", "lookback_hours_max", "log_read_bytes_max"}))
      return e;
    auto set_int = [&](const char* key, long long lo, long long hi,
                       auto& field) -> std::optional<Error> {
      if (!n[key]) return std::nullopt;
      auto v = integer(n[key], std::string("caps.") + key, lo, hi);
      if (!v) return v.error();
      field = static_cast<std::remove_reference_t<decltype(field)>>(*v);
      return std::nullopt;
    };
    if (auto e = set_int("window_minutes_max", 1, 60LL * 24 * 366, c.window_minutes_max)) return e;
    if (auto e = set_int("tail_lines_default", 1, 1000000, c.tail_lines_default)) return e;
    if (auto e = set_int("tail_lines_max", 1, 1000000, c.tail_lines_max)) return e;
    if (auto e = set_int("output_bytes_max", 1024, 1LL << 30, c.output_bytes_max)) return e;
    if (auto e = set_int("page_size", 1, 1000, c.page_size)) return e;
    if (auto e = set_int("lookback_hours_max", 1, 24 * 366, c.lookback_hours_max)) return e;
    if (auto e = set_int("log_read_bytes_max", 1LL << 20, 1LL << 40, c.log_read_bytes_max))
      return e;
    if (c.tail_lines_default > c.tail_lines_max)
      return err("caps.tail_lines_default",
                 "is larger than caps.tail_lines_max (" + std::to_string(c.tail_lines_max) + ")");
    return std::nullopt;
  }

  std::optional<Error> environment(const std::string& name, const YAML::Node& n, const Defaults& d,
                                   Environment& env) const {
    std::string p = "environments." + name;
    if (!n.IsMap()) return err(p, "must be a mapping");
    if (auto e = check_keys(
            n, p,
            {"kind", "tier", "url", "api_version", "username_env", "password_env", "password_file",
             "token_env", "token_file", "ca_file", "verify_tls", "timeouts", "mwaa", "username"}))
      return e;
    env.name = name;
    env.timeouts = d.timeouts;
    auto get = [&](const char* key, std::string& out) -> std::optional<Error> {
      if (!n[key]) return std::nullopt;
      auto v = str(n[key], p + "." + key);
      if (!v) return v.error();
      out = *v;
      return std::nullopt;
    };
    std::string kind = "airflow", tier = "dev", api = "auto", username_literal;
    for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
             {"kind", &kind},
             {"tier", &tier},
             {"url", &env.url},
             {"api_version", &api},
             {"username_env", &env.username_env},
             {"password_env", &env.password_env},
             {"password_file", &env.password_file},
             {"token_env", &env.token_env},
             {"token_file", &env.token_file},
             {"ca_file", &env.ca_file},
             {"username", &username_literal}}) {
      if (auto e = get(key, *field)) return e;
    }
    if (n["username"])
      return err(p + ".username",
                 "put the user name in an environment variable and name it with "
                 "username_env (credentials are referenced, never written here)");
    if (!n["kind"]) return err(p + ".kind", "missing (airflow or mwaa)");
    if (kind == "airflow")
      env.kind = Kind::airflow;
    else if (kind == "mwaa")
      env.kind = Kind::mwaa;
    else
      return err(p + ".kind", "must be airflow or mwaa, got \"" + kind + "\"");
    if (tier == "dev")
      env.tier = Tier::dev;
    else if (tier == "prod")
      env.tier = Tier::prod;
    else
      return err(p + ".tier", "must be dev or prod, got \"" + tier + "\"");
    if (api == "auto")
      env.api_version = ApiVersion::auto_detect;
    else if (api == "v1")
      env.api_version = ApiVersion::v1;
    else if (api == "v2")
      env.api_version = ApiVersion::v2;
    else
      return err(p + ".api_version", "must be auto, v1 or v2, got \"" + api + "\"");
    if (n["verify_tls"]) {
      auto v = boolean(n["verify_tls"], p + ".verify_tls");
      if (!v) return v.error();
      env.verify_tls = *v;
    }
    if (n["timeouts"]) {
      if (auto e = timeouts(n["timeouts"], p + ".timeouts", env.timeouts)) return e;
    }
    if (n["mwaa"]) {
      const auto& m = n["mwaa"];
      if (!m.IsMap()) return err(p + ".mwaa", "must be a mapping with name and region");
      if (auto e = check_keys(m, p + ".mwaa",
                              {"name", "region", "endpoint", "logs_endpoint", "sts_endpoint",
                               "log_group", "web_server_url"}))
        return e;
      for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
               {"name", &env.mwaa.name},
               {"region", &env.mwaa.region},
               {"endpoint", &env.mwaa.endpoint},
               {"logs_endpoint", &env.mwaa.logs_endpoint},
               {"sts_endpoint", &env.mwaa.sts_endpoint},
               {"log_group", &env.mwaa.log_group},
               {"web_server_url", &env.mwaa.web_server_url}}) {
        if (!m[key]) continue;
        auto v = str(m[key], p + ".mwaa." + key);
        if (!v) return v.error();
        *field = *v;
      }
      for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
               {"endpoint", &env.mwaa.endpoint},
               {"logs_endpoint", &env.mwaa.logs_endpoint},
               {"sts_endpoint", &env.mwaa.sts_endpoint},
               {"web_server_url", &env.mwaa.web_server_url}}) {
        if (field->empty()) continue;
        if (field->rfind("http://", 0) != 0 && field->rfind("https://", 0) != 0)
          return err(p + ".mwaa." + key,
                     "must start with http:// or https://, got \"" + *field + "\"");
        while (!field->empty() && field->back() == '/') field->pop_back();
      }
    }
    if (env.kind == Kind::airflow) {
      if (env.url.empty()) return err(p + ".url", "missing (e.g. http://localhost:8080)");
      if (env.url.rfind("http://", 0) != 0 && env.url.rfind("https://", 0) != 0)
        return err(p + ".url", "must start with http:// or https://, got \"" + env.url + "\"");
      if (env.url.find('@') != std::string::npos)
        return err(p + ".url", "must not contain user:password@ (use username_env/password_env)");
      while (!env.url.empty() && env.url.back() == '/') env.url.pop_back();
    } else {
      if (env.mwaa.name.empty())
        return err(p + ".mwaa.name", "missing (the MWAA environment name)");
      if (env.mwaa.region.empty()) return err(p + ".mwaa.region", "missing (e.g. eu-west-1)");
    }
    for (std::string* path : {&env.password_file, &env.token_file, &env.ca_file}) {
      if (path->rfind("~/", 0) == 0) {
        const char* home = std::getenv("HOME");
        if (!home || !*home)
          return err(p, "cannot expand ~ in \"" + *path + "\": $HOME is not set");
        *path = std::string(home) + path->substr(1);
      }
    }
    if (!env.username_env.empty() && env.password_env.empty() && env.password_file.empty())
      return err(p, "username_env is set but neither password_env nor password_file");
    if (!env.password_env.empty() && !env.password_file.empty())
      return err(p, "set only one of password_env and password_file");
    if (!env.token_env.empty() && !env.token_file.empty())
      return err(p, "set only one of token_env and token_file");
    if ((!env.password_env.empty() || !env.password_file.empty()) && env.username_env.empty())
      return err(p + ".username_env", "missing (a password needs a user name)");
    return std::nullopt;
  }

  Result<Config> parse(std::string_view text) const {
    YAML::Node root;
    try {
      root = load_one_yaml_document(std::string(text));
    } catch (const YAML::ParserException& e) {
      return err("", "not valid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) +
                         ", column " + std::to_string(e.mark.column + 1) + ")");
    } catch (const YAML::Exception& e) {
      return err("", std::string("not valid YAML: ") + e.what());
    }
    Config cfg;
    cfg.source = source_;
    if (root.IsNull()) return cfg;  // empty file
    if (!root.IsMap()) return err("", "top level must be a mapping (environments, defaults, caps)");
    try {
      if (auto e = check_keys(
              root, "",
              {"environments", "defaults", "caps", "version", "store", "recovery", "policy",
               "identity", "audit", "approvers", "rules", "server", "auth", "watch", "notify"}))
        return *e;
      if (root["version"]) {
        auto v = integer(root["version"], "version", 1, 1);
        if (!v) return v.error();
      }
      if (root["defaults"]) {
        if (auto e = defaults(root["defaults"], cfg.defaults)) return *e;
      }
      if (root["caps"]) {
        if (auto e = caps(root["caps"], cfg.caps)) return *e;
      }
      if (root["store"]) {
        if (auto e = parse_store_section(*this, root["store"], cfg.store)) return *e;
      }
      if (root["recovery"]) {
        if (auto e = parse_recovery_section(*this, root["recovery"], cfg.recovery)) return *e;
      }
      if (root["policy"]) {
        if (auto e = parse_policy_section(*this, root["policy"], cfg.policy)) return *e;
      }
      if (root["identity"]) {
        if (auto e = parse_identity_section(*this, root["identity"], cfg.identity)) return *e;
      }
      if (root["audit"]) {
        if (auto e = parse_audit_section(*this, root["audit"], cfg.audit)) return *e;
      }
      if (root["rules"]) {
        if (auto e = parse_rules_section(*this, root["rules"], cfg.rules)) return *e;
      }
      if (const auto& sv = root["server"]; sv) {
        if (!sv.IsMap())
          return err("server", "must be a mapping (read_only, request_state_key_file | _env)");
        if (auto e = check_keys(sv, "server",
                                {"read_only", "request_state_key_file", "request_state_key_env"}))
          return *e;
        if (sv["read_only"]) {
          auto v = boolean(sv["read_only"], "server.read_only");
          if (!v) return v.error();
          cfg.server.read_only = *v;
        }
        for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
                 {"request_state_key_file", &cfg.server.request_state_key_file},
                 {"request_state_key_env", &cfg.server.request_state_key_env}}) {
          if (!sv[key]) continue;
          auto v = str(sv[key], std::string("server.") + key);
          if (!v) return v.error();
          *field = expand_home(*v);
        }
        if (!cfg.server.request_state_key_file.empty() && !cfg.server.request_state_key_env.empty())
          return err("server", "set only one of request_state_key_file and request_state_key_env");
      }
      if (root["auth"]) {
        if (auto e = parse_auth_section(*this, root["auth"], cfg.auth)) return *e;
      }
      if (root["watch"]) {
        if (auto e = parse_watch_section(*this, root["watch"], cfg.watch)) return *e;
      }
      if (root["notify"]) {
        if (auto e = parse_notify_section(*this, root["notify"], cfg.notify)) return *e;
      }
      if (root["environments"]) {
        const auto& envs = root["environments"];
        if (!envs.IsMap() && !envs.IsNull())
          return err("environments", "must be a mapping of environment name to settings");
        for (const auto& kv : envs) {
          std::string name = kv.first.as<std::string>();
          if (name.empty() || name.find_first_of(" \t\"'") != std::string::npos)
            return err("environments", "bad environment name \"" + name + "\"");
          Environment env;
          if (auto e = environment(name, kv.second, cfg.defaults, env)) return *e;
          cfg.environments.push_back(std::move(env));
        }
      }
    } catch (const YAML::Exception& e) {
      return err("", std::string("unexpected structure: ") + e.what());
    }
    for (const auto& [env, grants] : cfg.auth.environments)
      if (!cfg.find(env))
        return err("auth.environments." + env,
                   "names an environment that is not under environments:");
    for (const auto& [env, w] : cfg.watch.environments)
      if (!cfg.find(env))
        return err("watch.environments." + env,
                   "names an environment that is not under environments:");
    if (!cfg.defaults.environment.empty() && !cfg.find(cfg.defaults.environment))
      return err("defaults.environment",
                 "names \"" + cfg.defaults.environment + "\", which is not under environments");
    return cfg;
  }

 private:
  std::string source_;
};

}  // namespace dm::config
