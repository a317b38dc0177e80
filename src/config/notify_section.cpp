// `notify:` — the outbox targets of watch mode (docs/watch.md "Notifications"):
//
//   notify:
//     base_url: https://dagmedic.example.com     # incident links: base_url/incidents/<id>
//     backoff_initial_seconds: 10
//     backoff_max_seconds: 3600
//     max_attempts: 8
//     max_per_cycle: 100
//     targets:
//       oncall-slack: {kind: slack, url: https://hooks.slack.com/services/...}
//       pd: {kind: pagerduty, url: https://events.pagerduty.com/v2/enqueue,
//            routing_key_env: PD_ROUTING_KEY}
//       teams: {kind: teams, url: https://example.webhook.office.com/...}
//       audit-sink: {kind: json, url: https://hooks.example.com/dagmedic, secret_env: HOOK_KEY,
//                    timeout_seconds: 5, max_attempts: 3}
//
// Strict like the rest of the file: an unknown key or kind, a URL that is not http(s), a json
// target without secret_env or a pagerduty one without routing_key_env stops start-up, naming the
// key. A literal `secret:` or `routing_key:` is refused (secrets come from the environment).
#include <cctype>

#include "config/parser.h"

namespace dm::config {
namespace {

// "" when `url` is an absolute http(s) URL with a host, else why not.
std::string url_problem(const std::string& url) {
  std::string rest;
  if (url.rfind("https://", 0) == 0)
    rest = url.substr(8);
  else if (url.rfind("http://", 0) == 0)
    rest = url.substr(7);
  else
    return "must be an http:// or https:// URL, got \"" + url + "\"";
  const auto end = rest.find_first_of("/?#");
  const std::string authority = rest.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string::npos || authority.front() == ':')
    return "must name a host (and no user:password@), got \"" + url + "\"";
  for (unsigned char c : url)
    if (std::isspace(c) || std::iscntrl(c) || c == '"' || c == '<' || c == '>' || c == '\\')
      return "must not contain spaces, quotes or control characters";
  const auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    const std::string port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) == 0 ||
        std::stoi(port) > 65535)
      return "has a bad port \"" + port + "\"";
  }
  return "";
}

bool env_name_ok(const std::string& v) {
  if (v.empty() || std::isdigit(static_cast<unsigned char>(v[0]))) return false;
  for (unsigned char c : v)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

}  // namespace

const NotifyTarget* NotifySettings::find(std::string_view name) const {
  for (const auto& t : targets)
    if (t.name == name) return &t;
  return nullptr;
}

std::optional<Error> parse_notify_section(const Parser& p, const YAML::Node& n,
                                          NotifySettings& out) {
  if (n.IsNull()) return std::nullopt;
  if (!n.IsMap())
    return p.err("notify",
                 "must be a mapping (base_url, backoff_initial_seconds, backoff_max_seconds, "
                 "max_attempts, max_per_cycle, targets)");
  if (auto e = p.check_keys(n, "notify",
                            {"base_url", "backoff_initial_seconds", "backoff_max_seconds",
                             "max_attempts", "max_per_cycle", "targets"}))
    return e;
  auto set_int = [&](const YAML::Node& m, const std::string& path, const char* key, long long lo,
                     long long hi, int& field) -> std::optional<Error> {
    if (!m[key]) return std::nullopt;
    auto v = p.integer(m[key], path + "." + key, lo, hi);
    if (!v) return v.error();
    field = static_cast<int>(*v);
    return std::nullopt;
  };
  if (n["base_url"]) {
    auto u = p.str(n["base_url"], "notify.base_url");
    if (!u) return u.error();
    if (auto why = url_problem(*u); !why.empty()) return p.err("notify.base_url", why);
    out.base_url = *u;
    while (!out.base_url.empty() && out.base_url.back() == '/') out.base_url.pop_back();
  }
  if (auto e =
          set_int(n, "notify", "backoff_initial_seconds", 1, 86400, out.backoff_initial_seconds))
    return e;
  if (auto e = set_int(n, "notify", "backoff_max_seconds", 1, 604800, out.backoff_max_seconds))
    return e;
  if (out.backoff_max_seconds < out.backoff_initial_seconds)
    return p.err("notify.backoff_max_seconds", "must be at least notify.backoff_initial_seconds (" +
                                                   std::to_string(out.backoff_initial_seconds) +
                                                   ")");
  if (auto e = set_int(n, "notify", "max_attempts", 1, 100, out.max_attempts)) return e;
  if (auto e = set_int(n, "notify", "max_per_cycle", 1, 10000, out.max_per_cycle)) return e;

  const YAML::Node& ts = n["targets"];
  if (!ts) return std::nullopt;
  if (ts.IsNull()) return std::nullopt;
  if (!ts.IsMap())
    return p.err("notify.targets",
                 "must be a mapping of target name to {kind, url, secret_env | routing_key_env, "
                 "timeout_seconds, max_attempts}");
  for (const auto& kv : ts) {
    NotifyTarget t;
    t.name = kv.first.as<std::string>();
    const std::string path = "notify.targets." + t.name;
    const YAML::Node& v = kv.second;
    if (!v.IsMap()) return p.err(path, "must be a mapping ({kind, url, …})");
    if (v["routing_key"])
      return p.err(path + ".routing_key",
                   "literal secrets are not allowed in the config file; name the environment "
                   "variable that holds it with routing_key_env");
    if (v["secret"])
      return p.err(path + ".secret",
                   "literal secrets are not allowed in the config file; name the environment "
                   "variable that holds it with secret_env");
    if (auto e = p.check_keys(
            v, path,
            {"kind", "url", "secret_env", "routing_key_env", "timeout_seconds", "max_attempts"}))
      return e;
    if (!v["kind"]) return p.err(path + ".kind", "is required (slack, pagerduty, teams or json)");
    auto kind = p.str(v["kind"], path + ".kind");
    if (!kind) return kind.error();
    if (*kind != "slack" && *kind != "pagerduty" && *kind != "teams" && *kind != "json")
      return p.err(path + ".kind",
                   "unknown kind \"" + *kind + "\" (allowed: json, pagerduty, slack, teams)");
    t.kind = *kind;
    if (!v["url"]) return p.err(path + ".url", "is required");
    auto url = p.str(v["url"], path + ".url");
    if (!url) return url.error();
    if (auto why = url_problem(*url); !why.empty()) return p.err(path + ".url", why);
    t.url = *url;
    for (const auto& [key, field] :
         {std::pair<const char*, std::string*>{"secret_env", &t.secret_env},
          {"routing_key_env", &t.routing_key_env}}) {
      if (!v[key]) continue;
      auto s = p.str(v[key], path + "." + key);
      if (!s) return s.error();
      if (!env_name_ok(*s))
        return p.err(
            path + "." + key,
            "must be an environment variable name (letters, digits, _), got \"" + *s + "\"");
      *field = *s;
    }
    if (t.kind == "json" && t.secret_env.empty())
      return p.err(path + ".secret_env",
                   "is required for kind json (the variable holding the HMAC-SHA256 key)");
    if (t.kind != "json" && !t.secret_env.empty())
      return p.err(path + ".secret_env", "only kind json signs its messages");
    if (t.kind == "pagerduty" && t.routing_key_env.empty())
      return p.err(path + ".routing_key_env",
                   "is required for kind pagerduty (the variable holding the routing key)");
    if (t.kind != "pagerduty" && !t.routing_key_env.empty())
      return p.err(path + ".routing_key_env", "only kind pagerduty has a routing key");
    if (auto e = set_int(v, path, "timeout_seconds", 1, 300, t.timeout_seconds)) return e;
    if (auto e = set_int(v, path, "max_attempts", 1, 100, t.max_attempts)) return e;
    if (t.max_attempts == 0) t.max_attempts = out.max_attempts;
    out.targets.push_back(std::move(t));
  }
  return std::nullopt;
}

}  // namespace dm::config
