// The kind-mwaa branch of make_client with the `mwaa:` config keys: every call goes to the
// configured endpoints (MWAA, CloudWatch Logs, CLI host), signed; bad keys are refused.
#include <gtest/gtest.h>

#include "airflow/factory.h"
#include "config/config.h"
#include "http/fake_http_client.h"

namespace dm::airflow {
namespace {

using http::FakeHttpClient;
using json = nlohmann::json;

const char* kYaml = R"(
environments:
  m:
    kind: mwaa
    api_version: v2
    mwaa:
      name: env1
      region: eu-west-1
      endpoint: http://127.0.0.1:7001/
      logs_endpoint: http://127.0.0.1:7002
      sts_endpoint: http://127.0.0.1:7003
      log_group: grp
      web_server_url: http://127.0.0.1:7004
)";

TEST(MwaaFactory, ConfigKeysReachTheClient) {
  auto cfg = config::parse_config(kYaml, "test.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  const auto& m = cfg->environments.at(0).mwaa;
  EXPECT_EQ(m.endpoint, "http://127.0.0.1:7001");  // trailing slash dropped
  EXPECT_EQ(m.sts_endpoint, "http://127.0.0.1:7003");
  EXPECT_EQ(m.log_group, "grp");

  auto http = std::make_shared<FakeHttpClient>();
  http->set_handler([](const http::Request& r) -> Result<http::Response> {
    if (r.url == "http://127.0.0.1:7002/") {
      // First page: one event; asked again with its token: the end (no events, same token).
      bool first = !json::parse(r.body).contains("nextToken");
      return FakeHttpClient::json(200,
                                  std::string(R"({"events":)") +
                                      (first ? R"([{"timestamp":1,"message":"hello"}])" : "[]") +
                                      R"(,"nextForwardToken":"f","nextBackwardToken":"b"})");
    }
    if (r.url == "http://127.0.0.1:7001/restapi/env1")
      return FakeHttpClient::json(
          200,
          R"({"RestApiStatusCode":200,"RestApiResponse":{"import_errors":[],"total_entries":0}})");
    return FakeHttpClient::refused();
  });
  ClientDeps deps;
  deps.http = http;
  deps.clock = std::make_shared<ManualClock>(Clock::time_point{std::chrono::seconds(1795656310)});
  deps.aws_credentials = std::make_shared<aws::StaticCredentialsProvider>(
      aws::Credentials{"AKIDEXAMPLE", "S", "", {}});
  auto c = make_client(cfg->environments.at(0), deps);
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto errs = (*c)->list_import_errors();
  ASSERT_TRUE(errs.ok()) << errs.error().message;
  std::vector<std::string> lines;
  ASSERT_TRUE((*c)->read_task_log({"d", "r", "t", 1, -1},
                                  [&](const LogLine& l) {
                                    lines.emplace_back(l.text);
                                    return true;
                                  })
                  .ok());
  EXPECT_EQ(lines, std::vector<std::string>{"hello"});
  for (const auto& r : http->requests()) {
    bool signed_ = false;
    for (const auto& [k, v] : r.headers)
      if (http::iequals(k, "Authorization") && v.rfind("AWS4-HMAC-SHA256 ", 0) == 0) signed_ = true;
    EXPECT_TRUE(signed_) << r.url;
  }
}

TEST(MwaaFactory, TheLogReadByteCapReachesTheClient) {
  auto cfg = config::parse_config(kYaml, "test.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  auto http = std::make_shared<FakeHttpClient>();
  http->set_handler([](const http::Request& r) -> Result<http::Response> {
    bool first = !json::parse(r.body).contains("nextToken");
    return FakeHttpClient::json(
        200, std::string(R"({"events":)") +
                 (first ? R"([{"timestamp":1,"message":"hello"},{"timestamp":2,"message":"bye"}])"
                        : "[]") +
                 R"(,"nextForwardToken":"f","nextBackwardToken":"b"})");
  });
  ClientDeps deps;
  deps.http = http;
  deps.clock = std::make_shared<ManualClock>(Clock::time_point{std::chrono::seconds(1795656310)});
  deps.aws_credentials = std::make_shared<aws::StaticCredentialsProvider>(
      aws::Credentials{"AKIDEXAMPLE", "S", "", {}});
  deps.log_read_bytes_max = 8;  // "hello\n" fits, "bye\n" would pass it
  auto c = make_client(cfg->environments.at(0), deps);
  ASSERT_TRUE(c.ok()) << c.error().message;
  std::vector<std::string> lines;
  LogStats st;
  ASSERT_TRUE((*c)->read_task_log(
                      {"d", "r", "t", 1, -1},
                      [&](const LogLine& l) {
                        lines.emplace_back(l.text);
                        return true;
                      },
                      &st)
                  .ok());
  EXPECT_EQ(lines, std::vector<std::string>{"hello"});
  EXPECT_TRUE(st.capped);
  EXPECT_EQ(st.read_bytes_max, 8u);
}

TEST(MwaaFactory, BadMwaaKeysAreRefused) {
  auto bad = config::parse_config(
      "environments:\n  m:\n    kind: mwaa\n    mwaa: {name: e, region: r, endpoint: ftp://x}\n",
      "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("mwaa.endpoint"), std::string::npos) << bad.error().message;
  auto unknown = config::parse_config(
      "environments:\n  m:\n    kind: mwaa\n    mwaa: {name: e, region: r, bucket: x}\n", "t");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("bucket"), std::string::npos) << unknown.error().message;
}

}  // namespace
}  // namespace dm::airflow
