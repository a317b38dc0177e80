// The approval page over real loopback HTTP (CurlHttpClient) on a real guard::Approvals with a
// SQLite store and a ManualClock: render, CSRF, authentication, and guard refusals.
#include "app/approval_web.h"

#include <gtest/gtest.h>

#include <regex>

#include "app/approval_web_handler.h"
#include "app/approval_web_page.h"
#include "guard/canonical.h"
#include "http/curl_http_client.h"
#include "store/sqlite_store.h"

namespace dm::app {
namespace {

using namespace std::chrono_literals;

constexpr const char* kBobToken = "bob-token-0123456789abcdef";
constexpr const char* kAliceToken = "alice-token-fedcba9876543210";
constexpr const char* kAgentToken = "agent-token-5555555555";

http::Request make_request(http::Method m, std::string url, http::Headers h = {},
                           std::string body = "") {
  http::Request r;
  r.method = m;
  r.url = std::move(url);
  r.headers = std::move(h);
  r.body = std::move(body);
  return r;
}

class ApprovalWebTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_sqlite_store({.path = ":memory:"});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::shared_ptr<store::Store>(std::move(*s));
    clock_ = std::make_shared<ManualClock>(std::chrono::system_clock::time_point(1'800'000'000s));
    audit_ = std::make_shared<guard::AuditLog>(
        store_, clock_, guard::AuditKey::from_bytes(std::string(32, 'k')).value());
    approvals_ =
        std::make_shared<guard::Approvals>(store_, clock_, guard::ApprovalPolicy{}, audit_);
    ApprovalWebOptions o;
    o.clock = clock_;
    o.approvers = {{"bob", guard::sha256_hex(kBobToken)},
                   {"alice", guard::sha256_hex(kAliceToken)},
                   {"agent:claude", guard::sha256_hex(kAgentToken)}};
    web_ = std::make_unique<ApprovalWeb>(approvals_, o);
    auto port = web_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    base_ = web_->base_url();
  }

  // A pending trigger_dag approval requested by alice (human) in dev (1 approval needed).
  std::string request(nlohmann::json conf = {{"date", "2026-01-01"}}, std::string tier = "dev") {
    guard::ActionParams p;
    p.dag_id = "etl_orders";
    p.conf = std::move(conf);
    auto a = approvals_->request("trigger_dag", p, {"alice", false}, "rerun after fix",
                                 tier == "dev" ? "dev" : "prod", tier, 1h);
    EXPECT_TRUE(a.ok()) << a.error().message;
    return a.ok() ? a->id : "";
  }

  http::Response get(const std::string& path, http::Headers h = {}) {
    auto r = client_.send(make_request(http::Method::get, base_ + path, h));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : http::Response{};
  }

  struct Form {
    std::string cookie, csrf;
  };
  // Loads the page and extracts the CSRF cookie and hidden field.
  Form load_form(const std::string& id) {
    auto r = get("/approvals/" + id);
    Form f;
    std::smatch m;
    std::string set = r.header("Set-Cookie");
    if (std::regex_search(set, m, std::regex("dm_csrf=([0-9a-f]+)"))) f.cookie = m[1];
    if (std::regex_search(r.body, m, std::regex("name=\"csrf\" value=\"([0-9a-f]+)\"")))
      f.csrf = m[1];
    EXPECT_FALSE(f.cookie.empty());
    EXPECT_FALSE(f.csrf.empty());
    return f;
  }

  http::Response post(const std::string& id, const Form& f, const std::string& who,
                      const std::string& token, const std::string& decision = "approve",
                      http::Headers extra = {}) {
    http::Headers h = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Cookie", "dm_csrf=" + f.cookie}};
    for (auto& e : extra) h.push_back(e);
    std::string body = "csrf=" + f.csrf + "&approver=" + http::url_encode(who) +
                       "&token=" + http::url_encode(token) +
                       "&reason=checked+the+conf&decision=" + decision;
    auto r = client_.send(make_request(http::Method::post, base_ + "/approvals/" + id, h, body));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : http::Response{};
  }

  store::ApprovalState state(const std::string& id) { return approvals_->get(id).value().state; }

  std::shared_ptr<store::Store> store_;
  std::shared_ptr<ManualClock> clock_;
  std::shared_ptr<guard::AuditLog> audit_;
  std::shared_ptr<guard::Approvals> approvals_;
  std::unique_ptr<ApprovalWeb> web_;
  std::string base_;
  http::CurlHttpClient client_;
};

TEST(ApprovalPageUrl, JoinsBaseAndEncodesTheId) {
  EXPECT_EQ(approval_page_url("http://127.0.0.1:8766/", "ab12"),
            "http://127.0.0.1:8766/approvals/ab12");
  EXPECT_EQ(approval_page_url("http://h", "a/b"), "http://h/approvals/a%2Fb");
}

TEST(Approvers, ParsesHashesAndRefusesLiteralTokensAndBadHashes) {
  std::string h(64, 'A');
  auto ok = parse_approvers("approvers:\n  Bob: {token_sha256: " + h + "}\n", "t.yaml");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->at("bob"), std::string(64, 'a'));
  auto lit = parse_approvers("approvers:\n  bob: {token: hunter2}\n", "t.yaml");
  ASSERT_FALSE(lit.ok());
  EXPECT_NE(lit.error().message.find("never write the token itself"), std::string::npos);
  EXPECT_EQ(lit.error().message.find("hunter2"), std::string::npos);
  EXPECT_FALSE(parse_approvers("approvers:\n  bob: {token_sha256: abc}\n", "t").ok());
  EXPECT_FALSE(
      parse_approvers(
          "approvers:\n  bob: {token_sha256: " + h + "}\n  BOB: {token_sha256: " + h + "}\n", "t")
          .ok());
  EXPECT_FALSE(parse_approvers("approvers: [1, 2]\n", "t").ok());
  EXPECT_FALSE(parse_approvers("approvers: {bob: {token_sha256: [x]}}\n", "t").ok());
  auto none = parse_approvers("environments: {}\n", "t");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(load_approvers("/nonexistent/approvers.yaml").error().code, Errc::not_found);
}

TEST(Form, DecodesAndRefusesMalformedOrRepeatedFields) {
  auto f = web::parse_form("a=x+y%21&b=&c");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->at("a"), "x y!");
  EXPECT_EQ(f->at("b"), "");
  EXPECT_EQ(f->at("c"), "");
  EXPECT_FALSE(web::parse_form("a=%4").ok());
  EXPECT_FALSE(web::parse_form("a=%zz").ok());
  EXPECT_FALSE(web::parse_form("a=1&a=2").ok());
}

TEST_F(ApprovalWebTest, PageShowsTheExactParametersEscapedWithoutScripts) {
  std::string id = request({{"note", "<script>alert(1)</script>\"'&"}, {"n", 3}});
  auto r = get("/approvals/" + id);
  EXPECT_EQ(r.status, 200);
  auto a = approvals_->get(id).value();
  EXPECT_NE(r.body.find(a.params_hash), std::string::npos);
  EXPECT_NE(r.body.find("etl_orders"), std::string::npos);
  EXPECT_NE(r.body.find("trigger_dag"), std::string::npos);
  EXPECT_NE(r.body.find("alice"), std::string::npos);
  EXPECT_NE(r.body.find("rerun after fix"), std::string::npos);
  EXPECT_NE(r.body.find(web::format_time_ms(a.expires_at_ms)), std::string::npos);
  EXPECT_NE(r.body.find("&lt;script&gt;alert(1)&lt;/script&gt;\\&quot;&#39;&amp;"),
            std::string::npos);
  EXPECT_EQ(r.body.find("<script"), std::string::npos);
  EXPECT_NE(r.body.find("&quot;n&quot;: 3"), std::string::npos) << "conf is pretty JSON";
  EXPECT_NE(r.header("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  std::string cookie = r.header("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie.find("Path=/approvals/" + id), std::string::npos);
}

TEST_F(ApprovalWebTest, ApproveWithAValidTokenApprovesAndIsAudited) {
  std::string id = request();
  auto f = load_form(id);
  auto r = post(id, f, "Bob", kBobToken, "approve", {{"Origin", base_}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("Approved by bob (1 of 1)"), std::string::npos) << r.body;
  EXPECT_EQ(state(id), store::ApprovalState::approved);
  EXPECT_EQ(r.body.find(kBobToken), std::string::npos);
  auto v = audit_->verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok);
  EXPECT_GE(v->entries, 2);  // request + approve
}

TEST_F(ApprovalWebTest, WrongTokenOrUnknownApproverIsRefusedAndNothingRecorded) {
  std::string id = request();
  auto f = load_form(id);
  auto r = post(id, f, "bob", kAliceToken);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("Unknown approver or wrong token"), std::string::npos);
  auto r2 = post(id, f, "mallory", kBobToken);
  EXPECT_EQ(r2.status, 401);
  EXPECT_NE(r2.body.find("Unknown approver or wrong token"), std::string::npos);
  EXPECT_EQ(state(id), store::ApprovalState::pending);
  EXPECT_TRUE(approvals_->get(id).value().decisions.empty());
  EXPECT_EQ(r.body.find(kAliceToken), std::string::npos);
}

TEST_F(ApprovalWebTest, RequesterCannotApproveTheirOwnRequest) {
  std::string id = request();
  auto f = load_form(id);
  auto r = post(id, f, "alice", kAliceToken);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("the requester (alice) cannot approve their own request"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(state(id), store::ApprovalState::pending);
}

TEST_F(ApprovalWebTest, AgentIdentityCannotApprove) {
  std::string id = request();
  auto f = load_form(id);
  auto r = post(id, f, "agent:claude", kAgentToken);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("cannot approve; a human must approve"), std::string::npos) << r.body;
  EXPECT_EQ(state(id), store::ApprovalState::pending);
}

TEST_F(ApprovalWebTest, CsrfTokenIsBoundToTheCookieAndTheApprovalId) {
  std::string id = request();
  std::string other = request({{"date", "2026-02-02"}});
  auto f = load_form(id);
  // No cookie.
  Form no_cookie{"", f.csrf};
  EXPECT_EQ(post(id, no_cookie, "bob", kBobToken).status, 403);
  // A form of another approval.
  EXPECT_EQ(post(other, f, "bob", kBobToken).status, 403);
  // Cookie from a different page load.
  auto g = load_form(id);
  EXPECT_EQ(post(id, {g.cookie, f.csrf}, "bob", kBobToken).status, 403);
  // Cross-site POST (Origin of another site) with a valid pair.
  auto x = post(id, f, "bob", kBobToken, "approve", {{"Origin", "http://evil.example.com"}});
  EXPECT_EQ(x.status, 403);
  EXPECT_NE(x.body.find("cross-site"), std::string::npos);
  EXPECT_EQ(state(id), store::ApprovalState::pending);
  EXPECT_EQ(state(other), store::ApprovalState::pending);
}

TEST_F(ApprovalWebTest, ForeignHostIsRefused) {
  std::string id = request();
  auto r = get("/approvals/" + id, {{"Host", "evil.example.com"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body.find("etl_orders"), std::string::npos);
}

TEST_F(ApprovalWebTest, DenyIsFinalAndTheFormDisappears) {
  std::string id = request();
  auto f = load_form(id);
  auto r = post(id, f, "bob", kBobToken, "deny");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(state(id), store::ApprovalState::denied);
  auto page = get("/approvals/" + id);
  EXPECT_NE(page.body.find("No decision can be made"), std::string::npos);
  EXPECT_TRUE(page.header("Set-Cookie").empty());
  // A stale form can't approve a denied approval.
  auto again = post(id, f, "alice", kAliceToken);
  EXPECT_EQ(again.status, 403);  // requester, refused first
  auto late = post(id, f, "agent:claude", kAgentToken, "deny");
  EXPECT_EQ(late.status, 409) << late.body;
}

TEST_F(ApprovalWebTest, ExpiredApprovalShowsExpiredAndRefusesDecisions) {
  std::string id = request();
  auto f = load_form(id);
  clock_->advance(2h);
  auto page = get("/approvals/" + id);
  EXPECT_NE(page.body.find("(expired)"), std::string::npos);
  EXPECT_EQ(page.body.find("name=\"csrf\""), std::string::npos);
  auto r = post(id, f, "bob", kBobToken);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("Refused"), std::string::npos);
  EXPECT_EQ(state(id), store::ApprovalState::pending);
}

TEST_F(ApprovalWebTest, ProdNeedsTwoDistinctApprovers) {
  std::string id = request({{"date", "2026-01-01"}}, "prod");
  auto f = load_form(id);
  EXPECT_EQ(post(id, f, "bob", kBobToken).status, 200);
  EXPECT_EQ(state(id), store::ApprovalState::pending);
  auto again = post(id, load_form(id), "bob", kBobToken);
  EXPECT_EQ(again.status, 409);  // same principal counts once
  EXPECT_EQ(state(id), store::ApprovalState::pending);
}

TEST_F(ApprovalWebTest, BadRequestsGetClearErrors) {
  EXPECT_EQ(get("/approvals/nope").status, 404);
  EXPECT_EQ(get("/approvals/bad%20id").status, 400);
  EXPECT_EQ(get("/elsewhere").status, 404);
  EXPECT_EQ(get("/healthz").body, "ok\n");
  std::string id = request();
  auto idx = get("/");
  EXPECT_EQ(idx.status, 200);
  EXPECT_NE(idx.body.find("/approvals/" + id), std::string::npos);
  auto f = load_form(id);
  // Wrong content type.
  auto ct = client_.send(make_request(http::Method::post, base_ + "/approvals/" + id,
                                      {{"Content-Type", "application/json"}}, "{}"));
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(ct->status, 415);
  // Oversized body.
  auto big = client_.send(make_request(http::Method::post, base_ + "/approvals/" + id,
                                       {{"Content-Type", "application/x-www-form-urlencoded"}},
                                       "reason=" + std::string(100 * 1024, 'x')));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->status, 413);
  // Missing decision / reason.
  auto none = post(id, f, "bob", kBobToken, "maybe");
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(state(id), store::ApprovalState::pending);
}

TEST_F(ApprovalWebTest, HandleWorksWithoutSockets) {
  std::string id = request();
  WebRequest req{"GET", "/approvals/" + id, {{"host", "localhost:1"}}, ""};
  auto r = web_->handle(req);
  EXPECT_EQ(r.status, 200);
  req.method = "DELETE";
  EXPECT_EQ(web_->handle(req).status, 405);
  req.headers.erase("host");
  EXPECT_EQ(web_->handle(req).status, 403);
}

}  // namespace
}  // namespace dm::app
