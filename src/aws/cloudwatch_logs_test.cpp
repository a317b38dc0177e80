// CloudWatch Logs client over FakeHttpClient: request shapes, paging (empty pages, repeating
// token), tail paging back, throttling with backoff on the ManualClock, error mapping.
#include "aws/cloudwatch_logs.h"

#include <gtest/gtest.h>

#include "http/fake_http_client.h"

namespace dm::aws {
namespace {

using http::FakeHttpClient;
using json = nlohmann::json;
using namespace std::chrono_literals;

const Clock::time_point kStart{std::chrono::seconds(1795656310)};

std::string header(const http::Request& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (http::iequals(k, name)) return v;
  return "<absent>";
}

std::string page(std::vector<std::string> msgs, const std::string& fwd, const std::string& back) {
  json ev = json::array();
  int t = 1000;
  for (auto& m : msgs) ev.push_back({{"timestamp", t++}, {"message", m}, {"ingestionTime", t}});
  return json{{"events", ev}, {"nextForwardToken", fwd}, {"nextBackwardToken", back}}.dump();
}

struct Rig {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kStart);
  CloudWatchLogsClient logs;
  Rig()
      : logs(CloudWatchLogsOptions{"eu-west-1", "http://127.0.0.1:5000/"}, http,
             std::make_shared<StaticCredentialsProvider>(Credentials{"AKIDEXAMPLE", "S", "", {}}),
             clock) {}
};

TEST(CloudWatchLogs, GetLogEventsRequestShape) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(200, page({"a", "b"}, "f/1", "b/1")));
  auto p =
      rig.logs.get_log_events({"grp", "dag_id=d/run_id=r/task_id=t/attempt=1.log", "", false, 50});
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->events.size(), 2u);
  EXPECT_EQ(p->events[1].message, "b");
  EXPECT_EQ(p->events[0].timestamp, 1000);
  EXPECT_EQ(p->next_forward_token, "f/1");
  auto seen = rig.http->requests();
  EXPECT_EQ(seen[0].url, "http://127.0.0.1:5000/");
  EXPECT_EQ(header(seen[0], "X-Amz-Target"), "Logs_20140328.GetLogEvents");
  EXPECT_EQ(header(seen[0], "Content-Type"), "application/x-amz-json-1.1");
  EXPECT_NE(header(seen[0], "Authorization").find("/eu-west-1/logs/aws4_request"),
            std::string::npos);
  json b = json::parse(seen[0].body);
  EXPECT_EQ(b["logGroupName"], "grp");
  EXPECT_EQ(b["startFromHead"], false);
  EXPECT_EQ(b["limit"], 50);
  EXPECT_FALSE(b.contains("nextToken"));
}

TEST(CloudWatchLogs, ReadStreamFollowsTokensThroughEmptyPagesUntilItRepeats) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(200, page({"1", "2"}, "f1", "b1")));
  rig.http->push(FakeHttpClient::json(200, page({}, "f2", "b2")));  // empty, token remains
  rig.http->push(FakeHttpClient::json(200, page({"3"}, "f3", "b3")));
  rig.http->push(FakeHttpClient::json(200, page({}, "f3", "b4")));  // same token: the end
  std::vector<std::string> got;
  std::size_t pages = 0;
  auto s = rig.logs.read_stream(
      "g", "s",
      [&](const LogEvent& e) {
        got.push_back(e.message);
        return true;
      },
      &pages);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(pages, 4u);
  auto seen = rig.http->requests();
  EXPECT_EQ(json::parse(seen[1].body)["nextToken"], "f1");
  EXPECT_EQ(json::parse(seen[3].body)["nextToken"], "f3");
  EXPECT_EQ(json::parse(seen[0].body)["startFromHead"], true);
}

TEST(CloudWatchLogs, ReadStreamStopsWhenTheSinkSaysSo) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(200, page({"1", "2"}, "f1", "b1")));
  int n = 0;
  auto s = rig.logs.read_stream("g", "s", [&](const LogEvent&) { return ++n < 1; });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(n, 1);
  EXPECT_EQ(rig.http->request_count(), 1u);
}

TEST(CloudWatchLogs, TailPagesBackAndKeepsOrder) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(200, page({"7", "8", "9"}, "f", "b1")));
  rig.http->push(FakeHttpClient::json(200, page({}, "f", "b2")));
  rig.http->push(FakeHttpClient::json(200, page({"4", "5", "6"}, "f", "b3")));
  auto t = rig.logs.tail("g", "s", 5);
  ASSERT_TRUE(t.ok()) << t.error().message;
  std::vector<std::string> got;
  for (auto& e : *t) got.push_back(e.message);
  EXPECT_EQ(got, (std::vector<std::string>{"5", "6", "7", "8", "9"}));
  EXPECT_EQ(rig.http->request_count(), 3u);
  EXPECT_EQ(json::parse(rig.http->requests()[2].body)["nextToken"], "b2");
}

TEST(CloudWatchLogs, TailOfAShortStreamStopsAtTheRepeatedToken) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(200, page({"1", "2"}, "f", "b1")));
  rig.http->push(FakeHttpClient::json(200, page({}, "f", "b1")));
  auto t = rig.logs.tail("g", "s", 100);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 2u);
  EXPECT_EQ(rig.http->request_count(), 2u);
}

TEST(CloudWatchLogs, ReadBackwardHandsPagesNewestFirstAndSkipsEmptyOnes) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(200, page({"7", "8", "9"}, "f", "b1")));
  rig.http->push(FakeHttpClient::json(200, page({}, "f", "b2")));
  rig.http->push(FakeHttpClient::json(200, page({"4", "5", "6"}, "f", "b3")));
  rig.http->push(FakeHttpClient::json(200, page({}, "f", "b3")));
  std::vector<std::vector<std::string>> got;
  std::size_t pages = 0;
  auto r = rig.logs.read_backward(
      "g", "s",
      [&](std::vector<LogEvent>& evs) {
        got.emplace_back();
        for (auto& e : evs) got.back().push_back(e.message);
        return true;
      },
      &pages, 100);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(*r);  // the start was reached: the backward token came back unchanged
  EXPECT_EQ(pages, 4u);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], (std::vector<std::string>{"7", "8", "9"}));
  EXPECT_EQ(got[1], (std::vector<std::string>{"4", "5", "6"}));
  json first = json::parse(rig.http->requests()[0].body);
  EXPECT_EQ(first["startFromHead"], false);
  EXPECT_FALSE(first.contains("nextToken"));
  EXPECT_EQ(first["limit"], 100);
  EXPECT_EQ(json::parse(rig.http->requests()[1].body)["nextToken"], "b1");
}

TEST(CloudWatchLogs, ReadBackwardStopsWhenThePageSinkHasEnough) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(200, page({"7", "8", "9"}, "f", "b1")));
  rig.http->push(FakeHttpClient::json(200, page({"4", "5", "6"}, "f", "b2")));
  std::size_t pages = 0;
  auto r = rig.logs.read_backward(
      "g", "s", [&](std::vector<LogEvent>&) { return false; }, &pages);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);  // stopped before the start
  EXPECT_EQ(pages, 1u);
  EXPECT_EQ(rig.http->request_count(), 1u);
}

TEST(CloudWatchLogs, ThrottlingIsRetriedWithBackoff) {
  Rig rig;
  rig.http->push(
      FakeHttpClient::ok(400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})"));
  rig.http->push(
      FakeHttpClient::ok(400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})"));
  rig.http->push(FakeHttpClient::json(200, page({"x"}, "f", "b")));
  auto p = rig.logs.get_log_events({"g", "s"});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(rig.clock->now() - kStart, 600ms);  // 200 + 400
  EXPECT_EQ(rig.http->request_count(), 3u);
}

TEST(CloudWatchLogs, ThrottlingGivesUpAfterMaxAttempts) {
  Rig rig;
  rig.http->set_handler([](const http::Request&) {
    return FakeHttpClient::ok(400, R"({"__type":"ThrottlingException"})");
  });
  auto p = rig.logs.get_log_events({"g", "s"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::unavailable);
  EXPECT_NE(p.error().message.find("gave up after 5"), std::string::npos) << p.error().message;
  EXPECT_EQ(rig.http->request_count(), 5u);
}

TEST(CloudWatchLogs, ErrorsMap) {
  Rig rig;
  rig.http->push(FakeHttpClient::ok(
      400,
      R"({"__type":"ResourceNotFoundException","message":"The specified log stream does not exist."})"));
  auto p = rig.logs.get_log_events({"g", "s"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::not_found);
  rig.http->push(FakeHttpClient::ok(400, R"({"__type":"AccessDeniedException","Message":"no"})"));
  p = rig.logs.get_log_events({"g", "s"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::permission_denied);
  EXPECT_NE(p.error().message.find("logs:GetLogEvents"), std::string::npos);
  rig.http->push(FakeHttpClient::ok(400, R"({"__type":"UnrecognizedClientException"})"));
  p = rig.logs.get_log_events({"g", "s"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::unauthenticated);
  rig.http->push(FakeHttpClient::garbage());
  p = rig.logs.get_log_events({"g", "s"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::protocol);
  EXPECT_FALSE(rig.logs.get_log_events({"", "s"}).ok());
}

TEST(CloudWatchLogs, FilterPagesAWindow) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(
      200,
      R"({"events":[{"logStreamName":"s1","timestamp":5,"message":"ERROR a"}],"nextToken":"n1"})"));
  rig.http->push(FakeHttpClient::json(
      200, R"({"events":[{"logStreamName":"s2","timestamp":6,"message":"ERROR b"}]})"));
  FilterLogEventsRequest r;
  r.group = "g";
  r.pattern = "ERROR";
  r.start_ms = 1;
  r.end_ms = 10;
  r.stream_prefix = "dag_id=d/";
  std::vector<std::string> got;
  ASSERT_TRUE(rig.logs
                  .filter(r,
                          [&](const LogEvent& e) {
                            got.push_back(e.log_stream + ":" + e.message);
                            return true;
                          })
                  .ok());
  EXPECT_EQ(got, (std::vector<std::string>{"s1:ERROR a", "s2:ERROR b"}));
  json b = json::parse(rig.http->requests()[0].body);
  EXPECT_EQ(b["filterPattern"], "ERROR");
  EXPECT_EQ(b["startTime"], 1);
  EXPECT_EQ(b["endTime"], 10);
  EXPECT_EQ(b["logStreamNamePrefix"], "dag_id=d/");
  EXPECT_EQ(json::parse(rig.http->requests()[1].body)["nextToken"], "n1");
  EXPECT_EQ(header(rig.http->requests()[0], "X-Amz-Target"), "Logs_20140328.FilterLogEvents");
}

}  // namespace
}  // namespace dm::aws
