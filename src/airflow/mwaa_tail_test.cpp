// MwaaAirflowClient::read_task_log_tail over a FakeHttpClient that pages a large CloudWatch stream
// the way GetLogEvents does (index tokens, at most 10 000 events a page, backward paging from the
// end): a tail costs two pages whatever the stream's size, levels come through, and a short
// stream is delivered whole with its real line numbers.
#include <gtest/gtest.h>

#include "airflow/mwaa_client.h"
#include "airflow/mwaa_test_client.h"
#include "http/fake_http_client.h"

namespace dm::airflow {
namespace {

using http::FakeHttpClient;
using json = nlohmann::json;

const Clock::time_point kStart{std::chrono::seconds(1795656310)};

// Events are generated on demand: event i is an Airflow 3 JSON event "row i" (the last one an
// error), so a stream of millions costs nothing until a page is asked for.
struct BigStream {
  std::size_t events = 0;
  std::size_t page = 10000;
  std::size_t calls = 0;
  std::size_t events_sent = 0;

  json event(std::size_t i) const {
    json m = {{"timestamp", "2026-11-26T01:00:00Z"},
              {"level", i + 1 == events ? "error" : "info"},
              {"logger", "airflow.task"},
              {"event", "row " + std::to_string(i)}};
    return {{"timestamp", 1000 + i}, {"message", m.dump()}, {"ingestionTime", 1000 + i}};
  }

  // Tokens "f/K" / "b/K": K is the index the next page starts (forward) or ends (backward) at.
  Result<http::Response> answer(const json& b) {
    ++calls;
    std::size_t lo = 0, hi = 0;
    const bool head = b.value("startFromHead", false);
    const std::size_t lim = b.contains("limit") ? b["limit"].get<std::size_t>() : page;
    std::string tok = b.value("nextToken", "");
    if (tok.empty()) {
      if (head) {
        lo = 0;
        hi = std::min(events, lim);
      } else {
        hi = events;
        lo = hi > lim ? hi - lim : 0;
      }
    } else if (tok[0] == 'b') {
      hi = std::stoul(tok.substr(2));
      lo = hi > lim ? hi - lim : 0;
    } else {
      lo = std::stoul(tok.substr(2));
      hi = std::min(events, lo + lim);
    }
    json ev = json::array();
    for (std::size_t i = lo; i < hi; ++i) ev.push_back(event(i));
    events_sent += hi - lo;
    return FakeHttpClient::json(200, json{{"events", ev},
                                          {"nextForwardToken", "f/" + std::to_string(hi)},
                                          {"nextBackwardToken", "b/" + std::to_string(lo)}}
                                         .dump());
  }
};

struct Rig {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kStart);
  std::unique_ptr<MwaaAirflowClient> client;
  BigStream stream;

  explicit Rig(std::size_t events) {
    stream.events = events;
    client = testing::make_mwaa_test_client(http, clock, "grp");
    http->set_handler([this](const http::Request& r) -> Result<http::Response> {
      if (r.url == "http://logs.test/") return stream.answer(json::parse(r.body));
      return FakeHttpClient::refused();
    });
  }

  struct Got {
    std::vector<std::string> text, level;
    LogStats st;
  };
  Got tail(std::size_t n) {
    Got g;
    auto s = client->read_task_log_tail(
        {"d", "r", "t", 1, -1}, n,
        [&](const LogLine& l) {
          g.text.emplace_back(l.text);
          g.level.emplace_back(l.level);
          return true;
        },
        &g.st);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return g;
  }
};

TEST(MwaaTail, ATailOfAMillionEventStreamCostsTwoPages) {
  Rig rig(1000000);
  auto g = rig.tail(200);
  EXPECT_EQ(g.st.pages, 2u);  // the tail's page + one that shows the start is not reached
  EXPECT_EQ(rig.stream.calls, 2u);
  EXPECT_TRUE(g.st.head_skipped);
  ASSERT_EQ(g.text.size(), 200u);  // exactly the tail: nothing older is delivered
  EXPECT_EQ(g.st.lines, 200u);
  EXPECT_NE(g.text.back().find("row 999999"), std::string::npos) << g.text.back();
  EXPECT_NE(g.text.front().find("row 999800"), std::string::npos) << g.text.front();
  EXPECT_EQ(g.level.back(), "error");  // the structured event's level reaches the sink
  EXPECT_EQ(g.level.front(), "info");
  EXPECT_LE(rig.stream.events_sent, 20000u);  // two pages of 10 000 events, of a million
}

TEST(MwaaTail, ATailLongerThanAPageReadsOnlyThePagesItNeeds) {
  Rig rig(1000000);
  auto g = rig.tail(15000);
  EXPECT_EQ(g.st.pages, 3u);
  EXPECT_TRUE(g.st.head_skipped);
  ASSERT_EQ(g.text.size(), 15000u);
  EXPECT_NE(g.text.front().find("row 985000"), std::string::npos) << g.text.front();
}

TEST(MwaaTail, AShortStreamIsDeliveredWholeSoLineNumbersAreReal) {
  Rig rig(500);
  auto g = rig.tail(200);
  EXPECT_EQ(g.st.pages, 2u);  // the whole stream + the empty page at its start
  EXPECT_FALSE(g.st.head_skipped);
  ASSERT_EQ(g.text.size(), 500u);
  EXPECT_NE(g.text.front().find("row 0"), std::string::npos);
}

TEST(MwaaTail, MissingStreamIsNotFoundNamingIt) {
  Rig rig(1);
  rig.http->set_handler([](const http::Request&) {
    return FakeHttpClient::ok(
        400,
        R"({"__type":"ResourceNotFoundException","message":"The specified log stream does not exist."})");
  });
  auto s = rig.client->read_task_log_tail({"d", "r", "t", 1, -1}, 10,
                                          [](const LogLine&) { return true; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::not_found);
  EXPECT_NE(s.error().message.find("attempt=1.log"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace dm::airflow
