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

Result<std::string> read_secret(const config::AuthIntrospection& io) {
  if (!io.client_secret_env.empty()) {
    const char* v = std::getenv(io.client_secret_env.c_str());
    if (!v || !*v)
      return make_error(Errc::failed_precondition, "auth.introspection.client_secret_env: $" +
                                                       io.client_secret_env + " is not set");
    return std::string(v);
  }
  std::ifstream in(io.client_secret_file);
  if (!in)
    return make_error(Errc::not_found, "auth.introspection.client_secret_file: cannot read " +
                                           io.client_secret_file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.empty())
    return make_error(Errc::failed_precondition, "auth.introspection.client_secret_file: " +
                                                     io.client_secret_file + " is empty");
  return s;
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

Result<std::shared_ptr<mcp::http::BearerGate>> make_bearer_gate(
    const config::Config& cfg, std::shared_ptr<const mcp::Server> server,
    std::shared_ptr<http::HttpClient> http, std::shared_ptr<Clock> clock) {
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
  auth::IdentityRules rules;
  rules.principal_claim = a.principal_claim;
  rules.environments_claim = a.environments_claim;
  for (const auto& [env, grants] : a.environments) rules.environments[env] = grants;
  auto v = std::make_unique<auth::TokenVerifier>(std::move(o), std::move(http), std::move(clock));
  // Fetch the keys now, so a wrong issuer or jwks_uri shows at start (tokens are refused with
  // 503 until it works; the verifier keeps trying within its refetch budget).
  if (auto st = v->warm_up(); !st)
    std::fprintf(stderr, "dagmedic serve: auth: cannot fetch the issuer's signing keys yet: %s\n",
                 st.error().message.c_str());
  return std::shared_ptr<mcp::http::BearerGate>(
      std::make_shared<Gate>(a, std::move(v), std::move(rules), std::move(server)));
}

}  // namespace dm::app
