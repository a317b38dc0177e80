#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "http/curl_http_client.h"
#include "http/fake_http_client.h"
#include "http/retrying_http_client.h"

namespace dm::http {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<ManualClock> clock0() {
  return std::make_shared<ManualClock>(Clock::time_point(std::chrono::seconds(1'700'000'000)));
}

Request get(std::string url) {
  Request r;
  r.url = std::move(url);
  return r;
}

TEST(HttpHelpers, UrlEncodeKeepsUnreservedOnly) {
  EXPECT_EQ(url_encode("manual__2026-01-01T00:00:00+00:00"),
            "manual__2026-01-01T00%3A00%3A00%2B00%3A00");
  EXPECT_EQ(url_encode("a b/c~d"), "a%20b%2Fc~d");
}

TEST(HttpHelpers, RedactUrlDropsUserinfo) {
  EXPECT_EQ(redact_url("http://u:secret@host:8080/api?x=1"), "http://host:8080/api?x=1");
  EXPECT_EQ(redact_url("http://host/a@b"), "http://host/a@b");
}

TEST(HttpHelpers, HeaderLookupIsCaseInsensitive) {
  Response r;
  r.headers = {{"content-type", "application/json"}};
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("Retry-After"), "");
}

TEST(RetryAfter, ParsesSecondsAndHttpDate) {
  auto now = Clock::time_point(std::chrono::seconds(1445412480));  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(parse_retry_after("120", now), std::chrono::milliseconds(120000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            std::chrono::milliseconds(30000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), std::chrono::milliseconds(0));
  EXPECT_FALSE(parse_retry_after("soon", now).has_value());
  EXPECT_FALSE(parse_retry_after("", now).has_value());
  EXPECT_FALSE(parse_retry_after("Wed, 21 Foo 2015 07:28:30 GMT", now).has_value());
}

TEST(Fake, StreamsTwoHundredBodiesToSinkInChunks) {
  FakeHttpClient fake;
  fake.set_chunk_size(3);
  fake.push(FakeHttpClient::ok(200, "abcdefgh"));
  std::vector<std::string> chunks;
  Request r = get("http://x/");
  r.on_body = [&](std::string_view c) {
    chunks.emplace_back(c);
    return true;
  };
  auto res = fake.send(r);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body, "");
  EXPECT_EQ(chunks, (std::vector<std::string>{"abc", "def", "gh"}));
}

TEST(Fake, ErrorBodyIsNotStreamed) {
  FakeHttpClient fake;
  fake.push(FakeHttpClient::ok(404, "nope"));
  bool called = false;
  Request r = get("http://x/");
  r.on_body = [&](std::string_view) { return called = true; };
  auto res = fake.send(r);
  ASSERT_TRUE(res.ok());
  EXPECT_FALSE(called);
  EXPECT_EQ(res->body, "nope");
}

TEST(Fake, NoScriptIsAnError) {
  FakeHttpClient fake;
  auto res = fake.send(get("http://x/"));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::internal);
}

TEST(Retry, ReadRetriesOnRefusedThenSucceeds) {
  auto fake = std::make_shared<FakeHttpClient>();
  fake->push(FakeHttpClient::refused());
  fake->push(FakeHttpClient::timed_out());
  fake->push(FakeHttpClient::ok(200, "ok"));
  auto clk = clock0();
  auto t0 = clk->now();
  RetryingHttpClient rc(fake, clk, {}, [] { return 0.5; });
  auto res = rc.send(get("http://x/"));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body, "ok");
  EXPECT_EQ(fake->request_count(), 3u);
  // 0.5 * 250ms + 0.5 * 500ms
  EXPECT_EQ(clk->now() - t0, std::chrono::milliseconds(375));
}

TEST(Retry, BackoffIsExponentialWithFullJitterWithinBounds) {
  for (double f : {0.0, 0.999999}) {
    auto fake = std::make_shared<FakeHttpClient>();
    for (int i = 0; i < 6; ++i) fake->push(FakeHttpClient::ok(503, "busy"));
    auto clk = clock0();
    std::vector<std::chrono::milliseconds> sleeps;
    auto t = clk->now();
    RetryPolicy p;
    p.max_attempts = 6;
    p.base_delay = 100ms;
    p.max_delay = 1000ms;
    // Wrap the clock to see each sleep.
    struct Spy : Clock {
      std::shared_ptr<ManualClock> c;
      std::vector<std::chrono::milliseconds>* out;
      time_point now() const override { return c->now(); }
      void sleep_for(std::chrono::milliseconds d) override {
        out->push_back(d);
        c->sleep_for(d);
      }
    };
    auto spy = std::make_shared<Spy>();
    spy->c = clk;
    spy->out = &sleeps;
    RetryingHttpClient rc(fake, spy, p, [f] { return f; });
    auto res = rc.send(get("http://x/"));
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->status, 503);
    EXPECT_EQ(res->header("X-Dagmedic-Attempts"), "6");
    ASSERT_EQ(sleeps.size(), 5u);
    const long long caps[] = {100, 200, 400, 800, 1000};
    for (size_t i = 0; i < sleeps.size(); ++i) {
      EXPECT_GE(sleeps[i].count(), 0);
      EXPECT_LE(sleeps[i].count(), caps[i]);
      if (f == 0.0) {
        EXPECT_EQ(sleeps[i].count(), 0);
      } else {
        EXPECT_GE(sleeps[i].count(), caps[i] - 1);
      }
    }
    (void)t;
  }
}

TEST(Retry, HonoursRetryAfterSecondsOn429) {
  auto fake = std::make_shared<FakeHttpClient>();
  fake->push(FakeHttpClient::too_many("7"));
  fake->push(FakeHttpClient::ok(200, "ok"));
  auto clk = clock0();
  auto t0 = clk->now();
  RetryingHttpClient rc(fake, clk, {}, [] { return 0.0; });
  auto res = rc.send(get("http://x/"));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(clk->now() - t0, std::chrono::seconds(7));
}

TEST(Retry, HonoursRetryAfterHttpDateOn503AndCapsIt) {
  auto fake = std::make_shared<FakeHttpClient>();
  // clock0 is 2023-11-14T22:13:20Z; ask for 22:13:50 -> 30 s
  fake->push(FakeHttpClient::ok(503, "", {{"Retry-After", "Tue, 14 Nov 2023 22:13:50 GMT"}}));
  fake->push(FakeHttpClient::ok(503, "", {{"Retry-After", "100000"}}));
  fake->push(FakeHttpClient::ok(200, "ok"));
  auto clk = clock0();
  auto t0 = clk->now();
  RetryPolicy p;
  p.max_retry_after = 60s;
  RetryingHttpClient rc(fake, clk, p, [] { return 0.0; });
  auto res = rc.send(get("http://x/"));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(clk->now() - t0, std::chrono::seconds(30 + 60));
}

TEST(Retry, GivesUpAfterMaxAttemptsWithClearError) {
  auto fake = std::make_shared<FakeHttpClient>();
  for (int i = 0; i < 3; ++i) fake->push(FakeHttpClient::refused());
  RetryPolicy p;
  p.max_attempts = 3;
  RetryingHttpClient rc(fake, clock0(), p, [] { return 0.1; });
  auto res = rc.send(get("http://x/"));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::unavailable);
  EXPECT_NE(res.error().message.find("gave up after 3 attempts"), std::string::npos);
  EXPECT_NE(res.error().message.find("refused"), std::string::npos);
  EXPECT_EQ(fake->request_count(), 3u);
}

TEST(Retry, WritesAreNeverRetried) {
  for (auto m : {Method::post, Method::patch, Method::del, Method::put}) {
    auto fake = std::make_shared<FakeHttpClient>();
    fake->push(FakeHttpClient::ok(503, "busy"));
    fake->push(FakeHttpClient::ok(200, "ok"));
    RetryingHttpClient rc(fake, clock0(), {}, [] { return 0.0; });
    Request r = get("http://x/");
    r.method = m;
    auto res = rc.send(r);
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->status, 503);
    EXPECT_EQ(fake->request_count(), 1u);

    auto fake2 = std::make_shared<FakeHttpClient>();
    fake2->push(FakeHttpClient::refused());
    fake2->push(FakeHttpClient::ok(200, "ok"));
    RetryingHttpClient rc2(fake2, clock0(), {}, [] { return 0.0; });
    auto res2 = rc2.send(r);
    ASSERT_FALSE(res2.ok());
    EXPECT_EQ(fake2->request_count(), 1u);
  }
}

TEST(Retry, PostMarkedIdempotentIsRetried) {
  auto fake = std::make_shared<FakeHttpClient>();
  fake->push(FakeHttpClient::ok(502, ""));
  fake->push(FakeHttpClient::ok(200, "ok"));
  RetryingHttpClient rc(fake, clock0(), {}, [] { return 0.0; });
  Request r = get("http://x/");
  r.method = Method::post;
  r.idempotent = true;
  auto res = rc.send(r);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(fake->request_count(), 2u);
}

TEST(Retry, ClientErrorsAreNotRetried) {
  for (int s : {400, 401, 403, 404, 409}) {
    auto fake = std::make_shared<FakeHttpClient>();
    fake->push(FakeHttpClient::ok(s, ""));
    RetryingHttpClient rc(fake, clock0(), {}, [] { return 0.0; });
    auto res = rc.send(get("http://x/"));
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->status, s);
    EXPECT_EQ(fake->request_count(), 1u);
  }
}

TEST(Retry, StreamedReadIsNotRepeatedAfterBytesReachedTheSink) {
  auto fake = std::make_shared<FakeHttpClient>();
  fake->set_handler([n = 0](const Request& r) mutable -> Result<Response> {
    if (n++ == 0) {
      r.on_body("partial");  // bytes delivered, then the connection drops
      return make_error(Errc::unavailable, "connection reset");
    }
    return FakeHttpClient::ok(200, "full");
  });
  RetryingHttpClient rc(fake, clock0(), {}, [] { return 0.0; });
  std::string got;
  Request r = get("http://x/");
  r.on_body = [&](std::string_view c) {
    got += c;
    return true;
  };
  auto res = rc.send(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(got, "partial");
  EXPECT_EQ(fake->request_count(), 1u);
}

// --- real libcurl against loopback sockets ---

int listen_loopback(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  ::listen(fd, 4);
  return fd;
}

// Serves exactly one connection with a canned raw response; returns what it received.
struct OneShotServer {
  int fd = -1, port = 0;
  std::string received;
  std::thread th;
  explicit OneShotServer(std::string raw, bool hang = false, bool answer_first_read = false) {
    fd = listen_loopback(&port);
    th = std::thread([this, raw, hang, answer_first_read] {
      int c = ::accept(fd, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      while (received.find("\r\n\r\n") == std::string::npos) {
        if (answer_first_read && !received.empty()) break;
        auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        received.append(buf, static_cast<size_t>(n));
      }
      if (hang) {
        ::recv(c, buf, sizeof buf, 0);  // until the client gives up and closes
      } else {
        ::send(c, raw.data(), raw.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    });
  }
  ~OneShotServer() {
    th.join();
    ::close(fd);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/api/v2/x"; }
};

TEST(Curl, RefusedConnectionIsUnavailable) {
  int port = 0;
  int fd = listen_loopback(&port);
  ::close(fd);  // nothing listens there now
  CurlHttpClient c;
  auto res = c.send(get("http://127.0.0.1:" + std::to_string(port) + "/"));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::unavailable);
  EXPECT_NE(res.error().message.find("refused"), std::string::npos);
}

TEST(Curl, GetsStatusHeadersAndBodyAndSendsHeaders) {
  OneShotServer srv(
      "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nX-Thing: 1\r\n"
      "Content-Length: 17\r\nConnection: close\r\n\r\n{\"detail\":\"none\"}");
  CurlHttpClient c;
  Request r = get(srv.url());
  r.headers = {{"Authorization", "Bearer abc"}, {"Accept", "application/json"}};
  auto res = c.send(r);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->header("x-thing"), "1");
  EXPECT_EQ(res->body, "{\"detail\":\"none\"}");
  srv.th.join();
  srv.th = std::thread([] {});
  EXPECT_NE(srv.received.find("Authorization: Bearer abc"), std::string::npos);
  EXPECT_EQ(srv.received.rfind("GET /api/v2/x HTTP/1.1", 0), 0u);
}

TEST(Curl, StreamsBodyAndSinkCanStop) {
  std::string body(100000, 'x');
  OneShotServer srv("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n" +
                    body);
  CurlHttpClient c;
  Request r = get(srv.url());
  size_t got = 0;
  r.on_body = [&](std::string_view ch) {
    got += ch.size();
    return got < 10;  // stop after the first chunk
  };
  auto res = c.send(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::cancelled);
  EXPECT_GT(got, 0u);
  EXPECT_LT(got, body.size());
}

TEST(Curl, TimeoutIsTimeout) {
  OneShotServer srv("", /*hang=*/true);
  CurlHttpClient c;
  Request r = get(srv.url());
  r.timeout = 300ms;
  auto res = c.send(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::timeout);
}

TEST(Curl, GarbageAnswerIsProtocolError) {
  OneShotServer srv("SSH-2.0-OpenSSH_9.2\r\n\r\n");
  CurlHttpClient c;
  auto res = c.send(get(srv.url()));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::protocol) << res.error().message;
}

TEST(Curl, TlsVerificationIsOnByDefault) {
  // A plain-HTTP listener spoken to over https fails the TLS handshake: never silently accepted.
  OneShotServer srv("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, true);
  CurlHttpClient c;
  Request r = get("https://127.0.0.1:" + std::to_string(srv.port) + "/");
  r.timeout = 2000ms;
  auto res = c.send(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::unavailable);
}

}  // namespace
}  // namespace dm::http
