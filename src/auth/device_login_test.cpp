// `dagmedic login`'s client side (device_login.h, token_file.h) against a fake identity provider
// (FakeHttpClient) and a ManualClock: discovery, the device authorization request, polling
// (pending, slow_down, denied, expired, garbage), refresh, revocation, and the token file
// (0600 in a 0700 dir, atomic replacement, refused when others can read it). No sleeping.
#include "auth/device_login.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "auth/token_file.h"
#include "http/fake_http_client.h"

namespace dm::auth {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using http::FakeHttpClient;

constexpr const char* kIssuer = "https://idp.test/realms/team";

std::string field(const std::string& body, const std::string& name) {
  // application/x-www-form-urlencoded, values as url_encode() wrote them.
  const std::string key = name + "=";
  std::size_t at = 0;
  while (at < body.size()) {
    auto amp = body.find('&', at);
    std::string pair = body.substr(at, amp == std::string::npos ? std::string::npos : amp - at);
    if (pair.rfind(key, 0) == 0) return pair.substr(key.size());
    if (amp == std::string::npos) break;
    at = amp + 1;
  }
  return "";
}

class DeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http_->set_handler([this](const http::Request& r) -> Result<http::Response> {
      seen_.push_back(r);
      if (r.url ==
          std::string("https://idp.test/.well-known/oauth-authorization-server/realms/team"))
        return FakeHttpClient::json(404, "{}");
      if (r.url == std::string("https://idp.test/.well-known/openid-configuration/realms/team"))
        return FakeHttpClient::json(404, "{}");
      if (r.url == std::string(kIssuer) + "/.well-known/openid-configuration")
        return FakeHttpClient::json(200, metadata_.dump());
      if (r.url == std::string(kIssuer) + "/device") return device_answer_;
      if (r.url == std::string(kIssuer) + "/token") {
        token_times_.push_back(clock_->now());
        if (field(r.body, "grant_type") == "refresh_token") return refresh_answer_;
        if (answers_.empty())
          return FakeHttpClient::json(400, R"({"error":"authorization_pending"})");
        auto a = answers_.front();
        answers_.erase(answers_.begin());
        return a;
      }
      if (r.url == std::string(kIssuer) + "/revoke") return FakeHttpClient::json(200, "");
      return FakeHttpClient::json(404, "{}");
    });
  }

  DeviceClient client() {
    DeviceClientOptions o;
    o.issuer = kIssuer;
    o.client_id = "dagmedic-cli";
    o.scope = "openid dagmedic:approve";
    return DeviceClient(o, http_, clock_);
  }

  static Result<http::Response> tokens(int expires_in = 300) {
    return FakeHttpClient::json(200, json({{"access_token", "AT-1"},
                                           {"refresh_token", "RT-1"},
                                           {"token_type", "Bearer"},
                                           {"expires_in", expires_in},
                                           {"refresh_expires_in", 1800},
                                           {"scope", "openid dagmedic:approve"}})
                                         .dump());
  }
  static Result<http::Response> oauth_error(const char* e) {
    return FakeHttpClient::json(400, json({{"error", e}}).dump());
  }

  std::shared_ptr<FakeHttpClient> http_ = std::make_shared<FakeHttpClient>();
  std::shared_ptr<ManualClock> clock_ =
      std::make_shared<ManualClock>(Clock::time_point(std::chrono::seconds(1'800'000'000)));
  json metadata_ = {{"issuer", kIssuer},
                    {"device_authorization_endpoint", std::string(kIssuer) + "/device"},
                    {"token_endpoint", std::string(kIssuer) + "/token"},
                    {"revocation_endpoint", std::string(kIssuer) + "/revoke"}};
  Result<http::Response> device_answer_ =
      FakeHttpClient::json(200, json({{"device_code", "DEVICE-SECRET"},
                                      {"user_code", "ABCD-EFGH"},
                                      {"verification_uri", "https://idp.test/realms/team/device"},
                                      {"verification_uri_complete",
                                       "https://idp.test/realms/team/device?user_code=ABCD-EFGH"},
                                      {"expires_in", 600},
                                      {"interval", 5}})
                                    .dump());
  Result<http::Response> refresh_answer_ = tokens();
  std::vector<Result<http::Response>> answers_;
  std::vector<Clock::time_point> token_times_;
  std::vector<http::Request> seen_;
};

TEST_F(DeviceTest, PendingThenTokens) {
  auto c = client();
  auto eps = c.discover();
  ASSERT_TRUE(eps.ok()) << eps.error().message;
  EXPECT_EQ(eps->device_authorization_endpoint, std::string(kIssuer) + "/device");
  EXPECT_EQ(eps->revocation_endpoint, std::string(kIssuer) + "/revoke");
  auto code = c.start(*eps);
  ASSERT_TRUE(code.ok()) << code.error().message;
  EXPECT_EQ(code->user_code, "ABCD-EFGH");
  EXPECT_EQ(code->interval, 5s);
  const auto& start_req = seen_.back();
  EXPECT_EQ(field(start_req.body, "client_id"), "dagmedic-cli");
  EXPECT_EQ(field(start_req.body, "scope"), "openid%20dagmedic%3Aapprove");
  answers_ = {oauth_error("authorization_pending"), oauth_error("authorization_pending"), tokens()};
  const auto t0 = clock_->now();
  auto t = c.poll(*eps, *code);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->access_token, "AT-1");
  EXPECT_EQ(t->refresh_token, "RT-1");
  EXPECT_EQ(c.polls(), 3u);
  ASSERT_EQ(token_times_.size(), 3u);
  EXPECT_EQ(token_times_[0] - t0, 5s);  // waits one interval before the first poll
  EXPECT_EQ(token_times_[2] - t0, 15s);
  EXPECT_EQ(t->expires_at, token_times_[2] + 300s);
  EXPECT_EQ(t->refresh_expires_at, token_times_[2] + 1800s);
  const auto& poll_req = seen_.back();
  EXPECT_EQ(field(poll_req.body, "grant_type"),
            "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code");
  EXPECT_EQ(field(poll_req.body, "device_code"), "DEVICE-SECRET");
}

TEST_F(DeviceTest, SlowDownAddsFiveSecondsForGood) {
  auto c = client();
  auto eps = c.discover();
  ASSERT_TRUE(eps.ok());
  auto code = c.start(*eps);
  ASSERT_TRUE(code.ok());
  answers_ = {oauth_error("slow_down"), oauth_error("authorization_pending"),
              oauth_error("slow_down"), tokens()};
  const auto t0 = clock_->now();
  ASSERT_TRUE(c.poll(*eps, *code).ok());
  ASSERT_EQ(token_times_.size(), 4u);
  EXPECT_EQ(token_times_[0] - t0, 5s);
  EXPECT_EQ(token_times_[1] - token_times_[0], 10s);
  EXPECT_EQ(token_times_[2] - token_times_[1], 10s);
  EXPECT_EQ(token_times_[3] - token_times_[2], 15s);
}

TEST_F(DeviceTest, DeniedExpiredAndGarbageEndThePoll) {
  struct Case {
    Result<http::Response> answer;
    Errc code;
    const char* want;
  } cases[] = {
      {oauth_error("access_denied"), Errc::permission_denied, "denied at the identity provider"},
      {oauth_error("expired_token"), Errc::timeout, "expired at the identity provider"},
      {FakeHttpClient::ok(400, "<html>nope</html>"), Errc::protocol, "not JSON"},
      {FakeHttpClient::ok(200, "{not json"), Errc::protocol, "not JSON"},
      {FakeHttpClient::json(200, R"({"token_type":"Bearer"})"), Errc::protocol, "no access_token"},
      {oauth_error("invalid_client"), Errc::unauthenticated, "refused the device login"},
      {FakeHttpClient::json(503, "{}"), Errc::unavailable, "HTTP 503"},
      {FakeHttpClient::refused(), Errc::unavailable, "token endpoint"},
  };
  for (auto& c : cases) {
    answers_ = {c.answer};
    auto cl = client();
    auto eps = cl.discover();
    ASSERT_TRUE(eps.ok());
    auto code = cl.start(*eps);
    ASSERT_TRUE(code.ok());
    auto t = cl.poll(*eps, *code);
    ASSERT_FALSE(t.ok()) << c.want;
    EXPECT_EQ(t.error().code, c.code) << t.error().message;
    EXPECT_NE(t.error().message.find(c.want), std::string::npos) << t.error().message;
    EXPECT_EQ(t.error().message.find("DEVICE-SECRET"), std::string::npos);
  }
}

TEST_F(DeviceTest, ExpiresInEndsAPollThatNeverCompletes) {
  device_answer_ =
      FakeHttpClient::json(200, json({{"device_code", "D"},
                                      {"user_code", "U"},
                                      {"verification_uri", "https://idp.test/d"},
                                      {"expires_in", 30}})  // no interval: 5 s by default
                                    .dump());
  auto c = client();
  auto eps = c.discover();
  ASSERT_TRUE(eps.ok());
  auto code = c.start(*eps);
  ASSERT_TRUE(code.ok());
  const auto t0 = clock_->now();
  auto t = c.poll(*eps, *code);  // pending forever
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::timeout);
  EXPECT_NE(t.error().message.find("expired before the sign-in was completed"), std::string::npos);
  EXPECT_EQ(c.polls(), 6u);
  EXPECT_LE(clock_->now() - t0, 30s);
}

TEST_F(DeviceTest, IssuerWithoutDeviceEndpointOrWithBadAnswers) {
  metadata_.erase("device_authorization_endpoint");
  auto r = client().discover();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::failed_precondition);
  EXPECT_NE(r.error().message.find("does not offer the device authorization grant"),
            std::string::npos);
  // Another issuer's metadata.
  metadata_["device_authorization_endpoint"] = std::string(kIssuer) + "/device";
  metadata_["issuer"] = "https://evil.test/realms/team";
  r = client().discover();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("names another issuer"), std::string::npos);
  // A token endpoint over plain http on a public host.
  metadata_["issuer"] = kIssuer;
  metadata_["token_endpoint"] = "http://idp.test/token";
  r = client().discover();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not https"), std::string::npos);
  // The device authorization endpoint refuses the client, or answers garbage.
  metadata_["token_endpoint"] = std::string(kIssuer) + "/token";
  auto c = client();
  auto eps = c.discover();
  ASSERT_TRUE(eps.ok());
  device_answer_ = FakeHttpClient::json(401, R"({"error":"unauthorized_client"})");
  auto s = c.start(*eps);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("unauthorized_client"), std::string::npos);
  device_answer_ = FakeHttpClient::ok(200, "garbage");
  s = c.start(*eps);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::protocol);
  device_answer_ = FakeHttpClient::json(
      200,
      R"({"device_code":"D","user_code":"U","verification_uri":"javascript:x","expires_in":9})");
  s = c.start(*eps);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("not an http(s) URL"), std::string::npos);
}

// A fresh directory under the test's temp dir, removed at the end.
class TokenFileTest : public DeviceTest {
 protected:
  void SetUp() override {
    DeviceTest::SetUp();
    char tmpl[] = "/tmp/dm-token-file-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    path_ = root_ + "/state/dagmedic/login.json";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  StoredLogin login(Clock::time_point expires) {
    StoredLogin l;
    l.issuer = kIssuer;
    l.audience = "https://dagmedic.test/mcp";
    l.client_id = "dagmedic-cli";
    l.token_endpoint = std::string(kIssuer) + "/token";
    l.tokens.access_token = "AT-0";
    l.tokens.refresh_token = "RT-0";
    l.tokens.expires_at = expires;
    return l;
  }

  std::string root_, path_;
};

TEST_F(TokenFileTest, Mode0600InA0700DirReplacedAtomically) {
  ASSERT_TRUE(save_login(path_, login(clock_->now() + 300s)).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((root_ + "/state/dagmedic").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Replaced by rename: another inode, no temporary file left behind.
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  const auto inode = st.st_ino;
  auto l = login(clock_->now() + 600s);
  l.tokens.access_token = "AT-2";
  ASSERT_TRUE(save_login(path_, l).ok());
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_NE(st.st_ino, inode);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(root_ + "/state/dagmedic")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  auto back = load_login(path_);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->tokens.access_token, "AT-2");
  EXPECT_EQ(back->tokens.refresh_token, "RT-0");
  EXPECT_EQ(back->tokens.expires_at, clock_->now() + 600s);
  EXPECT_EQ(back->issuer, kIssuer);
}

TEST_F(TokenFileTest, MissingOthersReadableOrGarbageFilesAreRefused) {
  auto none = load_login(path_);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::not_found);
  ASSERT_TRUE(save_login(path_, login(clock_->now() + 300s)).ok());
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  auto open = load_login(path_);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().code, Errc::failed_precondition);
  EXPECT_NE(open.error().message.find("mode 0600 (it is 0644)"), std::string::npos);
  EXPECT_EQ(open.error().message.find("AT-0"), std::string::npos);
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  { std::ofstream(path_) << "not json"; }
  auto bad = load_login(path_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::protocol);
  ASSERT_TRUE(remove_login(path_).ok());
  ASSERT_TRUE(remove_login(path_).ok());  // already gone: fine
  EXPECT_EQ(load_login(path_).error().code, Errc::not_found);
}

TEST_F(TokenFileTest, DefaultPathFollowsXdgStateHome) {
  const char* old_state = std::getenv("XDG_STATE_HOME");
  const std::string saved = old_state ? old_state : "";
  ::setenv("XDG_STATE_HOME", "/x/state", 1);
  EXPECT_EQ(default_login_path().value(), "/x/state/dagmedic/login.json");
  ::unsetenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  if (home && *home) {
    EXPECT_EQ(default_login_path().value(),
              std::string(home) + "/.local/state/dagmedic/login.json");
  }
  if (old_state) ::setenv("XDG_STATE_HOME", saved.c_str(), 1);
}

TEST_F(TokenFileTest, ExpiredAccessTokenIsRefreshedAndSaved) {
  auto c = client();
  // Still valid for more than the margin: untouched, nothing sent.
  ASSERT_TRUE(save_login(path_, login(clock_->now() + 300s)).ok());
  auto same = fresh_login(path_, login(clock_->now() + 300s), c, *clock_);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->tokens.access_token, "AT-0");
  EXPECT_TRUE(seen_.empty());
  // Expired: renewed with the refresh token and written back.
  auto renewed = fresh_login(path_, login(clock_->now() - 1s), c, *clock_);
  ASSERT_TRUE(renewed.ok()) << renewed.error().message;
  EXPECT_EQ(renewed->tokens.access_token, "AT-1");
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(field(seen_[0].body, "grant_type"), "refresh_token");
  EXPECT_EQ(field(seen_[0].body, "refresh_token"), "RT-0");
  EXPECT_EQ(field(seen_[0].body, "client_id"), "dagmedic-cli");
  EXPECT_EQ(load_login(path_)->tokens.access_token, "AT-1");
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Refused at the issuer (revoked, session ended): log in again.
  refresh_answer_ = oauth_error("invalid_grant");
  auto refused = fresh_login(path_, login(clock_->now() - 1s), c, *clock_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::unauthenticated);
  EXPECT_NE(refused.error().message.find("run `dagmedic login` again"), std::string::npos);
  // No refresh token, or an expired one: nothing sent.
  seen_.clear();
  auto l = login(clock_->now() - 1s);
  l.tokens.refresh_token.clear();
  EXPECT_EQ(fresh_login(path_, l, c, *clock_).error().code, Errc::unauthenticated);
  l = login(clock_->now() - 1s);
  l.tokens.refresh_expires_at = clock_->now() - 1s;
  EXPECT_EQ(fresh_login(path_, l, c, *clock_).error().code, Errc::unauthenticated);
  EXPECT_TRUE(seen_.empty());
  // Revocation (logout).
  ASSERT_TRUE(c.revoke(std::string(kIssuer) + "/revoke", "RT-1").ok());
  EXPECT_EQ(field(seen_.back().body, "token_type_hint"), "refresh_token");
}

}  // namespace
}  // namespace dm::auth
