// The approval page's OIDC sign-in (oidc_login.h) against a fake identity provider
// (FakeHttpClient: discovery, JWK set, token endpoint) and a ManualClock: state, nonce, PKCE,
// cookies, the return path, and what a session may decide. No sockets, no sleeping.
#include "web/oidc_login.h"

#include <gtest/gtest.h>

#include "auth/testing/token_maker.h"
#include "guard/approval.h"
#include "guard/audit.h"
#include "guard/canonical.h"
#include "http/fake_http_client.h"
#include "store/sqlite_store.h"
#include "web/approval_web.h"
#include "web/approval_web_handler.h"

namespace dm::web {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kIssuer = "https://idp.test/realms/team";
constexpr const char* kAudience = "https://dagmedic.test/mcp";
constexpr const char* kClient = "dagmedic-approval-page";
constexpr const char* kRedirect = "https://approvals.test/oidc/callback";

const auth::testing::TestKey& key() {
  static const auth::testing::TestKey k = auth::testing::make_key(auth::Alg::rs256, "k1");
  return k;
}

std::string query_param(std::string_view url, std::string_view name) {
  auto q = url.find('?');
  auto form = page::parse_form(url.substr(q + 1));
  if (!form) return "";
  auto it = form->find(name);
  return it == form->end() ? "" : it->second;
}

// The first Set-Cookie whose name is `name`, whole.
std::string set_cookie(const WebResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (http::iequals(k, "Set-Cookie") && v.rfind(std::string(name) + "=", 0) == 0) return v;
  return "";
}
std::string cookie_value_of(const std::string& set_cookie_line) {
  auto eq = set_cookie_line.find('=');
  return set_cookie_line.substr(eq + 1, set_cookie_line.find(';') - eq - 1);
}

class OidcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http_->set_handler([this](const http::Request& r) -> Result<http::Response> {
      if (r.url == std::string(kIssuer) + "/.well-known/openid-configuration")
        return http::FakeHttpClient::json(
            200, json({{"issuer", kIssuer},
                       {"jwks_uri", std::string(kIssuer) + "/certs"},
                       {"authorization_endpoint", std::string(kIssuer) + "/auth"},
                       {"token_endpoint", std::string(kIssuer) + "/token"},
                       {"code_challenge_methods_supported", {"S256"}}})
                     .dump());
      if (r.url == std::string(kIssuer) + "/certs")
        return http::FakeHttpClient::json(200, auth::testing::jwks_of({&key()}).dump());
      if (r.url == std::string(kIssuer) + "/token") {
        token_requests_.push_back(r);
        auto form = page::parse_form(r.body);
        if (!form || form->at("code") != "good-code" ||
            pkce_challenge(form->at("code_verifier")) != challenge_)
          return http::FakeHttpClient::json(400, R"({"error":"invalid_grant"})");
        return http::FakeHttpClient::json(
            200, json({{"id_token", auth::testing::sign(key(), id_claims_)},
                       {"access_token", auth::testing::sign(key(), access_claims_)},
                       {"token_type", "Bearer"}})
                     .dump());
      }
      return http::FakeHttpClient::json(404, "{}");
    });
    auth::VerifierOptions vo;
    vo.issuer = kIssuer;
    vo.audience = kAudience;
    auto verifier = std::make_shared<auth::TokenVerifier>(vo, http_, clock_);
    OidcOptions o;
    o.client_id = kClient;
    o.redirect_uri = kRedirect;
    o.rules.environments = {{"dev", {"env:dev"}}, {"prod", {"env:prod"}}};
    o.cli_client_id = "dagmedic-cli";
    login_ = std::make_shared<OidcLogin>(o, verifier, http_, clock_);
  }

  int64_t now_s() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock_->now().time_since_epoch())
        .count();
  }

  // The IdP's tokens for `user` with the nonce of the authorization URL.
  void issue(const std::string& authorize_url, const std::string& user = "carol",
             const std::string& sub = "sub-carol", json groups = json::array({"env:dev"}),
             std::string scope = "openid dagmedic:approve") {
    challenge_ = query_param(authorize_url, "code_challenge");
    id_claims_ = {{"iss", kIssuer},
                  {"aud", kClient},
                  {"sub", sub},
                  {"azp", kClient},
                  {"exp", now_s() + 300},
                  {"iat", now_s()},
                  {"nonce", query_param(authorize_url, "nonce")}};
    access_claims_ = {{"iss", kIssuer},
                      {"aud", json::array({kAudience, "account"})},
                      {"sub", sub},
                      {"azp", kClient},
                      {"exp", now_s() + 300},
                      {"iat", now_s()},
                      {"preferred_username", user},
                      {"scope", scope},
                      {"groups", groups}};
  }

  std::shared_ptr<http::FakeHttpClient> http_ = std::make_shared<http::FakeHttpClient>();
  std::shared_ptr<ManualClock> clock_ =
      std::make_shared<ManualClock>(Clock::time_point(std::chrono::seconds(1'800'000'000)));
  std::shared_ptr<OidcLogin> login_;
  std::string challenge_;
  json id_claims_, access_claims_;
  std::vector<http::Request> token_requests_;
};

TEST(OidcReturnPath, OnlyAnApprovalOfThisPage) {
  EXPECT_EQ(approval_id_of_return_path("/approvals/abc-DEF_123").value_or(""), "abc-DEF_123");
  for (const char* bad :
       {"", "/", "/approvals/", "https://evil.example/approvals/x", "//evil.example/approvals/x",
        "/approvals/x/../../evil", "/approvals/x?next=//evil", "/approvals/x#y",
        "/approvals/%2F%2Fevil", "/approvals/x/y", "\\\\evil.example", "/approvals/ x",
        "/Approvals/x", "/approvals/x\r\nLocation: https://evil"})
    EXPECT_FALSE(approval_id_of_return_path(bad)) << bad;
  EXPECT_FALSE(approval_id_of_return_path("/approvals/" + std::string(129, 'a')));
}

TEST(OidcPkce, ChallengeIsBase64UrlSha256OfTheVerifier) {
  // RFC 7636 appendix B.
  EXPECT_EQ(pkce_challenge("dBjftJeZ4CVP-mJ92rSZ3PYqNsQlZgbUAgdkLx8"),
            "Anux3zzBM-_26J3Lt_e7bL2Pa7yA5ZXj3oWHHUiLdkQ");
}

TEST_F(OidcTest, CodeFlowWithPkceGivesASessionForThatApproval) {
  auto b = login_->begin("/approvals/a1");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->authorize_url.rfind(std::string(kIssuer) + "/auth?response_type=code&", 0), 0u);
  EXPECT_EQ(query_param(b->authorize_url, "client_id"), kClient);
  EXPECT_EQ(query_param(b->authorize_url, "redirect_uri"), kRedirect);
  EXPECT_EQ(query_param(b->authorize_url, "scope"), "openid dagmedic:approve");
  EXPECT_EQ(query_param(b->authorize_url, "code_challenge_method"), "S256");
  EXPECT_EQ(query_param(b->authorize_url, "prompt"), "login");
  const std::string state = query_param(b->authorize_url, "state");
  EXPECT_EQ(state.size(), 64u);
  EXPECT_EQ(query_param(b->authorize_url, "nonce").size(), 64u);
  EXPECT_EQ(b->authorize_url.find("code_verifier"), std::string::npos);

  issue(b->authorize_url, "Carol", "sub-carol", json::array({"env:dev", "env:prod"}));
  auto c = login_->complete(state, "good-code", b->binding);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(token_requests_.size(), 1u);
  EXPECT_NE(token_requests_[0].body.find("client_id=dagmedic-approval-page"), std::string::npos);
  EXPECT_EQ(c->return_path, "/approvals/a1");
  EXPECT_EQ(c->session.approval_id, "a1");
  EXPECT_EQ(c->session.principal, "carol");
  EXPECT_EQ(c->session.subject, "sub-carol");
  EXPECT_EQ(c->session.issuer, kIssuer);
  EXPECT_EQ(c->session.environments, (std::vector<std::string>{"dev", "prod"}));
  EXPECT_TRUE(auth::has_scope(c->session.scopes, "dagmedic:approve"));
  ASSERT_TRUE(login_->session(c->session_id));
  // Short-lived: gone after session_ttl (15 min).
  clock_->advance(899s);
  EXPECT_TRUE(login_->session(c->session_id));
  clock_->advance(1s);
  EXPECT_FALSE(login_->session(c->session_id));
}

TEST_F(OidcTest, StateIsSingleUseBoundToTheBrowserAndShortLived) {
  auto b = login_->begin("/approvals/a1");
  ASSERT_TRUE(b.ok());
  const std::string state = query_param(b->authorize_url, "state");
  issue(b->authorize_url);
  // Forged or unknown state.
  auto forged = login_->complete(std::string(64, 'a'), "good-code", b->binding);
  ASSERT_FALSE(forged.ok());
  EXPECT_NE(forged.error().message.find("unknown or already used sign-in (state)"),
            std::string::npos);
  // Another browser (no or another pre-login cookie): refused, and the real one still works.
  for (const char* other : {"", "0000"}) {
    auto r = login_->complete(state, "good-code", other);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("started in another browser"), std::string::npos);
  }
  EXPECT_TRUE(token_requests_.empty()) << "no code exchanged for a refused state";
  ASSERT_TRUE(login_->complete(state, "good-code", b->binding).ok());
  // Replayed callback.
  auto again = login_->complete(state, "good-code", b->binding);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::unauthenticated);
  // Too slow: over 10 minutes between begin and the callback.
  auto slow = login_->begin("/approvals/a1");
  ASSERT_TRUE(slow.ok());
  issue(slow->authorize_url);
  clock_->advance(601s);
  auto late =
      login_->complete(query_param(slow->authorize_url, "state"), "good-code", slow->binding);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(token_requests_.size(), 1u);
}

TEST_F(OidcTest, NonceAudienceAndSubjectOfTheTokensAreChecked) {
  struct Case {
    const char* what;
    std::function<void(json& id, json& at)> change;
    const char* want;
  } cases[] = {
      {"nonce of another login", [](json& id, json&) { id["nonce"] = std::string(64, 'b'); },
       "the nonce is not the one this sign-in sent"},
      {"no nonce", [](json& id, json&) { id.erase("nonce"); },
       "the nonce is not the one this sign-in sent"},
      {"ID token for another client", [](json& id, json&) { id["aud"] = "other-client"; },
       "ID token: the token is not meant for this server (aud)"},
      {"ID token azp another client", [](json& id, json&) { id["azp"] = "other-client"; },
       "ID token: issued to another client (azp)"},
      {"expired ID token", [](json& id, json&) { id["exp"] = 1; },
       "ID token: the token has expired"},
      {"access token for another resource",
       [](json&, json& at) { at["aud"] = "https://other.test/api"; },
       "access token: the token is not meant for this server (aud)"},
      {"tokens of two people", [](json&, json& at) { at["sub"] = "sub-mallory"; },
       "name different people"},
      {"agent: principal", [](json&, json& at) { at["preferred_username"] = "agent:x"; },
       "reserved agent: space"},
  };
  for (const auto& c : cases) {
    auto b = login_->begin("/approvals/a1");
    ASSERT_TRUE(b.ok());
    issue(b->authorize_url);
    c.change(id_claims_, access_claims_);
    auto r = login_->complete(query_param(b->authorize_url, "state"), "good-code", b->binding);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_NE(r.error().message.find(c.want), std::string::npos)
        << c.what << ": " << r.error().message;
  }
  // A code the IdP refuses (e.g. a PKCE mismatch).
  auto b = login_->begin("/approvals/a1");
  ASSERT_TRUE(b.ok());
  issue(b->authorize_url);
  auto r = login_->complete(query_param(b->authorize_url, "state"), "stolen-code", b->binding);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("refused the code (invalid_grant)"), std::string::npos);
}

// The page (handler, no sockets) with the sign-in.
class OidcPageTest : public OidcTest {
 protected:
  void SetUp() override {
    OidcTest::SetUp();
    auto s = store::open_sqlite_store({.path = ":memory:"});
    ASSERT_TRUE(s.ok());
    store_ = std::shared_ptr<store::Store>(std::move(*s));
    audit_ = std::make_shared<guard::AuditLog>(
        store_, clock_, guard::AuditKey::from_bytes(std::string(32, 'k')).value());
    guard::ApprovalPolicy p;
    p.require_idp_approvers = true;
    approvals_ = std::make_shared<guard::Approvals>(store_, clock_, p, audit_);
    ApprovalWebOptions o;
    o.clock = clock_;
    o.audit = audit_;
    o.oidc = login_;
    o.secure_cookies = true;
    web_ = std::make_unique<ApprovalWeb>(approvals_, o);
  }

  std::string request(const std::string& env = "dev") {
    guard::ActionParams p;
    p.dag_id = "etl";
    auto a = approvals_->request("trigger_dag", p, {"agent:claude", true, "alice"}, "rerun", env,
                                 env, 1h);
    EXPECT_TRUE(a.ok());
    return a.ok() ? a->id : "";
  }

  WebResponse get(const std::string& target, const std::string& cookie = "") {
    WebRequest r;
    r.method = "GET";
    r.target = target;
    r.headers["host"] = "127.0.0.1:8800";
    if (!cookie.empty()) r.headers["cookie"] = cookie;
    return web_->handle(r);
  }

  // Signs `user` in from approval `id`'s page; returns the session cookie ("dm_session=…").
  std::string sign_in(const std::string& id, const std::string& user, const std::string& sub,
                      json groups = json::array({"env:dev"}),
                      std::string scope = "openid dagmedic:approve") {
    auto r = get("/oidc/login?return=%2Fapprovals%2F" + id);
    EXPECT_EQ(r.status, 302);
    const std::string pre = set_cookie(r, "dm_oidc");
    EXPECT_NE(pre.find("; Path=/oidc/callback"), std::string::npos) << pre;
    EXPECT_NE(pre.find("; HttpOnly; SameSite=Lax; Secure"), std::string::npos) << pre;
    const std::string url = r.header("Location");
    issue(url, user, sub, std::move(groups), std::move(scope));
    auto cb = get("/oidc/callback?code=good-code&state=" + query_param(url, "state"),
                  "dm_oidc=" + cookie_value_of(pre));
    EXPECT_EQ(cb.status, 200) << cb.body;
    EXPECT_NE(cb.body.find("http-equiv=\"refresh\" content=\"0;url=/approvals/" + id),
              std::string::npos);
    const std::string sc = set_cookie(cb, "dm_session");
    EXPECT_NE(
        sc.find("; Path=/approvals/" + id + "; Max-Age=900; HttpOnly; SameSite=Strict; Secure"),
        std::string::npos)
        << sc;
    return "dm_session=" + cookie_value_of(sc);
  }

  // Loads the page with `session` and posts a decision with its CSRF pair.
  WebResponse decide(const std::string& id, const std::string& session,
                     const std::string& decision = "approve", std::string extra = "",
                     const std::string& csrf_from = "", const std::string& page_session = "") {
    auto page = get("/approvals/" + (csrf_from.empty() ? id : csrf_from),
                    page_session.empty() ? session : page_session);
    const std::string csrf_cookie = set_cookie(page, "dm_csrf");
    auto at = page.body.find("name=\"csrf\" value=\"");
    std::string csrf;
    if (at != std::string::npos) {
      at += 19;
      csrf = page.body.substr(at, page.body.find('"', at) - at);
    }
    WebRequest r;
    r.method = "POST";
    r.target = "/approvals/" + id;
    r.headers["host"] = "127.0.0.1:8800";
    r.headers["content-type"] = "application/x-www-form-urlencoded";
    r.headers["cookie"] = session + "; dm_csrf=" + cookie_value_of(csrf_cookie);
    r.body = "csrf=" + csrf + "&decision=" + decision + "&reason=checked" + extra;
    return web_->handle(r);
  }

  std::shared_ptr<store::Store> store_;
  std::shared_ptr<guard::AuditLog> audit_;
  std::shared_ptr<guard::Approvals> approvals_;
  std::unique_ptr<ApprovalWeb> web_;
};

TEST_F(OidcPageTest, SignedInApproverDecidesAndTheDecisionCarriesTheIdpIdentity) {
  const std::string id = request();
  auto page = get("/approvals/" + id);
  EXPECT_NE(page.body.find("id=\"signin-link\" href=\"/oidc/login?return=/approvals/" + id),
            std::string::npos);
  EXPECT_EQ(page.body.find("name=\"token\""), std::string::npos);
  const std::string session = sign_in(id, "carol", "sub-carol");
  auto r = decide(id, session);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("Approved by carol (1 of 1)"), std::string::npos) << r.body;
  auto a = approvals_->get(id);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state, store::ApprovalState::approved);
  ASSERT_EQ(a->decisions.size(), 1u);
  EXPECT_EQ(a->decisions[0].idp_subject, "sub-carol");
  EXPECT_EQ(a->decisions[0].idp_issuer, kIssuer);
  // One decision per sign-in: the session ended.
  EXPECT_FALSE(login_->session(cookie_value_of(session)));
}

TEST_F(OidcPageTest, ASessionDecidesOnlyOnTheApprovalItWasStartedFor) {
  const std::string a = request(), b = request();
  const std::string session = sign_in(a, "carol", "sub-carol");
  // B's page does not count the session as signed in, and a POST to B with it is refused —
  // even with B's own CSRF pair.
  EXPECT_EQ(get("/approvals/" + b, session).body.find("id=\"signed-in\""), std::string::npos);
  // Without a sign-in for B the page has no form (no CSRF pair) at all: the POST fails the CSRF
  // check. With B's pair (from someone signed in for B) and A's session: the session check.
  EXPECT_EQ(decide(b, session).status, 403);
  const std::string other = sign_in(b, "dave", "sub-dave");
  auto r = decide(b, session, "approve", "", "", other);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("This sign-in was made for approval " + a), std::string::npos);
  EXPECT_TRUE(approvals_->get(b)->decisions.empty());
  // A's CSRF pair on B's URL: the CSRF check refuses first.
  EXPECT_EQ(decide(b, session, "approve", "", a).status, 403);
  EXPECT_TRUE(approvals_->get(b)->decisions.empty());
  EXPECT_EQ(decide(a, session).status, 200);
}

TEST_F(OidcPageTest, ScopeEnvironmentTokenFieldsAndMissingSessionAreRefused) {
  const std::string dev = request("dev"), prod = request("prod");
  auto no_role = decide(dev, sign_in(dev, "reader", "sub-r", json::array({"env:dev"}), "openid"));
  EXPECT_EQ(no_role.status, 403);
  EXPECT_NE(no_role.body.find("lacks the dagmedic:approve scope"), std::string::npos);
  auto other_env = decide(prod, sign_in(prod, "dave", "sub-d", json::array({"env:dev"})));
  EXPECT_EQ(other_env.status, 403);
  EXPECT_NE(other_env.body.find("may not decide in environment prod (the sign-in grants: dev)"),
            std::string::npos);
  auto tokens = decide(dev, sign_in(dev, "carol", "sub-c"), "approve", "&approver=bob&token=t");
  EXPECT_EQ(tokens.status, 400);
  EXPECT_NE(tokens.body.find("Approver tokens are not accepted on this server"), std::string::npos);
  auto none = decide(dev, "dm_session=" + std::string(64, 'f'), "approve", "", "",
                     sign_in(dev, "erin", "sub-erin"));
  EXPECT_EQ(none.status, 401);
  // The requester's human (alice, for whom the agent asked) signs in: the guard refuses.
  auto own = decide(dev, sign_in(dev, "alice", "sub-alice"));
  EXPECT_EQ(own.status, 403);
  EXPECT_NE(own.body.find("cannot approve a request made by their own agent"), std::string::npos);
  for (const auto& id : {dev, prod}) EXPECT_TRUE(approvals_->get(id)->decisions.empty());
  EXPECT_TRUE(audit_->verify()->ok);
}

TEST_F(OidcPageTest, ReturnUrlsOutsideThePageAreRefusedAndCallbacksChecked) {
  for (const char* ret : {"https%3A%2F%2Fevil.example%2F", "%2F%2Fevil.example%2Fapprovals%2Fx",
                          "%2Fapprovals%2Fx%2F..%2F..%2Fevil", "", "%2Fhealthz"}) {
    auto r = get(std::string("/oidc/login?return=") + ret);
    EXPECT_EQ(r.status, 400) << ret;
    EXPECT_EQ(r.header("Location"), "") << ret;
  }
  EXPECT_EQ(get("/oidc/login").status, 400);
  // A callback with a forged state, and one without the pre-login cookie.
  EXPECT_EQ(get("/oidc/callback?code=good-code&state=" + std::string(64, 'a')).status, 401);
  auto r = get("/oidc/login?return=%2Fapprovals%2Fabc");
  ASSERT_EQ(r.status, 302);
  auto cb =
      get("/oidc/callback?code=good-code&state=" + query_param(r.header("Location"), "state"));
  EXPECT_EQ(cb.status, 401);
  EXPECT_NE(cb.body.find("started in another browser"), std::string::npos);
  EXPECT_EQ(set_cookie(cb, "dm_session"), "");
  EXPECT_TRUE(audit_->verify()->ok);
}

// The decision API (POST /api/approvals/{id}/decision) with `dagmedic login`'s bearer tokens.
class DecisionApiTest : public OidcPageTest {
 protected:
  // An access token of the CLI client for `user`.
  std::string cli_token(const std::string& user, const std::string& sub,
                        json groups = json::array({"env:dev"}),
                        std::string scope = "openid dagmedic:approve",
                        std::string azp = "dagmedic-cli") {
    return auth::testing::sign(key(), {{"iss", kIssuer},
                                       {"aud", json::array({kAudience, "account"})},
                                       {"sub", sub},
                                       {"azp", azp},
                                       {"exp", now_s() + 300},
                                       {"iat", now_s()},
                                       {"preferred_username", user},
                                       {"scope", scope},
                                       {"groups", groups}});
  }

  WebResponse api(const std::string& id, const std::string& token,
                  std::string body = R"({"decision":"approve","reason":"checked the conf"})",
                  std::map<std::string, std::string> extra = {}) {
    WebRequest r;
    r.method = "POST";
    r.target = "/api/approvals/" + id + "/decision";
    r.headers["host"] = "127.0.0.1:8800";
    r.headers["content-type"] = "application/json";
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    for (auto& [k, v] : extra) r.headers[k] = v;
    r.body = std::move(body);
    return web_->handle(r);
  }

  static json body_of(const WebResponse& r) { return json::parse(r.body, nullptr, false); }
};

TEST_F(DecisionApiTest, ABearerTokenOfTheCliRecordsTheIdpIdentity) {
  const std::string id = request();
  auto r = api(id, cli_token("Carol", "sub-carol"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  auto b = body_of(r);
  EXPECT_EQ(b["principal"], "carol");
  EXPECT_EQ(b["state"], "approved");
  EXPECT_EQ(b["idp"]["subject"], "sub-carol");
  auto a = approvals_->get(id);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->decisions.size(), 1u);
  EXPECT_EQ(a->decisions[0].principal, "carol");
  EXPECT_EQ(a->decisions[0].idp_issuer, kIssuer);
  EXPECT_EQ(a->decisions[0].idp_subject, "sub-carol");
  // Deny works the same way (another approval).
  const std::string other = request();
  auto d = api(other, cli_token("dave", "sub-dave"), R"({"decision":"deny","reason":"no"})");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(approvals_->get(other)->state, store::ApprovalState::denied);
  EXPECT_TRUE(audit_->verify()->ok);
}

TEST_F(DecisionApiTest, NoTokenCookiesOriginAndBadBodiesAreRefused) {
  const std::string id = request();
  auto none = api(id, "");
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(body_of(none)["error"], "unauthorized");
  // A browser's session cookie is no credential here.
  const std::string session = sign_in(id, "carol", "sub-carol");
  auto cookie_only = api(id, "", R"({"decision":"approve","reason":"x"})", {{"cookie", session}});
  EXPECT_EQ(cookie_only.status, 401);
  EXPECT_NE(body_of(cookie_only)["message"].get<std::string>().find("cookies are not accepted"),
            std::string::npos);
  // A browser (Origin), even with a good token.
  auto cross = api(id, cli_token("carol", "sub-carol"), R"({"decision":"approve","reason":"x"})",
                   {{"origin", "https://evil.example"}});
  EXPECT_EQ(cross.status, 403);
  EXPECT_EQ(body_of(cross)["error"], "cross_site");
  // Not JSON (a form a browser could send without a preflight), unknown fields, bad values.
  auto form = api(id, cli_token("carol", "sub-carol"), "decision=approve&reason=x",
                  {{"content-type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(form.status, 415);
  EXPECT_EQ(api(id, cli_token("carol", "sub-carol"), "[]").status, 400);
  auto claimed = api(id, cli_token("carol", "sub-carol"),
                     R"({"decision":"approve","reason":"x","principal":"bob"})");
  EXPECT_EQ(claimed.status, 400);
  EXPECT_EQ(api(id, cli_token("carol", "sub-carol"), R"({"decision":"maybe","reason":"x"})").status,
            400);
  EXPECT_EQ(
      api(id, cli_token("carol", "sub-carol"), R"({"decision":"approve","reason":" "})").status,
      400);
  // Bad tokens: garbage, another client's (an agent's service account), expired.
  auto garbage = api(id, "not-a-jwt");
  EXPECT_EQ(garbage.status, 401);
  EXPECT_EQ(garbage.header("WWW-Authenticate"), "Bearer error=\"invalid_token\"");
  auto agent = api(id, cli_token("service-account-dagmedic-agent", "sub-agent",
                                 json::array({"env:dev"}), "dagmedic:approve", "dagmedic-agent"));
  EXPECT_EQ(agent.status, 401);
  EXPECT_NE(body_of(agent)["message"].get<std::string>().find("not to dagmedic login's client"),
            std::string::npos);
  auto old = cli_token("carol", "sub-carol");
  clock_->advance(std::chrono::seconds(400));
  EXPECT_EQ(api(id, old).status, 401);
  // Unknown approval, and the page's routes for GET.
  EXPECT_EQ(api("nope", cli_token("carol", "sub-carol")).status, 404);
  EXPECT_EQ(get("/api/approvals/" + id + "/decision").status, 405);
  EXPECT_TRUE(approvals_->get(id)->decisions.empty());
  EXPECT_TRUE(audit_->verify()->ok);
}

TEST_F(DecisionApiTest, ScopeEnvironmentRequesterAndTheSameSubjectTwice) {
  const std::string dev = request("dev");
  auto reader = api(dev, cli_token("reader", "sub-r", json::array({"env:dev"}), "openid"));
  EXPECT_EQ(reader.status, 403);
  EXPECT_EQ(body_of(reader)["error"], "insufficient_scope");
  EXPECT_NE(reader.header("WWW-Authenticate").find("scope=\"dagmedic:approve\""),
            std::string::npos);
  auto wrong_env = api(dev, cli_token("dave", "sub-d", json::array({"env:prod"})));
  EXPECT_EQ(wrong_env.status, 403);
  EXPECT_NE(body_of(wrong_env)["message"].get<std::string>().find(
                "may not decide in environment dev (the login grants: prod)"),
            std::string::npos);
  // The human the requesting agent acts for.
  auto own = api(dev, cli_token("alice", "sub-alice"));
  EXPECT_EQ(own.status, 403);
  EXPECT_NE(body_of(own)["message"].get<std::string>().find(
                "cannot approve a request made by their own agent"),
            std::string::npos);
  EXPECT_TRUE(approvals_->get(dev)->decisions.empty());
  // prod needs 2 (the default policy): the same subject under two usernames counts once.
  const std::string prod = request("prod");
  auto first = api(prod, cli_token("carol", "sub-carol", json::array({"env:prod"})));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(body_of(first)["state"], "pending");
  auto again = api(prod, cli_token("carol2", "sub-carol", json::array({"env:prod"})));
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_NE(
      body_of(again)["message"].get<std::string>().find("same person (IdP subject sub-carol)"),
      std::string::npos);
  EXPECT_EQ(approvals_->get(prod)->decisions.size(), 1u);
  auto second = api(prod, cli_token("dave", "sub-dave", json::array({"env:prod"})));
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(body_of(second)["state"], "approved");
  // Decided already: 409.
  EXPECT_EQ(api(prod, cli_token("erin", "sub-erin", json::array({"env:prod"}))).status, 409);
  EXPECT_TRUE(audit_->verify()->ok);
}

TEST_F(DecisionApiTest, WithoutAuthThereIsNoDecisionApi) {
  ApprovalWebOptions o;
  o.clock = clock_;
  o.audit = audit_;
  ApprovalWeb plain(approvals_, o);
  WebRequest r;
  r.method = "POST";
  r.target = "/api/approvals/" + request() + "/decision";
  r.headers["host"] = "127.0.0.1:8800";
  r.headers["content-type"] = "application/json";
  r.headers["authorization"] = "Bearer " + cli_token("carol", "sub-carol");
  r.body = R"({"decision":"approve","reason":"x"})";
  EXPECT_EQ(plain.handle(r).status, 404);
}

}  // namespace
}  // namespace dm::web
