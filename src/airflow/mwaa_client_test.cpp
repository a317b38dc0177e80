// MwaaAirflowClient over one FakeHttpClient that answers as MWAA (InvokeRestApi, CreateCliToken,
// GetEnvironment), the web server CLI and CloudWatch Logs would.
#include "airflow/mwaa_client.h"

#include <gtest/gtest.h>

#include "airflow/mwaa_test_client.h"
#include "http/fake_http_client.h"

namespace dm::airflow {
namespace {

using http::FakeHttpClient;
using json = nlohmann::json;

const Clock::time_point kStart{std::chrono::seconds(1795656310)};

std::string header(const http::Request& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (http::iequals(k, name)) return v;
  return "";
}

struct Rig {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kStart);
  std::vector<http::Request> cli_calls;
  std::unique_ptr<MwaaAirflowClient> client;
  std::map<std::string, std::vector<json>> streams;  // name → pages of events
  std::string cli_stderr;

  explicit Rig(std::string log_group = "") {
    client = testing::make_mwaa_test_client(http, clock, log_group);
    http->set_handler([this](const http::Request& r) { return answer(r); });
  }

  Result<http::Response> answer(const http::Request& r) {
    if (r.url == "http://logs.test/") {
      json b = json::parse(r.body);
      std::string s = b["logStreamName"];
      if (!streams.count(s))
        return FakeHttpClient::ok(
            400,
            R"({"__type":"ResourceNotFoundException","message":"The specified log stream does not exist."})");
      auto& pages = streams[s];
      std::size_t i = b.contains("nextToken") ? std::stoul(b["nextToken"].get<std::string>()) : 0;
      std::size_t next = std::min(i + 1, pages.size());  // last page repeats its token
      json ev = i < pages.size() ? pages[i] : json::array();
      return FakeHttpClient::json(200, json{{"events", ev},
                                            {"nextForwardToken", std::to_string(next)},
                                            {"nextBackwardToken", "b"}}
                                           .dump());
    }
    if (r.url == "http://mwaa.test/environments/env1")
      return FakeHttpClient::json(200, R"({"Environment":{"LoggingConfiguration":{"TaskLogs":
        {"Enabled":true,"CloudWatchLogGroupArn":"arn:aws:logs:eu-west-1:1:log-group:airflow-env1-Task:*"}}}})");
    if (r.url == "http://mwaa.test/clitoken/env1")
      return FakeHttpClient::json(200, R"({"CliToken":"tok","WebServerHostname":"ignored"})");
    if (r.url == "http://web.test/aws_mwaa/cli") {
      cli_calls.push_back(r);
      return FakeHttpClient::json(200, json{{"stdout", http::base64_encode("Created <DagRun>\n")},
                                            {"stderr", http::base64_encode(cli_stderr)}}
                                           .dump());
    }
    if (r.url == "http://mwaa.test/restapi/env1") {
      json b = json::parse(r.body);
      if (b["Path"] == "/dags/d1/dagRuns/r1")
        return FakeHttpClient::json(200, json{{"RestApiStatusCode", 200},
                                              {"RestApiResponse",
                                               {{"dag_id", "d1"},
                                                {"dag_run_id", "r1"},
                                                {"state", "queued"},
                                                {"run_type", "manual"}}}}
                                             .dump());
      return FakeHttpClient::json(
          200, R"({"RestApiStatusCode":404,"RestApiResponse":{"detail":"nope"}})");
    }
    return FakeHttpClient::refused();
  }
};

TEST(MwaaLogStream, NameAsMwaaWritesIt) {
  LogRequest r{"etl", "scheduled__2026-11-26T00:00:00+00:00", "load", 2, -1};
  EXPECT_EQ(mwaa_log_stream(r),
            "dag_id=etl/run_id=scheduled__2026-11-26T00_00_00+00_00/task_id=load/attempt=2.log");
  r.map_index = 3;
  EXPECT_EQ(mwaa_log_stream(r),
            "dag_id=etl/run_id=scheduled__2026-11-26T00_00_00+00_00/task_id=load/map_index=3/"
            "attempt=2.log");
}

TEST(MwaaClient, ReadsTaskLogFromCloudWatchInOrder) {
  Rig rig;
  const std::string s = "dag_id=d1/run_id=r_1/task_id=t/attempt=1.log";
  rig.streams[s] = {
      json::array({{{"timestamp", 1}, {"message", "plain one"}},
                   {{"timestamp", 2}, {"message", "two\nthree\n"}}}),
      json::array(),
      json::array(
          {{{"timestamp", 3},
            {"message",
             R"({"timestamp":"2026-11-26T01:00:00Z","level":"error","event":"Task failed","logger":"airflow.task"})"}}})};
  std::vector<std::string> lines;
  std::vector<std::string> levels;
  LogStats st;
  auto ok = rig.client->read_task_log(
      {"d1", "r:1", "t", 1, -1},
      [&](const LogLine& l) {
        lines.emplace_back(l.text);
        levels.emplace_back(l.level);
        return true;
      },
      &st);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0], "plain one");
  EXPECT_EQ(lines[1], "two");
  EXPECT_EQ(lines[2], "three");
  EXPECT_NE(lines[3].find("Task failed"), std::string::npos) << lines[3];
  EXPECT_EQ(levels[3], "error");
  EXPECT_EQ(st.pages, 4u);  // 3 pages + the one whose token repeats
  EXPECT_EQ(st.lines, lines.size());
  // The log group came from GetEnvironment, once.
  auto got = rig.client->log_group();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "airflow-env1-Task");
}

TEST(MwaaClient, ConfiguredLogGroupSkipsGetEnvironment) {
  Rig rig("my-group");
  rig.streams["dag_id=d/run_id=r/task_id=t/map_index=2/attempt=3.log"] = {
      json::array({{{"timestamp", 1}, {"message", "x"}}})};
  int n = 0;
  ASSERT_TRUE(rig.client
                  ->read_task_log({"d", "r", "t", 3, 2},
                                  [&](const LogLine&) {
                                    ++n;
                                    return true;
                                  })
                  .ok());
  EXPECT_EQ(n, 1);
  for (const auto& r : rig.http->requests()) {
    EXPECT_NE(r.url, "http://mwaa.test/environments/env1");
    if (r.url == "http://logs.test/") {
      EXPECT_EQ(json::parse(r.body)["logGroupName"], "my-group");
    }
  }
}

TEST(MwaaClient, MissingStreamIsNotFoundNamingIt) {
  Rig rig("g");
  auto s = rig.client->read_task_log({"d", "r", "t", 1, -1}, [](const LogLine&) { return true; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::not_found);
  EXPECT_NE(s.error().message.find("dag_id=d/run_id=r/task_id=t/attempt=1.log"), std::string::npos);
  EXPECT_NE(s.error().message.find("mwaa-prod"), std::string::npos);
}

TEST(MwaaClient, TriggerGoesThroughTheCliWithQuotedArguments) {
  Rig rig;
  TriggerRequest t;
  t.dag_id = "d1";
  t.dag_run_id = "r1";
  t.conf = {{"x", "' --yes; rm -rf /"}};
  auto run = rig.client->trigger_dag_run(t);
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->state, "queued");
  ASSERT_EQ(rig.cli_calls.size(), 1u);
  EXPECT_EQ(header(rig.cli_calls[0], "Authorization"), "Bearer tok");
  EXPECT_EQ(rig.cli_calls[0].body,
            "dags trigger 'd1' --run-id='r1' --conf='{\"x\":\"'\"'\"' --yes; rm -rf /\"}'");
}

TEST(MwaaClient, TriggerMapsCliFailures) {
  Rig rig;
  rig.cli_stderr = "Traceback...\nDagRunAlreadyExists: run r1 already exists\n";
  auto run = rig.client->trigger_dag_run({"d1", "r1", json::object(), ""});
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, Errc::conflict);
  EXPECT_FALSE(rig.client->trigger_dag_run({"bad id", "r1", json::object(), ""}).ok());
  EXPECT_EQ(rig.cli_calls.size(), 1u);  // the bad id never reached the CLI
}

TEST(MwaaClient, RestCallsGoThroughInvokeRestApi) {
  Rig rig;
  auto r = rig.client->get_dag_run("d1", "r1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->run_id, "r1");
  auto missing = rig.client->get_dag("zzz");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

}  // namespace
}  // namespace dm::airflow
