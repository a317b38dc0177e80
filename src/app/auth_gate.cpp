#include "app/auth_gate.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "auth/identity.h"
#include "auth/token_verifier.h"
#include "guard/approval.h"
#include "runbook/access.h"

namespace dm::app {
namespace {

using json = nlohmann::json;

Result<std::string> read_secret(const std::string& env_var, const std::string& file,
                                const std::string& key) {
  if (!env_var.empty()) {
    const char* v = std::getenv(env_var.c_str());
    if (!v || !*v)
      return make_error(Errc::failed_precondition,
                        key + ".client_secret_env: $" + env_var + " is not set");
    return std::string(v);
  }
  std::ifstream in(file);
  if (!in) return make_error(Errc::not_found, key + ".client_secret_file: cannot read " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.empty())
    return make_error(Errc::failed_precondition,
                      key + ".client_secret_file: " + file + " is empty");
  return s;
}

Result<std::string> read_secret(const config::AuthIntrospection& io) {
  return read_secret(io.client_secret_env, io.client_secret_file, "auth.introspection");
}

class Gate final : public mcp::http::BearerGate {
 public:
  Gate(const config::AuthSettings& a, std::unique_ptr<auth::TokenVerifier> v,
       auth::IdentityRules rules, std::shared_ptr<const mcp::Server> server)
      : settings_(a),
        verifier_(std::move(v)),
        rules_(std::move(rules)),
        server_(std::move(server)) {}

  Result<std::shared_ptr<const mcp::Caller>> authenticate(std::string_view token) override {
    auto t = verifier_->verify(token);
    if (!t) return t.error();
    auto id = auth::identity_of(*t, rules_);
    if (!id) return id.error();
    auto principal = guard::normalize_principal(id->principal);
    if (!principal)
      return make_error(Errc::unauthenticated,
                        "the token's " + rules_.principal_claim +
                            " cannot be a principal here: " + principal.error().message);
    if (principal->rfind("agent:", 0) == 0)
      return make_error(Errc::unauthenticated, "the token's " + rules_.principal_claim +
                                                   " is in the reserved agent: space");
    auto c = std::make_shared<mcp::Caller>();
    c->issuer = id->issuer;
    c->subject = id->subject;
    c->principal = *principal;
    c->client_id = id->client_id;
    c->scopes = std::move(id->scopes);
    c->environments = std::move(id->environments);
    return std::shared_ptr<const mcp::Caller>(std::move(c));
  }

  std::string missing_scope(const mcp::Caller& caller, std::string_view method,
                            std::string_view target) override {
    return runbook::missing_scope(*server_, settings_.scopes, caller, method, target);
  }

  std::string base_scope() const override { return settings_.scopes.read; }

  json resource_metadata() const override {
    return {{"resource", settings_.audience},
            {"authorization_servers", json::array({settings_.issuer})},
            {"scopes_supported", json::array({settings_.scopes.read, settings_.scopes.operate,
                                              settings_.scopes.approve})},
            {"bearer_methods_supported", json::array({"header"})},
            {"resource_name", "dagmedic"}};
  }

  std::string resource_metadata_url() const override {
    return app::resource_metadata_url(settings_.audience);
  }

 private:
  config::AuthSettings settings_;
  std::unique_ptr<auth::TokenVerifier> verifier_;
  auth::IdentityRules rules_;
  std::shared_ptr<const mcp::Server> server_;
};

}  // namespace

std::string resource_metadata_url(const std::string& resource) {
  const auto scheme = resource.find("://");
  const auto slash = scheme == std::string::npos ? scheme : resource.find('/', scheme + 3);
  std::string origin = resource.substr(0, slash);
  std::string path = slash == std::string::npos ? std::string() : resource.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  return origin + "/.well-known/oauth-protected-resource" + path;
}

bool is_loopback_bind(const std::string& a) {
  return a == "localhost" || a == "::1" || a == "[::1]" || a.rfind("127.", 0) == 0;
}

Result<std::unique_ptr<auth::TokenVerifier>> make_token_verifier(
    const config::Config& cfg, std::shared_ptr<http::HttpClient> http,
    std::shared_ptr<Clock> clock) {
  const auto& a = cfg.auth;
  if (!a.enabled) return make_error(Errc::invalid_argument, "auth: is not configured");
  auth::VerifierOptions o;
  o.issuer = a.issuer;
  o.audience = a.audience;
  o.jwks_uri = a.jwks_uri;
  o.algorithms.clear();
  for (const auto& name : a.algorithms) {
    auto alg = auth::parse_alg(name);
    if (!alg) return make_error(Errc::invalid_argument, "auth.algorithms: \"" + name + "\"");
    o.algorithms.push_back(*alg);
  }
  o.leeway = std::chrono::seconds(a.leeway_seconds);
  if (a.introspection.enabled) {
    auto secret = read_secret(a.introspection);
    if (!secret) return secret.error();
    o.introspection =
        auth::IntrospectionOptions{a.introspection.endpoint, a.introspection.client_id, *secret};
  }
  if (auto st = auth::TokenVerifier::check_options(o); !st)
    return make_error(Errc::invalid_argument, "auth: " + st.error().message);
  return std::make_unique<auth::TokenVerifier>(std::move(o), std::move(http), std::move(clock));
}

auth::IdentityRules identity_rules(const config::Config& cfg) {
  auth::IdentityRules rules;
  rules.principal_claim = cfg.auth.principal_claim;
  rules.environments_claim = cfg.auth.environments_claim;
  for (const auto& [env, grants] : cfg.auth.environments) rules.environments[env] = grants;
  return rules;
}

Result<std::shared_ptr<mcp::http::BearerGate>> make_bearer_gate(
    const config::Config& cfg, std::shared_ptr<const mcp::Server> server,
    std::shared_ptr<http::HttpClient> http, std::shared_ptr<Clock> clock) {
  auto v = make_token_verifier(cfg, std::move(http), std::move(clock));
  if (!v) return v.error();
  // Fetch the keys now, so a wrong issuer or jwks_uri shows at start (tokens are refused with
  // 503 until it works; the verifier keeps trying within its refetch budget).
  if (auto st = (*v)->warm_up(); !st)
    std::fprintf(stderr, "dagmedic serve: auth: cannot fetch the issuer's signing keys yet: %s\n",
                 st.error().message.c_str());
  return std::shared_ptr<mcp::http::BearerGate>(
      std::make_shared<Gate>(cfg.auth, std::move(*v), identity_rules(cfg), std::move(server)));
}

Result<web::ApprovalWebOptions> approval_page_oidc_options(const config::Config& cfg,
                                                           std::shared_ptr<http::HttpClient> http,
                                                           std::shared_ptr<Clock> clock) {
  const auto& a = cfg.auth;
  if (!a.enabled) return make_error(Errc::invalid_argument, "auth: is not configured");
  const auto& p = a.approval_page;
  if (!p.enabled)
    return make_error(Errc::invalid_argument,
                      "auth: is configured, so approvers must sign in through the identity "
                      "provider: add auth.approval_page (client_id, and client_secret_env or "
                      "client_secret_file for a confidential client; docs/config.md). The token "
                      "login of `approvers:` is off when auth: is set.");
  std::string secret;
  if (!p.client_secret_env.empty() || !p.client_secret_file.empty()) {
    auto s = read_secret(p.client_secret_env, p.client_secret_file, "auth.approval_page");
    if (!s) return s.error();
    secret = std::move(*s);
  }
  auto v = make_token_verifier(cfg, http, clock);
  if (!v) return v.error();
  std::shared_ptr<auth::TokenVerifier> verifier = std::move(*v);
  if (auto st = verifier->endpoints(); !st)
    std::fprintf(stderr,
                 "dagmedic serve: auth.approval_page: the issuer's endpoints are not known yet: "
                 "%s\n",
                 st.error().message.c_str());
  web::OidcOptions o;
  o.client_id = p.client_id;
  o.client_secret = std::move(secret);
  o.approve_scope = a.scopes.approve;
  o.cli_client_id = a.cli.client_id;  // the decision API takes `dagmedic login`'s tokens
  o.rules = identity_rules(cfg);
  o.session_ttl = std::chrono::minutes(p.session_minutes);
  web::ApprovalWebOptions w;
  w.secure_cookies = p.public_url.rfind("https://", 0) == 0;
  if (!p.public_url.empty()) {
    std::string host = p.public_url.substr(p.public_url.find("://") + 3);
    w.allowed_hosts.push_back(host);
  }
  w.oidc_factory =
      [o, verifier, http, clock, public_url = p.public_url](
          const std::string& base_url) mutable -> Result<std::shared_ptr<web::OidcLogin>> {
    o.redirect_uri = (public_url.empty() ? base_url : public_url) + "/oidc/callback";
    return std::make_shared<web::OidcLogin>(o, verifier, http, clock);
  };
  return w;
}

}  // namespace dm::app
