// auth: section (docs/config.md).
#include <gtest/gtest.h>

#include "config/config.h"

namespace dm::config {
namespace {

constexpr const char* kEnvs = R"(
environments:
  dev: {kind: airflow, url: http://localhost:8080}
  prod: {kind: airflow, tier: prod, url: https://af.example.com}
)";

Result<Config> parse(const std::string& auth) {
  return parse_config(std::string(kEnvs) + auth, "cfg.yaml");
}

std::string err(const std::string& auth) {
  auto r = parse(auth);
  EXPECT_FALSE(r.ok()) << auth;
  return r.ok() ? std::string() : r.error().message;
}

TEST(AuthSection, AbsentMeansLocalMode) {
  auto c = parse("");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c->auth.enabled);
}

TEST(AuthSection, MinimalSectionGetsTheDefaults) {
  auto c = parse(R"(
auth:
  issuer: https://sso.example.com/realms/data
  audience: https://dagmedic.example.com/mcp
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const auto& a = c->auth;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.issuer, "https://sso.example.com/realms/data");
  EXPECT_EQ(a.audience, "https://dagmedic.example.com/mcp");
  EXPECT_EQ(a.jwks_uri, "");
  EXPECT_EQ(a.algorithms, (std::vector<std::string>{"RS256", "ES256", "EdDSA"}));
  EXPECT_EQ(a.leeway_seconds, 60);
  EXPECT_EQ(a.principal_claim, "preferred_username");
  EXPECT_EQ(a.scopes.read, "dagmedic:read");
  EXPECT_EQ(a.scopes.operate, "dagmedic:operate");
  EXPECT_EQ(a.scopes.approve, "dagmedic:approve");
  EXPECT_EQ(a.environments_claim, "groups");
  EXPECT_TRUE(a.environments.empty());
  EXPECT_FALSE(a.introspection.enabled);
}

TEST(AuthSection, FullSection) {
  auto c = parse(R"(
auth:
  issuer: http://127.0.0.1:8080/realms/dagmedic
  audience: https://dagmedic.test/mcp
  jwks_uri: http://127.0.0.1:8080/realms/dagmedic/protocol/openid-connect/certs
  algorithms: [ES256]
  leeway_seconds: 5
  principal_claim: email
  scopes: {read: dm.read, operate: dm.operate, approve: dm.approve}
  environments_claim: roles
  environments: {dev: ["env:dev", sre], prod: "env:prod"}
  introspection: {client_id: dagmedic-server, client_secret_env: DM_SECRET}
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const auto& a = c->auth;
  EXPECT_EQ(a.algorithms, (std::vector<std::string>{"ES256"}));
  EXPECT_EQ(a.leeway_seconds, 5);
  EXPECT_EQ(a.principal_claim, "email");
  EXPECT_EQ(a.scopes.operate, "dm.operate");
  EXPECT_EQ(a.environments_claim, "roles");
  EXPECT_EQ(a.environments.at("dev"), (std::vector<std::string>{"env:dev", "sre"}));
  EXPECT_EQ(a.environments.at("prod"), (std::vector<std::string>{"env:prod"}));
  EXPECT_TRUE(a.introspection.enabled);
  EXPECT_EQ(a.introspection.client_id, "dagmedic-server");
  EXPECT_EQ(a.introspection.client_secret_env, "DM_SECRET");
}

TEST(AuthSection, ErrorsNameTheKey) {
  const std::string iss = "auth:\n  issuer: https://sso.example.com\n";
  const std::string both = iss + "  audience: https://dm.example.com/mcp\n";
  struct Case {
    std::string yaml;
    const char* want;
  } cases[] = {
      {"auth: [1]\n", "auth: must be a mapping"},
      {"auth: {audience: https://dm.example.com/mcp}\n", "auth.issuer: missing"},
      {iss, "auth.audience: missing"},
      {"auth: {issuer: http://sso.example.com, audience: https://x/mcp}\n",
       "auth.issuer: must use https (plain http is accepted only on localhost)"},
      {"auth: {issuer: 'https://u:p@sso.example.com', audience: https://x/mcp}\n",
       "auth.issuer: must not hold user info"},
      {"auth: {issuer: ftp://sso, audience: https://x/mcp}\n", "auth.issuer: must be an https://"},
      {both + "  algorithms: [none]\n", "auth.algorithms: \"none\" is never accepted"},
      {both + "  algorithms: [HS256]\n", "auth.algorithms: \"HS256\" is never accepted"},
      {both + "  algorithms: [RS512]\n", "auth.algorithms: \"RS512\" is not supported"},
      {both + "  algorithms: []\n", "auth.algorithms: must name at least one algorithm"},
      {both + "  leeway_seconds: 3600\n", "auth.leeway_seconds: must be between 0 and 300"},
      {both + "  principal_claim: name\n", "auth.principal_claim: must be sub, email or"},
      {both + "  scopes: {read: a, operate: a}\n", "auth.scopes: read, operate and approve"},
      {both + "  scopes: {read: 'a b'}\n", "auth.scopes.read: must be one scope name"},
      {both + "  scopes: {admin: x}\n", "auth.scopes.admin: unknown key"},
      {both + "  environments: {staging: [env:staging]}\n",
       "auth.environments.staging: names an environment that is not under environments:"},
      {both + "  environments: {dev: []}\n", "auth.environments.dev: must list at least one"},
      {both + "  introspection: {client_id: x, client_secret: hunter2}\n",
       "auth.introspection.client_secret: literal secrets are not allowed"},
      {both + "  introspection: {client_secret_env: X}\n", "auth.introspection.client_id: missing"},
      {both + "  introspection: {client_id: x}\n",
       "auth.introspection: set exactly one of client_secret_env and client_secret_file"},
      {both + "  introspection: {client_id: x, client_secret_env: A, client_secret_file: /f}\n",
       "auth.introspection: set exactly one"},
      {both + "  introspection: {client_id: x, client_secret_env: A, endpoint: http://e.example}\n",
       "auth.introspection.endpoint: must use https"},
      {both + "  issuer_url: x\n", "auth.issuer_url: unknown key"},
      {both + "  approval_page: x\n", "auth.approval_page: must be a mapping"},
      {both + "  approval_page: {public_url: https://a.example}\n",
       "auth.approval_page.client_id: missing"},
      {both + "  approval_page: {client_id: p, client_secret: s}\n",
       "auth.approval_page.client_secret: literal secrets are not allowed"},
      {both + "  approval_page: {client_id: p, client_secret_env: A, client_secret_file: /f}\n",
       "auth.approval_page: set at most one of client_secret_env and client_secret_file"},
      {both + "  approval_page: {client_id: p, public_url: http://approvals.example.com}\n",
       "auth.approval_page.public_url: must use https"},
      {both + "  approval_page: {client_id: p, public_url: https://a.example/approvals}\n",
       "auth.approval_page.public_url: must be an origin without a path"},
      {both + "  approval_page: {client_id: p, session_minutes: 0}\n",
       "auth.approval_page.session_minutes: must be between 1 and 60"},
      {both + "  approval_page: {client_id: p, redirect_uri: x}\n",
       "auth.approval_page.redirect_uri: unknown key"},
      {both + "  cli: x\n", "auth.cli: must be a mapping"},
      {both + "  cli: {client_id: ''}\n", "auth.cli.client_id: must not be empty"},
      {both + "  cli: {client_secret: s}\n", "auth.cli.client_secret: unknown key"},
  };
  for (const auto& c : cases) {
    auto m = err(c.yaml);
    EXPECT_NE(m.find(std::string("cfg.yaml: ") + c.want), std::string::npos)
        << c.yaml << "\n got: " << m;
  }
}

TEST(AuthSection, CliClient) {
  const std::string both =
      "auth:\n  issuer: https://sso.example.com\n  audience: https://dm.example.com/mcp\n";
  auto c = parse(both);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->auth.cli.client_id, "dagmedic-cli");
  c = parse(both + "  cli: {client_id: team-cli}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->auth.cli.client_id, "team-cli");
}

TEST(AuthSection, ApprovalPageClient) {
  const std::string both =
      "auth:\n  issuer: https://sso.example.com\n  audience: https://dm.example.com/mcp\n";
  auto c = parse(both);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c->auth.approval_page.enabled);
  c = parse(both +
            "  approval_page:\n    client_id: dagmedic-approval-page\n"
            "    client_secret_env: PAGE_SECRET\n"
            "    public_url: https://approvals.example.com/\n    session_minutes: 10\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const auto& p = c->auth.approval_page;
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(p.client_id, "dagmedic-approval-page");
  EXPECT_EQ(p.client_secret_env, "PAGE_SECRET");
  EXPECT_EQ(p.public_url, "https://approvals.example.com");
  EXPECT_EQ(p.session_minutes, 10);
  // A public client (no secret) on a loopback address, for development.
  c = parse(both + "  approval_page: {client_id: p, public_url: 'http://127.0.0.1:8800'}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->auth.approval_page.client_secret_env.empty());
  EXPECT_EQ(c->auth.approval_page.session_minutes, 15);
}

}  // namespace
}  // namespace dm::config
