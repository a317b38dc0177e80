// `auth:` — the HTTP server as an OAuth 2.1 resource server (docs/config.md, docs/security.md).
//
//   auth:
//     issuer: https://sso.example.com/realms/data
//     audience: https://dagmedic.example.com/mcp
//     jwks_uri: https://sso.example.com/realms/data/protocol/openid-connect/certs   # optional
//     algorithms: [RS256, ES256, EdDSA]
//     leeway_seconds: 60
//     principal_claim: preferred_username      # sub | email | preferred_username
//     scopes: {read: dagmedic:read, operate: dagmedic:operate, approve: dagmedic:approve}
//     environments_claim: groups
//     environments: {dev: ["env:dev"], prod: ["env:prod"]}
//     introspection:                            # optional (RFC 7662, for revocation)
//       client_id: dagmedic-server
//       client_secret_env: DAGMEDIC_INTROSPECTION_SECRET   # or client_secret_file
//       endpoint: https://...                   # optional (discovered)
//     approval_page:                            # approvers sign in (OIDC code + PKCE)
//       client_id: dagmedic-approval-page
//       client_secret_env: DAGMEDIC_APPROVAL_PAGE_SECRET   # or client_secret_file; or neither
//       public_url: https://approvals.example.com          # optional: the page's origin
//       session_minutes: 15
//     cli:                                      # `dagmedic login` (device grant, RFC 8628)
//       client_id: dagmedic-cli                 # a public client; the default
#include "config/parser.h"

namespace dm::config {
namespace {

bool loopback_url(const std::string& url) {
  for (const char* p : {"http://localhost", "http://127.", "http://[::1]"})
    if (url.rfind(p, 0) == 0) return true;
  return false;
}

// An issuer/endpoint URL: https, or http on a loopback host (a local test IdP only).
std::optional<Error> check_url(const Parser& p, const std::string& key, const std::string& url,
                               bool allow_http_loopback) {
  const bool https = url.rfind("https://", 0) == 0;
  const bool http = url.rfind("http://", 0) == 0;
  if (!https && !http) return p.err(key, "must be an https:// URL, got \"" + url + "\"");
  if (url.find('@') != std::string::npos || url.find('?') != std::string::npos ||
      url.find('#') != std::string::npos)
    return p.err(key, "must not hold user info, a query or a fragment");
  if (http && !(allow_http_loopback && loopback_url(url)))
    return p.err(key,
                 "must use https (plain http is accepted only on localhost), got \"" + url + "\"");
  return std::nullopt;
}

std::optional<Error> get_str(const Parser& p, const YAML::Node& n, const char* key,
                             const std::string& path, std::string& out) {
  if (!n[key]) return std::nullopt;
  auto v = p.str(n[key], path + "." + key);
  if (!v) return v.error();
  out = *v;
  return std::nullopt;
}

}  // namespace

std::optional<Error> parse_auth_section(const Parser& p, const YAML::Node& n, AuthSettings& out) {
  if (!n.IsMap()) return p.err("auth", "must be a mapping (issuer, audience, …)");
  if (auto e = p.check_keys(n, "auth",
                            {"issuer", "audience", "jwks_uri", "algorithms", "leeway_seconds",
                             "principal_claim", "scopes", "environments_claim", "environments",
                             "introspection", "approval_page", "cli"}))
    return e;
  out.enabled = true;
  for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
           {"issuer", &out.issuer},
           {"audience", &out.audience},
           {"jwks_uri", &out.jwks_uri},
           {"principal_claim", &out.principal_claim},
           {"environments_claim", &out.environments_claim}})
    if (auto e = get_str(p, n, key, "auth", *field)) return e;
  if (out.issuer.empty())
    return p.err("auth.issuer",
                 "missing (the identity provider's issuer URL, exactly as the "
                 "tokens' iss claim has it)");
  // Kept exactly as written (no trailing-slash trimming): iss is compared byte for byte.
  if (auto e = check_url(p, "auth.issuer", out.issuer, true)) return e;
  if (out.audience.empty())
    return p.err("auth.audience",
                 "missing (this server's canonical URL, e.g. https://dagmedic.example.com/mcp; "
                 "tokens must carry it in aud, RFC 8707)");
  if (auto e = check_url(p, "auth.audience", out.audience, true)) return e;
  if (!out.jwks_uri.empty())
    if (auto e = check_url(p, "auth.jwks_uri", out.jwks_uri, true)) return e;
  if (n["algorithms"]) {
    auto v = p.string_list(n["algorithms"], "auth.algorithms");
    if (!v) return v.error();
    if (v->empty()) return p.err("auth.algorithms", "must name at least one algorithm");
    for (const auto& a : *v) {
      if (a == "RS256" || a == "ES256" || a == "EdDSA") continue;
      std::string lower;
      for (char c : a) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      if (lower == "none") return p.err("auth.algorithms", "\"none\" is never accepted");
      if (lower.rfind("hs", 0) == 0)
        return p.err("auth.algorithms", "\"" + a +
                                            "\" is never accepted (a symmetric algorithm); use "
                                            "RS256, ES256 or EdDSA");
      return p.err("auth.algorithms", "\"" + a + "\" is not supported; use RS256, ES256 or EdDSA");
    }
    out.algorithms = *v;
  }
  if (n["leeway_seconds"]) {
    auto v = p.integer(n["leeway_seconds"], "auth.leeway_seconds", 0, 300);
    if (!v) return v.error();
    out.leeway_seconds = static_cast<int>(*v);
  }
  if (out.principal_claim != "sub" && out.principal_claim != "email" &&
      out.principal_claim != "preferred_username")
    return p.err("auth.principal_claim",
                 "must be sub, email or preferred_username, got \"" + out.principal_claim + "\"");
  if (out.environments_claim.empty())
    return p.err("auth.environments_claim", "must name a claim (e.g. groups)");
  if (const auto& s = n["scopes"]; s) {
    if (!s.IsMap()) return p.err("auth.scopes", "must be a mapping (read, operate, approve)");
    if (auto e = p.check_keys(s, "auth.scopes", {"read", "operate", "approve"})) return e;
    for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
             {"read", &out.scopes.read},
             {"operate", &out.scopes.operate},
             {"approve", &out.scopes.approve}}) {
      if (auto e = get_str(p, s, key, "auth.scopes", *field)) return e;
      if (field->empty() || field->find(' ') != std::string::npos)
        return p.err(std::string("auth.scopes.") + key, "must be one scope name without spaces");
    }
    if (out.scopes.read == out.scopes.operate || out.scopes.read == out.scopes.approve ||
        out.scopes.operate == out.scopes.approve)
      return p.err("auth.scopes", "read, operate and approve must be three different scopes");
  }
  if (const auto& e = n["environments"]; e) {
    if (!e.IsMap())
      return p.err("auth.environments",
                   "must map environment names to the claim values that grant them");
    for (const auto& kv : e) {
      const std::string env = kv.first.as<std::string>();
      auto v = p.string_list(kv.second, "auth.environments." + env);
      if (!v) return v.error();
      if (v->empty())
        return p.err("auth.environments." + env, "must list at least one claim value");
      out.environments[env] = *v;
    }
  }
  if (const auto& io = n["introspection"]; io) {
    if (!io.IsMap())
      return p.err("auth.introspection", "must be a mapping (client_id, client_secret_env, …)");
    if (io["client_secret"])
      return p.err("auth.introspection.client_secret",
                   "literal secrets are not allowed in the config file; reference it with "
                   "client_secret_env or client_secret_file");
    if (auto err =
            p.check_keys(io, "auth.introspection",
                         {"endpoint", "client_id", "client_secret_env", "client_secret_file"}))
      return err;
    out.introspection.enabled = true;
    for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
             {"endpoint", &out.introspection.endpoint},
             {"client_id", &out.introspection.client_id},
             {"client_secret_env", &out.introspection.client_secret_env},
             {"client_secret_file", &out.introspection.client_secret_file}})
      if (auto err = get_str(p, io, key, "auth.introspection", *field)) return err;
    if (!out.introspection.endpoint.empty())
      if (auto err = check_url(p, "auth.introspection.endpoint", out.introspection.endpoint, true))
        return err;
    if (out.introspection.client_id.empty())
      return p.err("auth.introspection.client_id", "missing (this server's client at the issuer)");
    const bool env = !out.introspection.client_secret_env.empty();
    const bool file = !out.introspection.client_secret_file.empty();
    if (env == file)
      return p.err("auth.introspection",
                   "set exactly one of client_secret_env and client_secret_file");
    auto& f = out.introspection.client_secret_file;
    if (f.rfind("~/", 0) == 0) {
      const char* home = std::getenv("HOME");
      if (!home || !*home)
        return p.err("auth.introspection.client_secret_file", "cannot expand ~: $HOME is not set");
      f = std::string(home) + f.substr(1);
    }
  }
  if (const auto& ap = n["approval_page"]; ap) {
    auto& o = out.approval_page;
    if (!ap.IsMap())
      return p.err("auth.approval_page", "must be a mapping (client_id, public_url, …)");
    if (ap["client_secret"])
      return p.err("auth.approval_page.client_secret",
                   "literal secrets are not allowed in the config file; reference it with "
                   "client_secret_env or client_secret_file");
    if (auto err = p.check_keys(ap, "auth.approval_page",
                                {"client_id", "client_secret_env", "client_secret_file",
                                 "public_url", "session_minutes"}))
      return err;
    o.enabled = true;
    for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
             {"client_id", &o.client_id},
             {"client_secret_env", &o.client_secret_env},
             {"client_secret_file", &o.client_secret_file},
             {"public_url", &o.public_url}})
      if (auto err = get_str(p, ap, key, "auth.approval_page", *field)) return err;
    if (o.client_id.empty())
      return p.err("auth.approval_page.client_id",
                   "missing (the approval page's client at the issuer)");
    if (!o.client_secret_env.empty() && !o.client_secret_file.empty())
      return p.err("auth.approval_page",
                   "set at most one of client_secret_env and client_secret_file (neither: a "
                   "public client)");
    if (!o.public_url.empty()) {
      if (auto err = check_url(p, "auth.approval_page.public_url", o.public_url, true)) return err;
      const auto slash = o.public_url.find('/', o.public_url.find("://") + 3);
      if (slash != std::string::npos && slash + 1 != o.public_url.size())
        return p.err("auth.approval_page.public_url",
                     "must be an origin without a path (e.g. https://approvals.example.com), "
                     "got \"" +
                         o.public_url + "\"");
      if (slash != std::string::npos) o.public_url.pop_back();
    }
    if (ap["session_minutes"]) {
      auto v = p.integer(ap["session_minutes"], "auth.approval_page.session_minutes", 1, 60);
      if (!v) return v.error();
      o.session_minutes = static_cast<int>(*v);
    }
    auto& f = o.client_secret_file;
    if (f.rfind("~/", 0) == 0) {
      const char* home = std::getenv("HOME");
      if (!home || !*home)
        return p.err("auth.approval_page.client_secret_file", "cannot expand ~: $HOME is not set");
      f = std::string(home) + f.substr(1);
    }
  }
  if (const auto& c = n["cli"]; c) {
    if (!c.IsMap()) return p.err("auth.cli", "must be a mapping (client_id)");
    if (auto err = p.check_keys(c, "auth.cli", {"client_id"})) return err;
    if (auto err = get_str(p, c, "client_id", "auth.cli", out.cli.client_id)) return err;
    if (out.cli.client_id.empty())
      return p.err("auth.cli.client_id",
                   "must not be empty (the public client of `dagmedic login` at the issuer)");
  }
  return std::nullopt;
}

}  // namespace dm::config
