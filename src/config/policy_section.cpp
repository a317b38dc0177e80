// `policy:`, `identity:` and `audit:` — the guard around the write tools (docs/config.md).
//
//   policy:
//     conf_max_bytes: 4096
//     approval_ttl_minutes: 60
//     max_ttl_minutes: 1440
//     tiers:
//       dev:  {required_approvals: 1, allow_without_approval: false, elicitation: form}
//       prod: {required_approvals: 2, elicitation: url}
//     allow_dags:
//       prod: ["etl_*", reports]
//     dags:
//       - dag: "etl_*"
//         conf_schema: {type: object, properties: {date: {type: string}}}
//         # or conf_schema_file: /etc/dagmedic/etl_conf.schema.json
//         conf_max_bytes: 2048
//   identity: {principal: alice}
//   audit: {key_file: ~/.config/dagmedic/audit.key, checkpoint_file: /backup/ckpt.jsonl,
//           checkpoint_every: 100}
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/parser.h"

namespace dm::config {

std::string expand_home(const std::string& path) {
  if (path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home && *home) return std::string(home) + path.substr(1);
  }
  return path;
}

namespace {

// YAML → JSON with typed scalars (JSON Schema keywords need real integers/booleans). Quoted
// scalars stay strings.
nlohmann::json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : n) a.push_back(yaml_to_json(e));
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted in the YAML text
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      if (s == "null" || s == "~") return nullptr;
      try {
        std::size_t used = 0;
        long long v = std::stoll(s, &used);
        if (used == s.size()) return v;
      } catch (...) {
      }
      try {
        std::size_t used = 0;
        double v = std::stod(s, &used);
        if (used == s.size()) return v;
      } catch (...) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

std::optional<Error> tier(const Parser& p, const std::string& name, const YAML::Node& n,
                          TierPolicy& t) {
  const std::string path = "policy.tiers." + name;
  if (!n.IsMap()) return p.err(path, "must be a mapping");
  if (auto e =
          p.check_keys(n, path, {"required_approvals", "allow_without_approval", "elicitation"}))
    return e;
  if (n["required_approvals"]) {
    auto v = p.integer(n["required_approvals"], path + ".required_approvals", 1, 10);
    if (!v) return v.error();
    t.required_approvals = static_cast<int>(*v);
  }
  if (n["allow_without_approval"]) {
    auto v = p.boolean(n["allow_without_approval"], path + ".allow_without_approval");
    if (!v) return v.error();
    t.allow_without_approval = *v;
    if (*v && name == "prod")
      return p.err(path + ".allow_without_approval",
                   "prod writes always need an approval; only a dev tier may set this");
  }
  if (n["elicitation"]) {
    auto v = p.str(n["elicitation"], path + ".elicitation");
    if (!v) return v.error();
    if (*v != "none" && *v != "form" && *v != "url")
      return p.err(path + ".elicitation", "must be none, form or url, got \"" + *v + "\"");
    if (*v == "form" && name == "prod")
      return p.err(path + ".elicitation",
                   "form elicitation is for dev tiers (prod approvals go through the approval "
                   "page: url, or none)");
    t.elicitation = *v;
  }
  return std::nullopt;
}

std::optional<Error> dag_rule(const Parser& p, const std::string& path, const YAML::Node& n,
                              DagPolicy& d) {
  if (!n.IsMap()) return p.err(path, "must be a mapping (dag, conf_schema…)");
  if (auto e = p.check_keys(n, path, {"dag", "conf_schema", "conf_schema_file", "conf_max_bytes"}))
    return e;
  if (!n["dag"]) return p.err(path + ".dag", "missing (a DAG id or glob such as \"etl_*\")");
  auto dag = p.str(n["dag"], path + ".dag");
  if (!dag) return dag.error();
  if (dag->empty()) return p.err(path + ".dag", "must not be empty");
  d.dag = *dag;
  if (n["conf_schema"] && n["conf_schema_file"])
    return p.err(path, "set only one of conf_schema and conf_schema_file");
  nlohmann::json schema;
  if (n["conf_schema"]) {
    if (!n["conf_schema"].IsMap())
      return p.err(path + ".conf_schema", "must be a mapping (a JSON Schema written in YAML)");
    schema = yaml_to_json(n["conf_schema"]);
  } else if (n["conf_schema_file"]) {
    auto f = p.str(n["conf_schema_file"], path + ".conf_schema_file");
    if (!f) return f.error();
    std::string file = expand_home(*f);
    std::ifstream in(file, std::ios::binary);
    if (!in) return p.err(path + ".conf_schema_file", "cannot open \"" + file + "\"");
    std::ostringstream ss;
    ss << in.rdbuf();
    schema = nlohmann::json::parse(ss.str(), nullptr, false);
    if (schema.is_discarded())
      return p.err(path + ".conf_schema_file", "\"" + file + "\" is not valid JSON");
  }
  if (!schema.is_null()) {
    if (!schema.is_object()) return p.err(path + ".conf_schema", "must be a JSON Schema object");
    d.conf_schema_json = schema.dump();
  }
  if (n["conf_max_bytes"]) {
    auto v = p.integer(n["conf_max_bytes"], path + ".conf_max_bytes", 2, 1 << 20);
    if (!v) return v.error();
    d.conf_max_bytes = *v;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Error> parse_policy_section(const Parser& p, const YAML::Node& n,
                                          PolicySettings& out) {
  if (!n.IsMap()) return p.err("policy", "must be a mapping (tiers, allow_dags, dags…)");
  if (auto e = p.check_keys(n, "policy",
                            {"conf_max_bytes", "approval_ttl_minutes", "max_ttl_minutes", "tiers",
                             "allow_dags", "dags"}))
    return e;
  if (n["conf_max_bytes"]) {
    auto v = p.integer(n["conf_max_bytes"], "policy.conf_max_bytes", 2, 1 << 20);
    if (!v) return v.error();
    out.conf_max_bytes = *v;
  }
  if (n["max_ttl_minutes"]) {
    auto v = p.integer(n["max_ttl_minutes"], "policy.max_ttl_minutes", 1, 24 * 60);
    if (!v) return v.error();
    out.max_ttl_minutes = static_cast<int>(*v);
  }
  if (n["approval_ttl_minutes"]) {
    auto v = p.integer(n["approval_ttl_minutes"], "policy.approval_ttl_minutes", 1, 24 * 60);
    if (!v) return v.error();
    out.approval_ttl_minutes = static_cast<int>(*v);
  }
  if (out.approval_ttl_minutes > out.max_ttl_minutes)
    return p.err("policy.approval_ttl_minutes", "is larger than policy.max_ttl_minutes (" +
                                                    std::to_string(out.max_ttl_minutes) + ")");
  if (n["tiers"]) {
    const auto& t = n["tiers"];
    if (!t.IsMap()) return p.err("policy.tiers", "must be a mapping with dev and/or prod");
    if (auto e = p.check_keys(t, "policy.tiers", {"dev", "prod"})) return e;
    for (const char* name : {"dev", "prod"}) {
      if (!t[name]) continue;
      if (auto e = tier(p, name, t[name], out.tiers[name])) return e;
    }
  }
  if (n["allow_dags"]) {
    const auto& a = n["allow_dags"];
    if (!a.IsMap())
      return p.err("policy.allow_dags", "must map environment names to lists of DAG globs");
    for (const auto& kv : a) {
      std::string env = kv.first.as<std::string>();
      auto globs = p.string_list(kv.second, "policy.allow_dags." + env);
      if (!globs) return globs.error();
      for (const auto& g : *globs)
        if (g.empty()) return p.err("policy.allow_dags." + env, "empty DAG glob");
      out.allow_dags[env] = std::move(*globs);
    }
  }
  if (n["dags"]) {
    const auto& d = n["dags"];
    if (!d.IsSequence()) return p.err("policy.dags", "must be a list of {dag, conf_schema…}");
    for (std::size_t i = 0; i < d.size(); ++i) {
      DagPolicy rule;
      if (auto e = dag_rule(p, "policy.dags[" + std::to_string(i) + "]", d[i], rule)) return e;
      out.dags.push_back(std::move(rule));
    }
  }
  return std::nullopt;
}

std::optional<Error> parse_identity_section(const Parser& p, const YAML::Node& n,
                                            IdentitySettings& out) {
  if (!n.IsMap()) return p.err("identity", "must be a mapping (principal)");
  if (auto e = p.check_keys(n, "identity", {"principal"})) return e;
  if (n["principal"]) {
    auto v = p.str(n["principal"], "identity.principal");
    if (!v) return v.error();
    if (v->empty() || v->size() > 256) return p.err("identity.principal", "must be 1..256 chars");
    if (v->rfind("agent:", 0) == 0)
      return p.err("identity.principal", "\"agent:\" names are reserved for MCP agents");
    for (unsigned char c : *v)
      if (c < 0x20 || c == 0x7f) return p.err("identity.principal", "control characters");
    out.principal = *v;
  }
  return std::nullopt;
}

std::optional<Error> parse_audit_section(const Parser& p, const YAML::Node& n, AuditSettings& out) {
  if (!n.IsMap())
    return p.err("audit", "must be a mapping (key_file | key_env, checkpoint_file, …)");
  if (auto e =
          p.check_keys(n, "audit", {"key_file", "key_env", "checkpoint_file", "checkpoint_every"}))
    return e;
  for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
           {"key_file", &out.key_file},
           {"key_env", &out.key_env},
           {"checkpoint_file", &out.checkpoint_file}}) {
    if (!n[key]) continue;
    auto v = p.str(n[key], std::string("audit.") + key);
    if (!v) return v.error();
    *field = expand_home(*v);
  }
  if (!out.key_file.empty() && !out.key_env.empty())
    return p.err("audit", "set only one of key_file and key_env");
  if (n["checkpoint_every"]) {
    auto v = p.integer(n["checkpoint_every"], "audit.checkpoint_every", 1, 1000000);
    if (!v) return v.error();
    out.checkpoint_every = *v;
  }
  return std::nullopt;
}

}  // namespace dm::config
