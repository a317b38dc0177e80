// End-to-end tests of the Streamable HTTP transport over real sockets, with a fake
// SessionFactory (echo, progress then response, held requests answered by the test thread,
// unrelated notifications) and a blocking HTTP client.
#include "mcp/http/http_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "mcp/http/http_test_client.h"

namespace dm::mcp::http {
namespace {

using nlohmann::json;
using testing::Client;
using testing::Headers;
using testing::Reply;

// Fake protocol session. Methods:
//   initialize       -> result {protocolVersion}; protocolVersion "bad" -> error response
//   echo             -> result = params (answered inline, on the io thread)
//   progress         -> params.count progress notifications, then result
//   hold             -> nothing until the test calls answer()/progress() (from its own thread)
//   ping_unrelated   -> an unrelated notification, then result
// Messages without "jsonrpc" are invalid: an error with id null goes to the sink at once.
class FakeSession : public Session {
 public:
  explicit FakeSession(OutboundSink sink) : sink_(std::move(sink)) {}

  using Session::receive;
  InboundInfo receive(std::string_view text, const RequestHeaders*,
                      std::shared_ptr<const Caller> caller) override {
    note_caller(std::move(caller));
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("jsonrpc")) {
      sink_({R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}})",
             std::nullopt, false});
      return InboundInfo{};
    }
    if (!j.contains("method")) {
      std::lock_guard lk(mu_);
      responses_.push_back(j);
      return {InboundKind::response, j["id"], ""};
    }
    std::string method = j["method"];
    if (!j.contains("id")) {
      std::lock_guard lk(mu_);
      notifications_.push_back(method);
      return {InboundKind::notification, std::nullopt, method};
    }
    json id = j["id"];
    json params = j.value("params", json::object());
    if (method == "initialize") {
      std::string v = params.value("protocolVersion", "");
      if (v == "bad") {
        send(id, {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", -32602}, {"message", "v"}}}},
             true);
      } else {
        {
          std::lock_guard lk(mu_);
          version_ = v;
        }
        send(id, {{"jsonrpc", "2.0"}, {"id", id}, {"result", {{"protocolVersion", v}}}}, true);
      }
    } else if (method == "echo") {
      send(id, result(id, params), true);
    } else if (method == "progress") {
      int n = params.value("count", 1);
      for (int i = 1; i <= n; ++i) send(id, progress_msg(i), false);
      send(id, result(id, {{"done", n}}), true);
    } else if (method == "ping_unrelated") {
      sink_({json{{"jsonrpc", "2.0"}, {"method", "notifications/unrelated"}}.dump(), std::nullopt,
             false});
      send(id, result(id, json::object()), true);
    } else if (method == "hold") {
      std::lock_guard lk(mu_);
      held_.push_back(id);
    } else {
      send(id, {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", -32601}, {"message", "no"}}}},
           true);
    }
    return {InboundKind::request, id, method};
  }

  void close() override { closed_ = true; }
  std::string protocol_version() const override {
    std::lock_guard lk(mu_);
    return version_;
  }

  static json result(const json& id, const json& r) {
    return {{"jsonrpc", "2.0"}, {"id", id}, {"result", r}};
  }
  static json progress_msg(int i) {
    return {{"jsonrpc", "2.0"},
            {"method", "notifications/progress"},
            {"params", {{"progressToken", "t"}, {"progress", i}}}};
  }
  void send(const json& id, const json& msg, bool completes) {
    if (!closed_) sink_({msg.dump(), id, completes});
  }
  void unrelated(const std::string& method) {
    sink_({json{{"jsonrpc", "2.0"}, {"method", method}}.dump(), std::nullopt, false});
  }
  std::vector<json> held() {
    std::lock_guard lk(mu_);
    return held_;
  }
  void note_caller(std::shared_ptr<const Caller> c) {
    std::lock_guard lk(mu_);
    callers_.push_back(std::move(c));
  }
  std::vector<std::shared_ptr<const Caller>> callers() {
    std::lock_guard lk(mu_);
    return callers_;
  }

  OutboundSink sink_;
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  std::string version_;
  std::vector<json> held_;
  std::vector<std::string> notifications_;
  std::vector<json> responses_;
  std::vector<std::shared_ptr<const Caller>> callers_;
};

class FakeFactory : public SessionFactory {
 public:
  std::shared_ptr<Session> open_session(OutboundSink sink) override {
    auto s = std::make_shared<FakeSession>(std::move(sink));
    std::lock_guard lk(mu_);
    sessions.push_back(s);
    return s;
  }
  std::shared_ptr<FakeSession> last() {
    std::lock_guard lk(mu_);
    return sessions.empty() ? nullptr : sessions.back();
  }
  std::size_t count() {
    std::lock_guard lk(mu_);
    return sessions.size();
  }
  std::mutex mu_;
  std::vector<std::shared_ptr<FakeSession>> sessions;
};

const Headers kPostHeaders = {{"Content-Type", "application/json"},
                              {"Accept", "application/json, text/event-stream"}};

std::string rpc(const json& id, const std::string& method, const json& params = json::object()) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump();
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpServerOptions o = {}) {
    server_ = std::make_unique<HttpServer>(factory_, std::move(o));
    auto p = server_->start();
    ASSERT_TRUE(p.ok()) << p.error().message;
    port_ = *p;
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  // initialize -> session id.
  std::string init(const std::string& version = "2025-11-25") {
    Client c(port_);
    Reply r = c.request("POST", "/mcp", kPostHeaders,
                        rpc(0, "initialize", {{"protocolVersion", version}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.header("mcp-session-id");
  }
  Headers with_session(const std::string& sid, Headers h = kPostHeaders) {
    h.emplace_back("Mcp-Session-Id", sid);
    return h;
  }
  Reply post(const std::string& sid, const std::string& body, Headers h = kPostHeaders) {
    Client c(port_);
    return c.request("POST", "/mcp", sid.empty() ? h : with_session(sid, h), body);
  }

  std::shared_ptr<FakeFactory> factory_ = std::make_shared<FakeFactory>();
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

TEST_F(HttpServerTest, InitializeCreatesSessionWithRandomVisibleId) {
  start();
  std::string a = init(), b = init();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE(c > 0x20 && c < 0x7f);
  EXPECT_EQ(factory_->count(), 2u);
}

TEST_F(HttpServerTest, FailedInitializeGetsNoSession) {
  start();
  Client c(port_);
  Reply r =
      c.request("POST", "/mcp", kPostHeaders, rpc(1, "initialize", {{"protocolVersion", "bad"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(json::parse(r.body).contains("error"));
  EXPECT_EQ(r.header("mcp-session-id"), "");
  EXPECT_TRUE(factory_->last()->closed_);
}

TEST_F(HttpServerTest, NotificationAndResponseGet202WithoutBody) {
  start();
  auto sid = init();
  Reply r = post(sid, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(r.status, 202);
  EXPECT_TRUE(r.body.empty());
  r = post(sid, R"({"jsonrpc":"2.0","id":"s1","result":{}})");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(factory_->last()->notifications_,
            std::vector<std::string>{"notifications/initialized"});
  EXPECT_EQ(factory_->last()->responses_.size(), 1u);
}

TEST_F(HttpServerTest, ImmediateResponseIsJsonInDefaultMode) {
  start();
  auto sid = init();
  Reply r = post(sid, rpc(7, "echo", {{"x", 1}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto j = json::parse(r.body);
  EXPECT_EQ(j["id"], 7);
  EXPECT_EQ(j["result"]["x"], 1);
}

TEST_F(HttpServerTest, ProgressThenResponseIsSseWithPrimingEvent) {
  start();
  auto sid = init("2025-11-25");
  Client c(port_);
  ASSERT_TRUE(c.send("POST", "/mcp", with_session(sid), rpc("p", "progress", {{"count", 2}})));
  Reply h = c.read_header();
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.header("content-type"), "text/event-stream");
  auto prime = c.next_event();
  ASSERT_TRUE(prime);
  EXPECT_TRUE(prime->data.empty());
  EXPECT_FALSE(prime->id.empty());
  EXPECT_TRUE(prime->retry.has_value());
  std::set<std::string> ids{prime->id};
  for (int i = 1; i <= 2; ++i) {
    auto ev = c.next_event();
    ASSERT_TRUE(ev);
    EXPECT_EQ(json::parse(ev->data)["params"]["progress"], i);
    EXPECT_TRUE(ids.insert(ev->id).second) << "duplicate id " << ev->id;
  }
  auto resp = c.next_event();
  ASSERT_TRUE(resp);
  EXPECT_EQ(json::parse(resp->data)["result"]["done"], 2);
  EXPECT_TRUE(ids.insert(resp->id).second);
  EXPECT_TRUE(c.stream_done());
  // The connection is reusable after the stream ended.
  ASSERT_TRUE(c.send("POST", "/mcp", with_session(sid), rpc(8, "echo")));
  EXPECT_EQ(c.read_reply().status, 200);
}

TEST_F(HttpServerTest, OlderRevisionsGetNoPrimingEvent) {
  start();
  auto sid = init("2025-03-26");
  Client c(port_);
  ASSERT_TRUE(c.send("POST", "/mcp", with_session(sid), rpc("p", "progress", {{"count", 1}})));
  EXPECT_EQ(c.read_header().status, 200);
  auto ev = c.next_event();
  ASSERT_TRUE(ev);
  EXPECT_FALSE(ev->data.empty());
  EXPECT_EQ(json::parse(ev->data)["method"], "notifications/progress");
}

TEST_F(HttpServerTest, AlwaysSseModeStreamsEvenImmediateResponses) {
  HttpServerOptions o;
  o.response_mode = ResponseMode::always_sse;
  start(o);
  Client ic(port_);
  ASSERT_TRUE(ic.send("POST", "/mcp", kPostHeaders,
                      rpc(0, "initialize", {{"protocolVersion", "2025-11-25"}})));
  Reply h = ic.read_header();
  EXPECT_EQ(h.header("content-type"), "text/event-stream");
  std::string sid = h.header("mcp-session-id");
  ASSERT_EQ(sid.size(), 32u);
  Client c(port_);
  Reply r = c.request("POST", "/mcp", with_session(sid), rpc(3, "echo", {{"y", 2}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/event-stream");
  EXPECT_NE(r.body.find("\"y\":2"), std::string::npos);
  EXPECT_NE(r.body.find("retry:"), std::string::npos);
}

TEST_F(HttpServerTest, SessionHeaderRequiredAndChecked) {
  start();
  auto sid = init();
  EXPECT_EQ(post("", rpc(1, "echo")).status, 400);
  EXPECT_EQ(post("", R"({"jsonrpc":"2.0","method":"notifications/initialized"})").status, 400);
  EXPECT_EQ(post("0123456789abcdef0123456789abcdef", rpc(1, "echo")).status, 404);
  EXPECT_EQ(post(sid, rpc(1, "echo")).status, 200);
  Client g(port_);
  EXPECT_EQ(g.request("GET", "/mcp", {{"Accept", "text/event-stream"}}).status, 400);
}

TEST_F(HttpServerTest, DeleteEndsTheSession) {
  start();
  auto sid = init();
  auto fake = factory_->last();
  Client c(port_);
  Reply r = c.request("DELETE", "/mcp", {{"Mcp-Session-Id", sid}});
  EXPECT_TRUE(r.status == 200 || r.status == 204) << r.status;
  EXPECT_TRUE(fake->closed_);
  EXPECT_EQ(post(sid, rpc(1, "echo")).status, 404);
  Client d(port_);
  EXPECT_EQ(d.request("DELETE", "/mcp", {{"Mcp-Session-Id", sid}}).status, 404);
}

TEST_F(HttpServerTest, ProtocolVersionHeader) {
  start();
  auto sid = init();
  Headers h = kPostHeaders;
  h.emplace_back("MCP-Protocol-Version", "1999-01-01");
  Reply r = post(sid, rpc(1, "echo"), h);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Unsupported MCP-Protocol-Version"), std::string::npos);
  h.back().second = "2025-06-18";
  EXPECT_EQ(post(sid, rpc(2, "echo"), h).status, 200);
  EXPECT_EQ(post(sid, rpc(3, "echo")).status, 200);  // absent: 2025-03-26 assumed
}

TEST_F(HttpServerTest, DnsRebindingHostAndOriginGet403) {
  start();
  std::string body = rpc(0, "initialize", {{"protocolVersion", "2025-11-25"}});
  Headers evil_host = kPostHeaders;
  evil_host.emplace_back("Host", "evil.example.com");
  Reply r = post("", body, evil_host);
  EXPECT_EQ(r.status, 403);
  Headers evil_origin = kPostHeaders;
  evil_origin.emplace_back("Origin", "http://evil.example.com");
  EXPECT_EQ(post("", body, evil_origin).status, 403);
  std::string port = std::to_string(port_);
  for (std::string host :
       {"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, std::string("localhost")}) {
    Headers ok = kPostHeaders;
    ok.emplace_back("Host", host);
    ok.emplace_back("Origin", "http://localhost:6274");
    EXPECT_EQ(post("", body, ok).status, 200) << host;
  }
  EXPECT_EQ(factory_->count(), 4u);  // rejected requests never reached the factory
}

TEST_F(HttpServerTest, HttpErrorStatuses) {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  start(o);
  auto sid = init();
  // 406: POST without text/event-stream in Accept; GET without it.
  EXPECT_EQ(post(sid, rpc(1, "echo"),
                 {{"Content-Type", "application/json"}, {"Accept", "application/json"}})
                .status,
            406);
  Client g(port_);
  EXPECT_EQ(
      g.request("GET", "/mcp", {{"Accept", "application/json"}, {"Mcp-Session-Id", sid}}).status,
      406);
  // 415: not JSON.
  EXPECT_EQ(
      post(sid, "x",
           {{"Content-Type", "text/plain"}, {"Accept", "application/json, text/event-stream"}})
          .status,
      415);
  // 405: other methods.
  Client p(port_);
  Reply r = p.request("PUT", "/mcp", {{"Mcp-Session-Id", sid}}, "{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, POST, DELETE");
  // 404: other paths.
  EXPECT_EQ(Client(port_).request("POST", "/other", kPostHeaders, rpc(1, "echo")).status, 404);
  // 413 with a JSON-RPC error body.
  r = post(sid, rpc(1, "echo", {{"pad", std::string(4096, 'x')}}));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], -32600);
  // 400 with -32700 for malformed JSON; -32600 for batches and depth bombs.
  r = post(sid, "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], -32700);
  EXPECT_EQ(json::parse(post(sid, "[" + rpc(1, "echo") + "]").body)["error"]["code"], -32600);
  EXPECT_EQ(post(sid, std::string(500, '[')).status, 400);
  // A message the session itself refuses: its error is the answer, with 400.
  r = post(sid, R"({"id":5,"method":"echo"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], -32600);
  // Still serving.
  EXPECT_EQ(post(sid, rpc(9, "echo")).status, 200);
}

TEST_F(HttpServerTest, StandaloneGetStreamGetsUnrelatedMessages) {
  start();
  auto sid = init();
  auto fake = factory_->last();
  fake->unrelated("notifications/queued");  // before any GET: queued
  Client g(port_);
  ASSERT_TRUE(g.send("GET", "/mcp", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}}));
  Reply h = g.read_header();
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.header("content-type"), "text/event-stream");
  auto prime = g.next_event();
  ASSERT_TRUE(prime);
  EXPECT_TRUE(prime->data.empty());
  auto q = g.next_event();
  ASSERT_TRUE(q);
  EXPECT_EQ(json::parse(q->data)["method"], "notifications/queued");
  // A second standalone stream for the same session is refused.
  Client g2(port_);
  EXPECT_EQ(
      g2.request("GET", "/mcp", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}}).status,
      409);
  // Unrelated messages emitted while handling a POST go to the GET stream, not the POST.
  Reply r = post(sid, rpc(4, "ping_unrelated"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto live = g.next_event();
  ASSERT_TRUE(live);
  EXPECT_EQ(json::parse(live->data)["method"], "notifications/unrelated");
  fake->unrelated("notifications/from_other_thread");
  live = g.next_event();
  ASSERT_TRUE(live);
  EXPECT_EQ(json::parse(live->data)["method"], "notifications/from_other_thread");
}

TEST_F(HttpServerTest, LastEventIdResumesAStreamAfterDisconnect) {
  start();
  auto sid = init();
  auto fake = factory_->last();
  std::string last_id;
  {
    Client c(port_);
    ASSERT_TRUE(c.send("POST", "/mcp", with_session(sid), rpc(42, "hold")));
    while (fake->held().empty()) std::this_thread::yield();
    fake->send(42, FakeSession::progress_msg(1), false);
    EXPECT_EQ(c.read_header().status, 200);
    auto prime = c.next_event();
    ASSERT_TRUE(prime && prime->data.empty());
    auto e1 = c.next_event();
    ASSERT_TRUE(e1);
    EXPECT_EQ(json::parse(e1->data)["params"]["progress"], 1);
    last_id = e1->id;
    c.close();  // client drops mid-stream
  }
  // The handler keeps running; its messages are kept.
  fake->send(42, FakeSession::progress_msg(2), false);
  fake->send(42, FakeSession::result(42, {{"ok", true}}), true);
  Client r(port_);
  ASSERT_TRUE(r.send(
      "GET", "/mcp",
      {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"Last-Event-ID", last_id}}));
  EXPECT_EQ(r.read_header().status, 200);
  auto prime = r.next_event();
  ASSERT_TRUE(prime);
  EXPECT_EQ(prime->id, last_id);
  auto e2 = r.next_event();
  ASSERT_TRUE(e2);
  EXPECT_EQ(json::parse(e2->data)["params"]["progress"], 2);
  auto done = r.next_event();
  ASSERT_TRUE(done);
  EXPECT_EQ(json::parse(done->data)["result"]["ok"], true);
  EXPECT_TRUE(r.stream_done());
  // Unknown event ids are refused; ids of one session mean nothing in another.
  Client bad(port_);
  EXPECT_EQ(
      bad.request(
             "GET", "/mcp",
             {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"Last-Event-ID", "77_1"}})
          .status,
      400);
  auto other = init();
  Client cross(port_);
  EXPECT_EQ(cross
                .request("GET", "/mcp",
                         {{"Accept", "text/event-stream"},
                          {"Mcp-Session-Id", other},
                          {"Last-Event-ID", last_id}})
                .status,
            400);
}

TEST_F(HttpServerTest, SeveralStreamsPerSessionAtOnce) {
  start();
  auto sid = init();
  auto fake = factory_->last();
  Client a(port_), b(port_), g(port_);
  ASSERT_TRUE(g.send("GET", "/mcp", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}}));
  EXPECT_EQ(g.read_header().status, 200);
  ASSERT_TRUE(g.next_event());  // priming
  ASSERT_TRUE(a.send("POST", "/mcp", with_session(sid), rpc("a", "hold")));
  ASSERT_TRUE(b.send("POST", "/mcp", with_session(sid), rpc("b", "hold")));
  while (fake->held().size() < 2) std::this_thread::yield();
  fake->send("b", FakeSession::progress_msg(20), false);
  fake->send("a", FakeSession::progress_msg(10), false);
  fake->unrelated("notifications/side");
  EXPECT_EQ(a.read_header().status, 200);
  EXPECT_EQ(b.read_header().status, 200);
  ASSERT_TRUE(a.next_event());  // priming
  ASSERT_TRUE(b.next_event());
  auto ea = a.next_event(), eb = b.next_event(), eg = g.next_event();
  ASSERT_TRUE(ea && eb && eg);
  EXPECT_EQ(json::parse(ea->data)["params"]["progress"], 10);
  EXPECT_EQ(json::parse(eb->data)["params"]["progress"], 20);
  EXPECT_EQ(json::parse(eg->data)["method"], "notifications/side");
  EXPECT_NE(ea->id, eb->id);
  fake->send("a", FakeSession::result("a", {{"who", "a"}}), true);
  fake->send("b", FakeSession::result("b", {{"who", "b"}}), true);
  ea = a.next_event();
  eb = b.next_event();
  ASSERT_TRUE(ea && eb);
  EXPECT_EQ(json::parse(ea->data)["result"]["who"], "a");
  EXPECT_EQ(json::parse(eb->data)["result"]["who"], "b");
  EXPECT_TRUE(a.stream_done());
  EXPECT_TRUE(b.stream_done());
}

TEST_F(HttpServerTest, ClientDisconnectWhileWaitingIsHarmless) {
  start();
  auto sid = init();
  auto fake = factory_->last();
  {
    Client c(port_);
    ASSERT_TRUE(c.send("POST", "/mcp", with_session(sid), rpc(1, "hold")));
    while (fake->held().empty()) std::this_thread::yield();
    c.close();  // gone before anything was sent
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the server see the EOF
  fake->send(1, FakeSession::progress_msg(1), false);
  fake->send(1, FakeSession::result(1, json::object()), true);
  EXPECT_FALSE(fake->closed_);  // disconnect does not end the session
  EXPECT_EQ(post(sid, rpc(2, "echo")).status, 200);
}

TEST_F(HttpServerTest, CancelledRequestEndsItsPostWithoutAResponse) {
  start();
  auto sid = init();
  auto fake = factory_->last();
  // Nothing sent yet: the POST gets 202 and no body.
  Client a(port_);
  ASSERT_TRUE(a.send("POST", "/mcp", with_session(sid), rpc("c1", "hold")));
  while (fake->held().empty()) std::this_thread::yield();
  fake->sink_({"", json("c1"), true});
  Reply r = a.read_reply();
  EXPECT_EQ(r.status, 202);
  EXPECT_TRUE(r.body.empty());
  // Already streaming: the stream just ends, with no response event.
  Client b(port_);
  ASSERT_TRUE(b.send("POST", "/mcp", with_session(sid), rpc("c2", "hold")));
  while (fake->held().size() < 2) std::this_thread::yield();
  fake->send("c2", FakeSession::progress_msg(1), false);
  EXPECT_EQ(b.read_header().status, 200);
  ASSERT_TRUE(b.next_event());  // priming
  ASSERT_TRUE(b.next_event());  // progress
  fake->sink_({"", json("c2"), true});
  EXPECT_FALSE(b.next_event());
  EXPECT_TRUE(b.stream_done());
}

TEST_F(HttpServerTest, ThousandConcurrentSseStreamsOnOneIoThread) {
  HttpServerOptions o;
  o.io_threads = 1;
  start(o);
  auto sid = init();
  auto fake = factory_->last();
  constexpr int kStreams = 1000;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kStreams; ++i) {
    clients.push_back(std::make_unique<Client>(port_, std::chrono::seconds(30)));
    ASSERT_TRUE(clients.back()->connected()) << i;
    ASSERT_TRUE(clients.back()->send("POST", "/mcp", with_session(sid), rpc(i, "hold")));
  }
  while (fake->held().size() < kStreams) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (int i = 0; i < kStreams; ++i) fake->send(i, FakeSession::progress_msg(i), false);
  // Every stream is open at once before any is answered.
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_EQ(clients[i]->read_header().status, 200) << i;
    ASSERT_TRUE(clients[i]->next_event()) << i;  // priming
    auto ev = clients[i]->next_event();
    ASSERT_TRUE(ev) << i;
    ASSERT_EQ(json::parse(ev->data)["params"]["progress"], i);
  }
  for (int i = 0; i < kStreams; ++i) fake->send(i, FakeSession::result(i, {{"i", i}}), true);
  for (int i = 0; i < kStreams; ++i) {
    auto ev = clients[i]->next_event();
    ASSERT_TRUE(ev) << i;
    ASSERT_EQ(json::parse(ev->data)["result"]["i"], i);
    ASSERT_TRUE(clients[i]->stream_done()) << i;
  }
}

TEST_F(HttpServerTest, StopWhileStreamsAreOpen) {
  start();
  auto sid = init();
  auto fake = factory_->last();
  Client post_stream(port_), get_stream(port_), idle(port_);
  ASSERT_TRUE(
      get_stream.send("GET", "/mcp", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}}));
  EXPECT_EQ(get_stream.read_header().status, 200);
  ASSERT_TRUE(post_stream.send("POST", "/mcp", with_session(sid), rpc(1, "hold")));
  while (fake->held().empty()) std::this_thread::yield();
  fake->send(1, FakeSession::progress_msg(1), false);
  EXPECT_EQ(post_stream.read_header().status, 200);
  std::thread stopper([&] { server_->stop(); });
  stopper.join();
  EXPECT_TRUE(fake->closed_);
  // Both streams end (final chunk) and the connections close.
  EXPECT_TRUE(get_stream.stream_done());
  EXPECT_TRUE(post_stream.stream_done());
  EXPECT_TRUE(idle.closed_by_peer());
  server_->stop();  // idempotent
  Client after(port_, std::chrono::milliseconds(500));
  EXPECT_FALSE(after.connected() && after.request("POST", "/mcp", kPostHeaders, rpc(1, "echo")).ok);
}

TEST_F(HttpServerTest, IdleSessionsExpire) {
  HttpServerOptions o;
  o.session_idle_timeout = std::chrono::seconds(1);
  start(o);
  auto sid = init();
  auto fake = factory_->last();
  // The sweep runs on the real clock (the expiry rule itself is unit-tested with fixed times in
  // http_session_test); poll for its effect instead of asserting on timing.
  for (int i = 0; i < 100 && !fake->closed_; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(fake->closed_);
  EXPECT_EQ(post(sid, rpc(1, "echo")).status, 404);
}

TEST_F(HttpServerTest, StartErrors) {
  HttpServerOptions o;
  o.bind_address = "not-an-address";
  HttpServer bad(factory_, o);
  auto r = bad.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  start();
  HttpServerOptions same;
  same.port = port_;
  HttpServer clash(factory_, same);
  auto c = clash.start();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::unavailable);
  EXPECT_FALSE(server_->start().ok());  // already started
}

// ---- Authorization (bearer.h) ----------------------------------------------------------------

// Tokens: "reader" (scope read), "operator" (read + operate), "other" (read, another subject),
// "expired" (refused), "down" (the gate cannot check now). tools/call of "write" needs operate.
class FakeGate : public BearerGate {
 public:
  Result<std::shared_ptr<const Caller>> authenticate(std::string_view token) override {
    {
      std::lock_guard lk(mu);
      tokens_seen.emplace_back(token);
    }
    if (token == "reader")
      return std::shared_ptr<const Caller>(std::make_shared<Caller>(
          Caller{.issuer = "i", .subject = "u1", .principal = "rita", .scopes = {"read"}}));
    if (token == "operator")
      return std::shared_ptr<const Caller>(std::make_shared<Caller>(Caller{
          .issuer = "i", .subject = "u2", .principal = "otto", .scopes = {"operate", "read"}}));
    if (token == "other")
      return std::shared_ptr<const Caller>(std::make_shared<Caller>(
          Caller{.issuer = "i", .subject = "u3", .principal = "mallory", .scopes = {"read"}}));
    if (token == "down") return make_error(Errc::unavailable, "keys unreachable");
    if (token == "slow") {  // waits until the test releases it (an identity provider that hangs)
      std::unique_lock lk(mu);
      slow_waiting = true;
      cv.notify_all();
      cv.wait(lk, [&] { return slow_released; });
      return make_error(Errc::unauthenticated, "the token has expired");
    }
    return make_error(Errc::unauthenticated, "the token has expired");
  }
  std::string missing_scope(const Caller& c, std::string_view method,
                            std::string_view target) override {
    auto has = [&](const char* s) {
      return std::find(c.scopes.begin(), c.scopes.end(), s) != c.scopes.end();
    };
    if (method == "tools/call" && target == "write") return has("operate") ? "" : "operate";
    return has("read") ? "" : "read";
  }
  std::string base_scope() const override { return "read"; }
  json resource_metadata() const override {
    return {{"resource", "https://dm.test/mcp"},
            {"authorization_servers", {"https://idp.test"}},
            {"bearer_methods_supported", {"header"}}};
  }
  std::string resource_metadata_url() const override {
    return "https://dm.test/.well-known/oauth-protected-resource/mcp";
  }
  std::mutex mu;
  std::condition_variable cv;
  bool slow_waiting = false;
  bool slow_released = false;
  std::vector<std::string> tokens_seen;
};

constexpr const char* kMeta = "https://dm.test/.well-known/oauth-protected-resource/mcp";

class AuthHttpTest : public HttpServerTest {
 protected:
  void SetUp() override {
    HttpServerOptions o;
    o.bearer = gate_;
    start(o);
  }
  Headers bearer(const std::string& token, Headers h = kPostHeaders) {
    h.emplace_back("Authorization", "Bearer " + token);
    return h;
  }
  Reply post_as(const std::string& token, const std::string& sid, const std::string& body,
                const std::string& target = "/mcp") {
    Headers h = bearer(token);
    if (!sid.empty()) h.emplace_back("Mcp-Session-Id", sid);
    Client c(port_);
    return c.request("POST", target, h, body);
  }
  std::string init_as(const std::string& token) {
    Reply r = post_as(token, "", rpc(0, "initialize", {{"protocolVersion", "2025-11-25"}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.header("mcp-session-id");
  }
  std::shared_ptr<FakeGate> gate_ = std::make_shared<FakeGate>();
};

TEST_F(AuthHttpTest, NoTokenGets401WithResourceMetadataAndNothingRuns) {
  Client c(port_);
  Reply r = c.request("POST", "/mcp", kPostHeaders,
                      rpc(0, "initialize", {{"protocolVersion", "2025-11-25"}}));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"),
            std::string("Bearer scope=\"read\", resource_metadata=\"") + kMeta + "\"");
  EXPECT_EQ(factory_->count(), 0u);
  // Another scheme is no bearer token either.
  Headers basic = kPostHeaders;
  basic.emplace_back("Authorization", "Basic cmVhZGVyOnB3");
  Client c2(port_);
  Reply b = c2.request("POST", "/mcp", basic, rpc(0, "initialize"));
  EXPECT_EQ(b.status, 401);
  EXPECT_EQ(b.header("www-authenticate").find("error="), std::string::npos);
  // GET (the SSE stream) and DELETE need a token as well.
  Client c3(port_);
  EXPECT_EQ(c3.request("GET", "/mcp", {{"Accept", "text/event-stream"}}).status, 401);
  Client c4(port_);
  EXPECT_EQ(c4.request("DELETE", "/mcp", {{"Mcp-Session-Id", "x"}}).status, 401);
  EXPECT_EQ(factory_->count(), 0u);
}

TEST_F(AuthHttpTest, RefusedTokenGets401InvalidToken) {
  Reply r = post_as("expired", "", rpc(0, "initialize"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"),
            std::string("Bearer error=\"invalid_token\", error_description=\"the token has "
                        "expired\", resource_metadata=\"") +
                kMeta + "\"");
  Reply m = post_as("not a token", "", rpc(0, "initialize"));
  EXPECT_EQ(m.status, 401);
  EXPECT_NE(m.header("www-authenticate").find("error=\"invalid_token\""), std::string::npos);
  EXPECT_EQ(factory_->count(), 0u);
}

TEST_F(AuthHttpTest, GateThatCannotCheckAnswers503) {
  Reply r = post_as("down", "", rpc(0, "initialize"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "30");
  EXPECT_EQ(factory_->count(), 0u);
}

// The gate may wait on the identity provider: that must not hold the io thread (one here), so
// other clients are served meanwhile. Were it on the io thread, the second request would hang.
TEST_F(AuthHttpTest, ASlowTokenCheckDoesNotHoldOtherRequests) {
  Reply slow_reply;
  std::thread slow([&] { slow_reply = post_as("slow", "", rpc(0, "initialize")); });
  {
    std::unique_lock lk(gate_->mu);
    gate_->cv.wait(lk, [&] { return gate_->slow_waiting; });
  }
  EXPECT_FALSE(init_as("reader").empty());  // served while the slow check waits
  {
    std::lock_guard lk(gate_->mu);
    gate_->slow_released = true;
  }
  gate_->cv.notify_all();
  slow.join();
  EXPECT_EQ(slow_reply.status, 401);
}

TEST_F(AuthHttpTest, TokenInTheQueryStringIsRefusedEvenWithAGoodHeader) {
  for (const char* q : {"/mcp?access_token=reader", "/mcp?x=1&ACCESS_TOKEN=reader"}) {
    Reply r = post_as("reader", "", rpc(0, "initialize"), q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_NE(r.header("www-authenticate").find("error=\"invalid_request\""), std::string::npos);
  }
  std::lock_guard lk(gate_->mu);
  EXPECT_TRUE(gate_->tokens_seen.empty());  // refused before any token was looked at
}

TEST_F(AuthHttpTest, OversizedAuthorizationHeaderIs431WithoutParsing) {
  for (std::size_t n : {kMaxAuthorizationBytes + 1, std::size_t{20000}}) {
    Reply r = post_as(std::string(n, 'a'), "", rpc(0, "initialize"));
    EXPECT_EQ(r.status, 431) << n;
  }
  std::lock_guard lk(gate_->mu);
  EXPECT_TRUE(gate_->tokens_seen.empty());
}

TEST_F(AuthHttpTest, TwoAuthorizationHeadersAreRefused) {
  Headers h = bearer("reader");
  h.emplace_back("Authorization", "Bearer operator");
  Client c(port_);
  EXPECT_EQ(c.request("POST", "/mcp", h, rpc(0, "initialize")).status, 400);
}

TEST_F(AuthHttpTest, CallerReachesTheSessionAndScopesAreEnforcedPerRequest) {
  auto sid = init_as("reader");
  ASSERT_FALSE(sid.empty());
  auto fake = factory_->last();
  ASSERT_EQ(fake->callers().size(), 1u);
  ASSERT_TRUE(fake->callers()[0]);
  EXPECT_EQ(fake->callers()[0]->principal, "rita");
  // A call the reader's scopes do not cover: 403 naming the scope, and the session never sees it.
  Reply r = post_as("reader", sid,
                    rpc(1, "tools/call", {{"name", "write"}, {"arguments", json::object()}}));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.header("www-authenticate"),
            std::string("Bearer error=\"insufficient_scope\", scope=\"operate\", "
                        "error_description=\"this request needs the scope operate\", "
                        "resource_metadata=\"") +
                kMeta + "\"");
  EXPECT_EQ(fake->callers().size(), 1u);
  Reply ok = post_as("reader", sid, rpc(2, "echo", {{"x", 1}}));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(fake->callers().size(), 2u);
}

TEST_F(AuthHttpTest, SessionIsBoundToTheCallerThatOpenedIt) {
  auto sid = init_as("reader");
  ASSERT_FALSE(sid.empty());
  auto fake = factory_->last();
  Reply r = post_as("other", sid, rpc(1, "echo"));
  EXPECT_EQ(r.status, 404);
  Headers del = bearer("other", {});
  del.emplace_back("Mcp-Session-Id", sid);
  Client c(port_);
  EXPECT_EQ(c.request("DELETE", "/mcp", del).status, 404);
  EXPECT_FALSE(fake->closed_);
  EXPECT_EQ(fake->callers().size(), 1u);
  EXPECT_EQ(post_as("reader", sid, rpc(2, "echo")).status, 200);
}

TEST_F(AuthHttpTest, ProtectedResourceMetadataIsPublic) {
  for (const char* path :
       {"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"}) {
    Client c(port_);
    Reply r = c.request("GET", path, {});
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.header("content-type"), "application/json");
    auto j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j, gate_->resource_metadata()) << r.body;
  }
  Client c(port_);
  EXPECT_EQ(c.request("POST", "/.well-known/oauth-protected-resource", kPostHeaders, "{}").status,
            405);
  Client c2(port_);
  EXPECT_EQ(c2.request("GET", "/.well-known/oauth-protected-resource/other", {}).status, 404);
}

TEST_F(HttpServerTest, WithoutAGateThereIsNoMetadataAndNoTokenIsNeeded) {
  start();
  Client c(port_);
  EXPECT_EQ(c.request("GET", "/.well-known/oauth-protected-resource", {}).status, 404);
  EXPECT_FALSE(init().empty());
  ASSERT_EQ(factory_->last()->callers().size(), 1u);
  EXPECT_EQ(factory_->last()->callers()[0], nullptr);
}

TEST(Bearer, ParsesTheHeaderStrictly) {
  bool invalid = false;
  EXPECT_EQ(bearer_token("Bearer abc.DEF-_~+/==", invalid), "abc.DEF-_~+/==");
  EXPECT_FALSE(invalid);
  EXPECT_EQ(bearer_token("bearer   t0k", invalid), "t0k");
  EXPECT_EQ(bearer_token("Basic abc", invalid), "");
  EXPECT_FALSE(invalid);
  EXPECT_EQ(bearer_token("Bearerabc", invalid), "");
  EXPECT_FALSE(invalid);
  EXPECT_EQ(bearer_token("", invalid), "");
  EXPECT_FALSE(invalid);
  for (const char* bad : {"Bearer", "Bearer a b", "Bearer a\"b", "Bearer =abc", "Bearer a=b"}) {
    EXPECT_EQ(bearer_token(bad, invalid), "") << bad;
    EXPECT_TRUE(invalid) << bad;
  }
  EXPECT_TRUE(query_has_access_token("access_token=x"));
  EXPECT_TRUE(query_has_access_token("a=1&Access_Token=x"));
  EXPECT_TRUE(query_has_access_token("access_token"));
  EXPECT_FALSE(query_has_access_token("my_access_token=x&a=b"));
  EXPECT_FALSE(query_has_access_token(""));
  EXPECT_EQ(bearer_challenge({{"error", "invalid_token"}, {"error_description", "a \"b\"\\\n"}}),
            "Bearer error=\"invalid_token\", error_description=\"a \\\"b\\\"\\\\\"");
}

}  // namespace
}  // namespace dm::mcp::http
