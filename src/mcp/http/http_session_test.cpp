#include "mcp/http/http_session.h"

#include <gtest/gtest.h>

#include <set>

namespace dm::mcp::http {
namespace {

using std::chrono::seconds;

struct Recorded {
  uint64_t stream;
  std::string id;
  std::string data;
  bool completes;
};

class RecordingListener : public StreamListener {
 public:
  void on_event(uint64_t stream, const SseEvent& ev, bool completes) override {
    events.push_back({stream, ev.id, ev.data, completes});
  }
  void on_end(uint64_t stream) override { ends.push_back(stream); }
  std::vector<Recorded> events;
  std::vector<uint64_t> ends;
};

// Session stand-in: records calls; `answer_invalid_inline` makes receive() emit an unrelated
// error synchronously, as a real session does for malformed input.
class StubSession : public Session {
 public:
  explicit StubSession(OutboundSink sink) : sink_(std::move(sink)) {}
  using Session::receive;
  InboundInfo receive(std::string_view text, const RequestHeaders*,
                      std::shared_ptr<const Caller> caller) override {
    note_caller(std::move(caller));
    received.emplace_back(text);
    if (text == "bad_null_id" || text == "bad_echoed_id") {
      // What the real session does (seam note 3): related_request is JSON null or the echoed id.
      nlohmann::json rel = text == "bad_null_id" ? nlohmann::json(nullptr) : nlohmann::json(77);
      sink_({R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}})", rel, true});
      return InboundInfo{};
    }
    if (text == "bad") {
      sink_({R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}})", std::nullopt,
             false});
      return InboundInfo{};
    }
    return InboundInfo{InboundKind::notification, std::nullopt, "n"};
  }
  void note_caller(std::shared_ptr<const Caller> c) { callers.push_back(std::move(c)); }
  void close() override { ++closes; }
  std::string protocol_version() const override { return "2025-11-25"; }
  OutboundSink sink_;
  std::vector<std::string> received;
  std::vector<std::shared_ptr<const Caller>> callers;
  int closes = 0;
};

struct Fixture : ::testing::Test {
  SteadyTime t0 = SteadyTime{} + seconds(1000);
  std::shared_ptr<HttpSession> hs = std::make_shared<HttpSession>("sid", 4, t0);
  std::shared_ptr<StubSession> stub;
  OutboundSink sink;
  void SetUp() override {
    sink = hs->make_sink();
    stub = std::make_shared<StubSession>(sink);
    hs->bind(stub);
  }
  static OutboundMessage msg(std::string json, std::optional<nlohmann::json> rel = std::nullopt,
                             bool completes = false) {
    return OutboundMessage{std::move(json), std::move(rel), completes};
  }
};

TEST_F(Fixture, RoutesRelatedMessagesToTheRequestStream) {
  auto a = std::make_shared<RecordingListener>();
  auto b = std::make_shared<RecordingListener>();
  auto sa = hs->open_request_stream(1, a);
  auto sb = hs->open_request_stream("1", b);  // string "1" differs from number 1
  ASSERT_TRUE(sa && sb);
  EXPECT_NE(*sa, *sb);
  EXPECT_FALSE(hs->open_request_stream(1, a));  // same id in flight
  sink(msg("p1", nlohmann::json(1)));
  sink(msg("r-b", nlohmann::json("1"), true));
  sink(msg("r-a", nlohmann::json(1), true));
  ASSERT_EQ(a->events.size(), 2u);
  EXPECT_EQ(a->events[0].data, "p1");
  EXPECT_EQ(a->events[0].id, std::to_string(*sa) + "_1");
  EXPECT_FALSE(a->events[0].completes);
  EXPECT_TRUE(a->events[1].completes);
  EXPECT_EQ(a->ends, std::vector<uint64_t>{*sa});
  ASSERT_EQ(b->events.size(), 1u);
  EXPECT_EQ(b->events[0].data, "r-b");
  // After completion the id is free again and late messages for it are dropped.
  sink(msg("late", nlohmann::json(1)));
  EXPECT_EQ(a->events.size(), 2u);
  EXPECT_TRUE(hs->open_request_stream(1, a));
}

TEST_F(Fixture, UnrelatedMessagesQueueForTheStandaloneStreamBounded) {
  for (int i = 1; i <= 6; ++i) sink(msg("n" + std::to_string(i)));  // history limit 4
  auto l = std::make_shared<RecordingListener>();
  auto res = hs->attach_standalone(l);
  ASSERT_EQ(res.status, HttpSession::AttachStatus::ok);
  EXPECT_EQ(res.stream, 0u);
  EXPECT_EQ(res.after_seq, 0u);
  ASSERT_EQ(l->events.size(), 4u);  // n1, n2 dropped
  EXPECT_EQ(l->events.front().data, "n3");
  EXPECT_EQ(l->events.back().id, "0_6");
  auto other = std::make_shared<RecordingListener>();
  EXPECT_EQ(hs->attach_standalone(other).status, HttpSession::AttachStatus::conflict);
  sink(msg("live"));
  EXPECT_EQ(l->events.back().data, "live");
  hs->detach(0, l.get());
  sink(msg("queued"));
  auto again = hs->attach_standalone(other);
  ASSERT_EQ(again.status, HttpSession::AttachStatus::ok);
  EXPECT_EQ(again.after_seq, 7u);  // only what the first listener never got is replayed
  ASSERT_EQ(other->events.size(), 1u);
  EXPECT_EQ(other->events[0].data, "queued");
}

TEST_F(Fixture, ResumeReplaysAfterLastEventIdThenGoesLive) {
  auto first = std::make_shared<RecordingListener>();
  auto s = *hs->open_request_stream(5, first);
  sink(msg("e1", nlohmann::json(5)));
  hs->detach(s, first.get());  // client disconnected
  sink(msg("e2", nlohmann::json(5)));
  sink(msg("e3", nlohmann::json(5)));
  auto second = std::make_shared<RecordingListener>();
  auto res = hs->resume(std::to_string(s) + "_1", second);
  ASSERT_EQ(res.status, HttpSession::AttachStatus::ok);
  EXPECT_EQ(res.stream, s);
  ASSERT_EQ(second->events.size(), 2u);
  EXPECT_EQ(second->events[0].data, "e2");
  sink(msg("done", nlohmann::json(5), true));
  EXPECT_EQ(second->events.back().data, "done");
  EXPECT_TRUE(second->events.back().completes);
  EXPECT_EQ(second->ends, std::vector<uint64_t>{s});
  EXPECT_EQ(first->events.size(), 1u);
  // A completed stream can still be replayed, and ends right after.
  auto third = std::make_shared<RecordingListener>();
  ASSERT_EQ(hs->resume(std::to_string(s) + "_2", third).status, HttpSession::AttachStatus::ok);
  ASSERT_EQ(third->events.size(), 2u);
  EXPECT_TRUE(third->events.back().completes);
  EXPECT_EQ(third->ends.size(), 1u);
}

TEST_F(Fixture, ResumeRejectsUnknownIds) {
  auto l = std::make_shared<RecordingListener>();
  for (const char* id : {"", "junk", "99_0", "0_5"})
    EXPECT_EQ(hs->resume(id, l).status, HttpSession::AttachStatus::unknown_stream) << id;
}

TEST_F(Fixture, ResumeTakesOverFromAStaleConnection) {
  auto stale = std::make_shared<RecordingListener>();
  auto s = *hs->open_request_stream(9, stale);
  sink(msg("e1", nlohmann::json(9)));
  auto fresh = std::make_shared<RecordingListener>();
  ASSERT_EQ(hs->resume(std::to_string(s) + "_1", fresh).status, HttpSession::AttachStatus::ok);
  EXPECT_EQ(stale->ends, std::vector<uint64_t>{s});
  sink(msg("e2", nlohmann::json(9)));
  EXPECT_EQ(stale->events.size(), 1u);
  EXPECT_EQ(fresh->events.back().data, "e2");
}

TEST_F(Fixture, CompletedStreamsAreEvictedBeyondTheBound) {
  auto l = std::make_shared<RecordingListener>();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(hs->open_request_stream(i, l));
    sink(msg("r", nlohmann::json(i), true));
  }
  EXPECT_LE(hs->stream_count(), HttpSession::kMaxCompletedStreams + 1);
  EXPECT_EQ(hs->resume("1_1", l).status, HttpSession::AttachStatus::unknown_stream);
}

TEST_F(Fixture, ReceiveCapturesSynchronousUnrelatedErrors) {
  std::vector<std::string> captured;
  auto info = hs->receive("bad", &captured);
  EXPECT_EQ(info.kind, InboundKind::invalid);
  ASSERT_EQ(captured.size(), 1u);
  EXPECT_NE(captured[0].find("-32600"), std::string::npos);
  // Outside receive() the same kind of message goes to the standalone stream.
  sink(msg(R"({"jsonrpc":"2.0","id":null,"error":{"code":1}})"));
  auto l = std::make_shared<RecordingListener>();
  hs->attach_standalone(l);
  EXPECT_EQ(l->events.size(), 1u);
}

TEST_F(Fixture, ReceiveCapturesErrorsRelatedToNullOrUnroutedIds) {
  for (const char* text : {"bad_null_id", "bad_echoed_id"}) {
    std::vector<std::string> captured;
    EXPECT_EQ(hs->receive(text, &captured).kind, InboundKind::invalid);
    EXPECT_EQ(captured.size(), 1u) << text;
  }
  // A routed id is not captured: the error goes to that request's stream.
  auto l = std::make_shared<RecordingListener>();
  ASSERT_TRUE(hs->open_request_stream(77, l));
  std::vector<std::string> captured;
  hs->receive("bad_echoed_id", &captured);
  EXPECT_TRUE(captured.empty());
  ASSERT_EQ(l->events.size(), 1u);
  EXPECT_TRUE(l->events[0].completes);
}

TEST_F(Fixture, EmptyCompletingMessageEndsStreamWithoutAnEvent) {
  auto l = std::make_shared<RecordingListener>();
  auto s = *hs->open_request_stream(3, l);
  sink(msg("progress", nlohmann::json(3)));
  sink(msg("", nlohmann::json(3), true));  // cancelled: no response is sent
  ASSERT_EQ(l->events.size(), 1u);
  EXPECT_EQ(l->ends, std::vector<uint64_t>{s});
  EXPECT_TRUE(hs->open_request_stream(3, l));  // the id is free again
}

TEST_F(Fixture, CloseEndsListenersAndClosesSessionOnce) {
  auto a = std::make_shared<RecordingListener>();
  auto g = std::make_shared<RecordingListener>();
  auto s = *hs->open_request_stream(1, a);
  hs->attach_standalone(g);
  hs->close();
  hs->close();
  EXPECT_EQ(stub->closes, 1);
  EXPECT_EQ(a->ends, std::vector<uint64_t>{s});
  EXPECT_EQ(g->ends, std::vector<uint64_t>{0});
  sink(msg("after", nlohmann::json(1), true));
  EXPECT_TRUE(a->events.empty());
  EXPECT_TRUE(hs->closed());
  std::vector<std::string> captured;
  EXPECT_EQ(hs->receive("x", &captured).kind, InboundKind::invalid);
}

TEST_F(Fixture, SinkOutlivingTheSessionIsHarmless) {
  std::weak_ptr<HttpSession> weak = hs;
  hs.reset();
  EXPECT_TRUE(weak.expired());
  sink(msg("x"));  // must not crash
}

TEST(SessionTableTest, ExpiresIdleSessionsOnly) {
  SteadyTime t0 = SteadyTime{} + seconds(100);
  SessionTable table;
  auto idle = std::make_shared<HttpSession>("idle", 8, t0);
  auto busy = std::make_shared<HttpSession>("busy", 8, t0);
  auto streaming = std::make_shared<HttpSession>("streaming", 8, t0);
  table.add(idle);
  table.add(busy);
  table.add(streaming);
  auto l = std::make_shared<RecordingListener>();
  ASSERT_EQ(streaming->attach_standalone(l).status, HttpSession::AttachStatus::ok);
  EXPECT_TRUE(table.take_expired(t0 + seconds(59), seconds(60)).empty());
  EXPECT_EQ(table.find("busy", t0 + seconds(50)), busy);  // a request touches it
  auto expired = table.take_expired(t0 + seconds(61), seconds(60));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0], idle);
  EXPECT_EQ(table.find("idle", t0), nullptr);
  EXPECT_EQ(table.size(), 2u);
  expired = table.take_expired(t0 + seconds(1000), seconds(60));
  ASSERT_EQ(expired.size(), 1u);  // the one with an open stream stays
  EXPECT_EQ(expired[0], busy);
  EXPECT_EQ(table.remove("streaming"), streaming);
  EXPECT_EQ(table.size(), 0u);
}

TEST(SessionIds, RandomHexAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_session_id();
    ASSERT_EQ(id.size(), 32u);
    for (char c : id) ASSERT_TRUE(std::isxdigit(static_cast<unsigned char>(c))) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace dm::mcp::http
