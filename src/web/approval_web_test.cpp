// The approval page over real loopback HTTP (CurlHttpClient) on a real guard::Approvals with a
// SQLite store and a ManualClock: render, CSRF, authentication, and guard refusals.
#include "web/approval_web.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>

#include "guard/canonical.h"
#include "http/curl_http_client.h"
#include "store/sqlite_store.h"
#include "web/approval_web_handler.h"
#include "web/approval_web_page.h"

namespace dm::web {
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
    o.audit = audit_;
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
  static Form form_of(const std::string& set_cookie, const std::string& body) {
    Form f;
    std::smatch m;
    if (std::regex_search(set_cookie, m, std::regex("dm_csrf=([0-9a-f]+)"))) f.cookie = m[1];
    if (std::regex_search(body, m, std::regex("name=\"csrf\" value=\"([0-9a-f]+)\"")))
      f.csrf = m[1];
    EXPECT_FALSE(f.cookie.empty());
    EXPECT_FALSE(f.csrf.empty());
    return f;
  }
  Form load_form(const std::string& id) {
    auto r = get("/approvals/" + id);
    return form_of(r.header("Set-Cookie"), r.body);
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

  // The same exchange without sockets, from a chosen source address (handle()).
  Form handle_form(ApprovalWeb& web, const std::string& id) {
    auto r = web.handle({"GET", "/approvals/" + id, {{"host", "localhost"}}, "", ""});
    return form_of(r.header("Set-Cookie"), r.body);
  }
  WebResponse handle_post(ApprovalWeb& web, const std::string& id, const std::string& who,
                          const std::string& token, const std::string& addr) {
    auto f = handle_form(web, id);
    WebRequest req;
    req.method = "POST";
    req.target = "/approvals/" + id;
    req.headers = {{"host", "localhost"},
                   {"content-type", "application/x-www-form-urlencoded"},
                   {"cookie", "dm_csrf=" + f.cookie}};
    req.body = "csrf=" + f.csrf + "&approver=" + http::url_encode(who) +
               "&token=" + http::url_encode(token) + "&reason=checked&decision=approve";
    req.remote_address = addr;
    return web.handle(req);
  }

  // The audit export, as text, and the auth_failed entries in it.
  std::string exported() {
    std::ostringstream out;
    EXPECT_TRUE(audit_->export_jsonl(out).ok());
    return out.str();
  }
  std::vector<nlohmann::json> auth_failures() {
    std::vector<nlohmann::json> out;
    std::istringstream in(exported());
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);
      if (j["entry"]["tool"] == "approval_page.auth_failed") out.push_back(j["entry"]);
    }
    return out;
  }

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
  auto f = page::parse_form("a=x+y%21&b=&c");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->at("a"), "x y!");
  EXPECT_EQ(f->at("b"), "");
  EXPECT_EQ(f->at("c"), "");
  EXPECT_FALSE(page::parse_form("a=%4").ok());
  EXPECT_FALSE(page::parse_form("a=%zz").ok());
  EXPECT_FALSE(page::parse_form("a=1&a=2").ok());
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
  EXPECT_NE(r.body.find(page::format_time_ms(a.expires_at_ms)), std::string::npos);
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
  WebRequest req{"GET", "/approvals/" + id, {{"host", "localhost:1"}}, "", ""};
  auto r = web_->handle(req);
  EXPECT_EQ(r.status, 200);
  req.method = "DELETE";
  EXPECT_EQ(web_->handle(req).status, 405);
  req.headers.erase("host");
  EXPECT_EQ(web_->handle(req).status, 403);
}

TEST(ApprovalWebHelpers, AuditTextIsCappedValidUtf8WithoutControls) {
  EXPECT_EQ(page::audit_text("bob"), "bob");
  EXPECT_EQ(page::audit_text("a\nb\x7f"), "a?b?");
  EXPECT_EQ(page::audit_text("x\xff\xc0\x80y"), "x???y");  // invalid byte, overlong NUL
  std::string long_name(100, 'a');
  EXPECT_EQ(page::audit_text(long_name), std::string(64, 'a') + "\xE2\x80\xA6");
  // A 2-byte character straddling the cap is not cut in half.
  std::string s = std::string(63, 'a') + "\xC3\xA9";
  EXPECT_EQ(page::audit_text(s), std::string(63, 'a') + "\xE2\x80\xA6");
  EXPECT_EQ(page::audit_text("\xC3\xA9t\xC3\xA9"), "\xC3\xA9t\xC3\xA9");
}

TEST(ApprovalWebHelpers, AddressKeys) {
  EXPECT_EQ(page::address_key("10.1.2.3"), "addr:10.1.2.3");
  EXPECT_EQ(page::address_key("::ffff:10.1.2.3"), "addr:10.1.2.3");
  EXPECT_EQ(page::address_key("2001:db8:1:2:3:4:5:6"), "addr:2001:db8:1:2::/64");
  EXPECT_EQ(page::address_key("2001:db8:1:2:ffff::1"), "addr:2001:db8:1:2::/64");
  EXPECT_EQ(page::address_key("::1"), "addr:::1");
  EXPECT_EQ(page::address_key(""), "addr:unknown");
}

TEST_F(ApprovalWebTest, FailedLoginsAreAuditedWithoutTokenMaterial) {
  std::string id = request();
  auto f = load_form(id);
  EXPECT_EQ(post(id, f, "bob", kAliceToken).status, 401);
  EXPECT_EQ(post(id, f, "Mallory", kBobToken, "deny").status, 401);
  auto ev = auth_failures();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0]["principal"], "bob");
  EXPECT_EQ(ev[0]["upstream_status"], "wrong_token");
  EXPECT_EQ(ev[0]["decision"], "refused");
  EXPECT_EQ(ev[0]["approval_id"], id);
  EXPECT_NE(ev[0]["upstream_summary"].get<std::string>().find("source 127.0.0.1"),
            std::string::npos)
      << ev[0].dump();
  EXPECT_EQ(ev[1]["principal"], "mallory");
  EXPECT_EQ(ev[1]["upstream_status"], "unknown_approver");
  EXPECT_NE(ev[1]["upstream_summary"].get<std::string>().find("attempted deny"), std::string::npos);
  const std::string all = exported();
  for (const char* t : {kAliceToken, kBobToken})
    EXPECT_EQ(all.find(t), std::string::npos) << "token in the audit";
  for (const char* t : {kAliceToken, kBobToken, kAgentToken})
    EXPECT_EQ(all.find(guard::sha256_hex(t)), std::string::npos) << "token hash in the audit";
  auto v = audit_->verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->reason;
  // A success is audited once, by Approvals (approve), not as a page event.
  EXPECT_EQ(post(id, load_form(id), "bob", kBobToken).status, 200);
  EXPECT_EQ(auth_failures().size(), 2u);
  EXPECT_NE(exported().find("\"approval_event\":\"approved\""), std::string::npos);
}

TEST_F(ApprovalWebTest, FiveFailuresLockOutEvenTheRightTokenThenTheLockoutEnds) {
  std::string id = request();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(post(id, load_form(id), "bob", "guess").status, 401) << i;
  auto fifth = post(id, load_form(id), "bob", "guess");
  EXPECT_EQ(fifth.status, 429);
  EXPECT_EQ(fifth.header("Retry-After"), "300");
  EXPECT_NE(fifth.body.find("try again in 5 minutes"), std::string::npos) << fifth.body;
  clock_->advance(60s);
  auto right = post(id, load_form(id), "bob", kBobToken);
  EXPECT_EQ(right.status, 429) << "the right token must not help during a lockout";
  EXPECT_EQ(right.header("Retry-After"), "240");
  EXPECT_EQ(state(id), store::ApprovalState::pending);
  EXPECT_TRUE(approvals_->get(id).value().decisions.empty());
  auto ev = auth_failures();
  ASSERT_EQ(ev.size(), 6u);
  EXPECT_EQ(ev[4]["upstream_status"], "wrong_token");
  EXPECT_NE(ev[4]["upstream_summary"].get<std::string>().find("now locked out for 300 s"),
            std::string::npos);
  EXPECT_EQ(ev[5]["upstream_status"], "locked_out");
  clock_->advance(240s);
  EXPECT_EQ(post(id, load_form(id), "bob", kBobToken).status, 200);
  EXPECT_EQ(state(id), store::ApprovalState::approved);
}

TEST_F(ApprovalWebTest, LockoutDoublesForTheSameKey) {
  std::string id = request();
  for (int i = 0; i < 5; ++i) handle_post(*web_, id, "bob", "guess", "10.0.0.1");
  clock_->advance(300s);
  WebResponse r;
  for (int i = 0; i < 5; ++i) r = handle_post(*web_, id, "bob", "guess", "10.0.0.2");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("Retry-After"), "600") << "bob's second lockout (the new address's first)";
}

TEST_F(ApprovalWebTest, LockoutIsPerAddressAndPerPrincipal) {
  std::string id = request({{"date", "2026-03-03"}}, "prod");  // needs 2 approvers
  // Mallory at 10.0.0.66 guesses bob's token: bob and 10.0.0.66 are locked.
  for (int i = 0; i < 5; ++i) handle_post(*web_, id, "bob", "guess", "10.0.0.66");
  EXPECT_EQ(handle_post(*web_, id, "bob", kBobToken, "10.0.0.7").status, 429);
  EXPECT_EQ(handle_post(*web_, id, "carol", "x", "10.0.0.66").status, 429);
  // Another principal from another address is unaffected.
  auto other = handle_post(*web_, id, "agent:claude", "wrong", "10.0.0.7");
  EXPECT_EQ(other.status, 401);
  EXPECT_TRUE(other.header("Retry-After").empty());
  // Rotating principals from one address: the address locks after 5, whoever is named.
  for (int i = 0; i < 4; ++i) handle_post(*web_, id, "p" + std::to_string(i), "x", "10.0.0.8");
  EXPECT_EQ(handle_post(*web_, id, "p4", "x", "10.0.0.8").status, 429);
  EXPECT_EQ(state(id), store::ApprovalState::pending);
}

// An AuditLog that cannot write (a read-only SQLite file) for the page, while Approvals works.
class ApprovalWebAuditDownTest : public ApprovalWebTest {
 protected:
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::shared_ptr<guard::AuditLog> read_only_audit() {
    char tmpl[] = "/tmp/dm-approvalweb-XXXXXX";
    const char* d = mkdtemp(tmpl);
    EXPECT_NE(d, nullptr);
    dir_ = d ? d : "";
    const std::string path = dir_ + "/ro.db";
    { EXPECT_TRUE(store::open_sqlite_store({.path = path}).ok()); }
    auto ro = store::open_sqlite_store({.path = path, .read_only = true});
    EXPECT_TRUE(ro.ok());
    std::shared_ptr<store::Store> st(std::move(*ro));
    return std::make_shared<guard::AuditLog>(
        st, clock_, guard::AuditKey::from_bytes(std::string(32, 'k')).value());
  }
  std::string dir_;
};

TEST_F(ApprovalWebAuditDownTest, FailedLoginThatCannotBeAuditedIsRefused503) {
  std::string id = request();
  ApprovalWebOptions o;
  o.clock = clock_;
  o.approvers = {{"bob", guard::sha256_hex(kBobToken)}};
  o.audit = read_only_audit();
  ApprovalWeb down(approvals_, o);
  auto r = handle_post(down, id, "bob", "guess", "10.0.0.1");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("could not be written to the audit log"), std::string::npos);
  EXPECT_EQ(state(id), store::ApprovalState::pending);
  // Lockouts still hold (and are refused 503 too while the audit is down).
  for (int i = 0; i < 4; ++i) handle_post(down, id, "bob", "guess", "10.0.0.1");
  EXPECT_EQ(handle_post(down, id, "bob", kBobToken, "10.0.0.1").status, 503);
  EXPECT_EQ(state(id), store::ApprovalState::pending);
  // Without any audit log: the same.
  o.audit = nullptr;
  ApprovalWeb none(approvals_, o);
  EXPECT_EQ(handle_post(none, id, "bob", "guess", "10.0.0.1").status, 503);
  // A good login is not a failure: it goes to Approvals, which audits it in its own log.
  EXPECT_EQ(handle_post(none, id, "bob", kBobToken, "10.0.0.1").status, 200);
  EXPECT_EQ(state(id), store::ApprovalState::approved);
}

}  // namespace
}  // namespace dm::web
