// MWAA calls over FakeHttpClient: InvokeRestApi request shapes and reply mapping, AWS error
// mapping, the 64-character Path limit and its route-around, CreateCliToken + CLI, quoting.
#include "aws/mwaa.h"

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

struct Rig {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kStart);
  std::shared_ptr<MwaaApi> api;
  std::shared_ptr<InvokeRestApiHttpClient> invoke;
  Rig() {
    MwaaOptions o;
    o.name = "prod-env";
    o.region = "eu-west-1";
    o.endpoint = "http://127.0.0.1:9999";
    api = std::make_shared<MwaaApi>(o, http,
                                    std::make_shared<StaticCredentialsProvider>(
                                        Credentials{"AKIDEXAMPLE", "SECRET", "TOK", {}}),
                                    clock);
    invoke = std::make_shared<InvokeRestApiHttpClient>(api);
  }
  http::Request get(const std::string& path_query) {
    http::Request r;
    r.url = invoke->rest_base_url() + path_query;
    return r;
  }
};

TEST(InvokeRestApi, SignedPostWithPathMethodAndDecodedQuery) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(
      200, R"({"RestApiStatusCode":200,"RestApiResponse":{"dag_runs":[],"total_entries":0}})"));
  auto r = rig.invoke->send(
      rig.get("/api/v2/dags/~/dagRuns?state=failed&state=upstream_failed&run_after_gte="
              "2026-11-26T00%3A00%3A00%2B00%3A00&limit=100"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["total_entries"], 0);
  auto seen = rig.http->requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, http::Method::post);
  EXPECT_EQ(seen[0].url, "http://127.0.0.1:9999/restapi/prod-env");
  EXPECT_NE(header(seen[0], "Authorization").find("/eu-west-1/airflow/aws4_request"),
            std::string::npos);
  EXPECT_EQ(header(seen[0], "X-Amz-Security-Token"), "TOK");
  json b = json::parse(seen[0].body);
  EXPECT_EQ(b["Path"], "/dags/~/dagRuns");
  EXPECT_EQ(b["Method"], "GET");
  EXPECT_EQ(b["QueryParameters"]["state"], json::array({"failed", "upstream_failed"}));
  EXPECT_EQ(b["QueryParameters"]["run_after_gte"], "2026-11-26T00:00:00+00:00");
  EXPECT_EQ(b["QueryParameters"]["limit"], "100");
  EXPECT_FALSE(b.contains("Body"));
}

TEST(InvokeRestApi, BodyIsForwardedAsJson) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(200, R"({"RestApiStatusCode":200,"RestApiResponse":{}})"));
  auto req = rig.get("/api/v2/dags/d1/clearTaskInstances");
  req.method = http::Method::post;
  req.body = R"({"dry_run":true})";
  ASSERT_TRUE(rig.invoke->send(req).ok());
  json b = json::parse(rig.http->requests()[0].body);
  EXPECT_EQ(b["Method"], "POST");
  EXPECT_EQ(b["Body"]["dry_run"], true);
}

TEST(InvokeRestApi, ClientAndServerExceptionsCarryAirflowStatus) {
  Rig rig;
  rig.http->push(FakeHttpClient::ok(
      400, R"({"Message":"nope","RestApiStatusCode":404,"RestApiResponse":{"detail":"no DAG"}})",
      {{"x-amzn-ErrorType", "RestApiClientException"}}));
  auto r = rig.invoke->send(rig.get("/api/v2/dags/nope"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body)["detail"], "no DAG");
  rig.http->push(
      FakeHttpClient::ok(400, R"({"RestApiStatusCode":500,"RestApiResponse":{"detail":"boom"}})",
                         {{"x-amzn-ErrorType", "RestApiServerException"}}));
  r = rig.invoke->send(rig.get("/api/v2/dags"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
}

TEST(InvokeRestApi, AccessDeniedNamesTheIamAction) {
  Rig rig;
  rig.http->push(FakeHttpClient::ok(403, R"({"Message":"User is not authorized"})",
                                    {{"x-amzn-ErrorType", "AccessDeniedException:http://x"}}));
  auto r = rig.invoke->send(rig.get("/api/v2/dags"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403);
  std::string d = json::parse(r->body)["detail"];
  EXPECT_NE(d.find("airflow:InvokeRestApi"), std::string::npos) << d;
  EXPECT_NE(d.find("prod-env"), std::string::npos) << d;
}

TEST(InvokeRestApi, ThrottlingBecomes429AndSignatureErrors401) {
  Rig rig;
  rig.http->push(FakeHttpClient::ok(400, R"({"__type":"ThrottlingException","message":"slow"})"));
  auto r = rig.invoke->send(rig.get("/api/v2/dags"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 429);
  rig.http->push(FakeHttpClient::ok(
      403, R"({"__type":"InvalidSignatureException","message":"Signature expired"})"));
  r = rig.invoke->send(rig.get("/api/v2/dags"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  rig.http->push(FakeHttpClient::ok(404, R"({"__type":"ResourceNotFoundException"})"));
  r = rig.invoke->send(rig.get("/api/v2/dags"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
}

TEST(InvokeRestApi, LongTaskInstancePathIsRoutedToTheListEndpoint) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(
      200,
      R"({"RestApiStatusCode":200,"RestApiResponse":{"task_instances":[],"total_entries":0}})"));
  auto r = rig.invoke->send(
      rig.get("/api/v2/dags/zoo_fail/dagRuns/manual__2026-11-26T02%3A13%3A09.123456%2B00%3A00/"
              "taskInstances?state=failed&state=upstream_failed&limit=100&offset=0"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  json b = json::parse(rig.http->requests()[0].body);
  EXPECT_EQ(b["Path"], "/dags/~/dagRuns/~/taskInstances/list");
  EXPECT_EQ(b["Method"], "POST");
  EXPECT_EQ(b["Body"]["dag_ids"], json::array({"zoo_fail"}));
  EXPECT_EQ(b["Body"]["dag_run_ids"], json::array({"manual__2026-11-26T02:13:09.123456+00:00"}));
  EXPECT_EQ(b["Body"]["state"], json::array({"failed", "upstream_failed"}));
  EXPECT_EQ(b["Body"]["page_limit"], 100);
  EXPECT_EQ(b["Body"]["page_offset"], 0);
}

TEST(InvokeRestApi, OtherLongPathsFailClearlyWithoutACall) {
  Rig rig;
  auto r = rig.invoke->send(
      rig.get("/api/v2/dags/zoo_fail/dagRuns/manual__2026-11-26T02%3A13%3A09.123456%2B00%3A00"
              "/taskInstances/extract/logs/1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find("at most 64"), std::string::npos) << r.error().message;
  EXPECT_EQ(rig.http->request_count(), 0u);
}

TEST(InvokeRestApi, RejectsUrlsOutsideTheRestApi) {
  Rig rig;
  http::Request req;
  req.url = "http://elsewhere/api/v2/dags";
  EXPECT_FALSE(rig.invoke->send(req).ok());
  EXPECT_FALSE(rig.invoke->send(rig.get("/auth/token")).ok());
  EXPECT_FALSE(rig.invoke->send(rig.get("/api/v2/dags?x=%zz")).ok());
  EXPECT_EQ(rig.http->request_count(), 0u);
}

TEST(InvokeRestApi, StreamedRequestGetsTheBodyInOneChunk) {
  Rig rig;
  rig.http->push(
      FakeHttpClient::json(200, R"({"RestApiStatusCode":200,"RestApiResponse":{"a":1}})"));
  auto req = rig.get("/api/v2/dags");
  std::string got;
  req.on_body = [&](std::string_view c) {
    got += c;
    return true;
  };
  auto r = rig.invoke->send(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::parse(got)["a"], 1);
  EXPECT_TRUE(r->body.empty());
}

TEST(MwaaApi, TaskLogGroupFromGetEnvironment) {
  Rig rig;
  rig.http->push(FakeHttpClient::json(
      200, R"({"Environment":{"LoggingConfiguration":{"TaskLogs":{"Enabled":true,
      "CloudWatchLogGroupArn":"arn:aws:logs:eu-west-1:123456789012:log-group:airflow-prod-env-Task:*"}}}})"));
  auto g = rig.api->task_log_group();
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(*g, "airflow-prod-env-Task");
  auto seen = rig.http->requests();
  EXPECT_EQ(seen[0].method, http::Method::get);
  EXPECT_EQ(seen[0].url, "http://127.0.0.1:9999/environments/prod-env");
  rig.http->push(FakeHttpClient::json(
      200, R"({"Environment":{"LoggingConfiguration":{"TaskLogs":{"Enabled":false}}}})"));
  g = rig.api->task_log_group();
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, Errc::failed_precondition);
}

// Host prefixes from botocore's service model (mwaa 2020-07-01): InvokeRestApi and CreateCliToken
// have endpoint.hostPrefix "env.", GetEnvironment "api."; an explicit endpoint is used as is.
TEST(MwaaApi, RegionalUrlsCarryTheServiceModelHostPrefix) {
  MwaaOptions o;
  o.name = "prod-env";
  o.region = "eu-west-1";
  EXPECT_EQ(mwaa_url(o, "/restapi/prod-env"),
            "https://env.airflow.eu-west-1.amazonaws.com/restapi/prod-env");
  EXPECT_EQ(mwaa_url(o, "/clitoken/prod-env"),
            "https://env.airflow.eu-west-1.amazonaws.com/clitoken/prod-env");
  EXPECT_EQ(mwaa_url(o, "/environments/prod-env"),
            "https://api.airflow.eu-west-1.amazonaws.com/environments/prod-env");
  o.endpoint = "https://vpce-1.airflow.eu-west-1.vpce.amazonaws.com";
  EXPECT_EQ(mwaa_url(o, "/environments/prod-env"),
            "https://vpce-1.airflow.eu-west-1.vpce.amazonaws.com/environments/prod-env");

  auto http = std::make_shared<FakeHttpClient>();
  o.endpoint.clear();
  auto api = std::make_shared<MwaaApi>(
      o, http,
      std::make_shared<StaticCredentialsProvider>(Credentials{"AKIDEXAMPLE", "SECRET", "", {}}),
      std::make_shared<ManualClock>(kStart));
  InvokeRestApiHttpClient invoke(api);
  EXPECT_EQ(invoke.rest_base_url(), "https://env.airflow.eu-west-1.amazonaws.com/restapi/prod-env");
  http->push(FakeHttpClient::json(200, R"({"CliToken":"t","WebServerHostname":"h"})"));
  ASSERT_TRUE(api->create_cli_token().ok());
  auto seen = http->requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].url, "https://env.airflow.eu-west-1.amazonaws.com/clitoken/prod-env");
  EXPECT_EQ(header(seen[0], "Host"), "env.airflow.eu-west-1.amazonaws.com");
}

TEST(MwaaApi, ControlPlaneThrottlingBacksOffThenSucceeds) {
  Rig rig;
  rig.http->push(FakeHttpClient::ok(400, R"({"__type":"ThrottlingException"})"));
  rig.http->push(FakeHttpClient::ok(429, R"({"__type":"ThrottlingException"})"));
  rig.http->push(
      FakeHttpClient::json(200, R"({"CliToken":"t0k","WebServerHostname":"h.example"})"));
  auto t = rig.api->create_cli_token();
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->web_server_hostname, "h.example");
  EXPECT_EQ(rig.http->request_count(), 3u);
  EXPECT_EQ(rig.clock->now() - kStart, 750ms);  // 250 + 500
}

TEST(MwaaApi, RunCliSendsBearerAndDecodesBase64) {
  Rig rig;
  rig.http->push(
      FakeHttpClient::json(200, R"({"CliToken":"t0k","WebServerHostname":"h.example"})"));
  rig.http->push(FakeHttpClient::json(200, R"({"stdout":"aGVsbG8K","stderr":""})"));
  auto o = rig.api->run_cli("dags list");
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->stdout_text, "hello\n");
  auto seen = rig.http->requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].url, "http://127.0.0.1:9999/clitoken/prod-env");
  EXPECT_EQ(seen[1].url, "https://h.example/aws_mwaa/cli");
  EXPECT_EQ(header(seen[1], "Authorization"), "Bearer t0k");
  EXPECT_EQ(seen[1].body, "dags list");
  EXPECT_FALSE(seen[1].idempotent);
}

TEST(MwaaApi, RunCliOutputThatIsNotBase64IsAProtocolError) {
  Rig rig;
  rig.http->push(
      FakeHttpClient::json(200, R"({"CliToken":"t0k","WebServerHostname":"h.example"})"));
  rig.http->push(FakeHttpClient::json(200, R"({"stdout":"Created <DagRun>","stderr":""})"));
  auto o = rig.api->run_cli("dags list");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, Errc::protocol);
  EXPECT_NE(o.error().message.find("not base64"), std::string::npos) << o.error().message;
}

TEST(MwaaApi, CliTokenAccessDenied) {
  Rig rig;
  rig.http->push(FakeHttpClient::ok(403, R"({"__type":"AccessDeniedException","Message":"no"})"));
  auto o = rig.api->run_cli("dags list");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, Errc::permission_denied);
  EXPECT_NE(o.error().message.find("airflow:CreateCliToken"), std::string::npos);
}

// A POSIX shell word splitter (quotes and backslashes) to check the quoting from the reader's
// side, as shlex.split(posix=True) does on the web server.
std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\'') {
      in_word = true;
      auto e = s.find('\'', i + 1);
      cur += s.substr(i + 1, e - i - 1);
      i = e;
    } else if (c == '"') {
      in_word = true;
      for (++i; s[i] != '"'; ++i) {
        if (s[i] == '\\' && (s[i + 1] == '"' || s[i + 1] == '\\')) ++i;
        cur += s[i];
      }
    } else if (c == '\\') {
      in_word = true;
      cur += s[++i];
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      in_word = true;
      cur += c;
    }
  }
  if (in_word) out.push_back(cur);
  return out;
}

TEST(CliQuoting, HostileConfValuesStayOneArgument) {
  json conf{{"a", "'; airflow dags delete x --yes; echo '"},
            {"b", "\" --run-id evil \""},
            {"c", "$(rm -rf /) `id` \\' \\\" \n\t"},
            {"d", "x' --conf '{}"}};
  auto cmd = dags_trigger_command("zoo_fail", "manual__it's \"mine\"", conf);
  ASSERT_TRUE(cmd.ok()) << cmd.error().message;
  auto w = split_words(*cmd);
  ASSERT_EQ(w.size(), 5u) << *cmd;
  EXPECT_EQ(w[0], "dags");
  EXPECT_EQ(w[1], "trigger");
  EXPECT_EQ(w[2], "zoo_fail");
  EXPECT_EQ(w[3], "--run-id=manual__it's \"mine\"");
  ASSERT_EQ(w[4].rfind("--conf=", 0), 0u);
  EXPECT_EQ(json::parse(w[4].substr(7)), conf);
  EXPECT_EQ(cmd->find('\n'), std::string::npos);  // conf is dumped ASCII-escaped
}

TEST(CliQuoting, RejectsBadIds) {
  EXPECT_FALSE(dags_trigger_command("a b", "r", json::object()).ok());
  // Quoting cannot stop argparse from reading "--help" as an option: such ids are refused.
  EXPECT_FALSE(dags_trigger_command("--help", "r", json::object()).ok());
  auto c = dags_trigger_command("d", "--conf", json::object());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(split_words(*c)[3], "--run-id=--conf");
  EXPECT_FALSE(dags_trigger_command("d", "", json::object()).ok());
  EXPECT_FALSE(dags_trigger_command("d", "a\nb", json::object()).ok());
  EXPECT_FALSE(dags_trigger_command("d", "r", json::array({1})).ok());
  auto no_conf = dags_trigger_command("d", "r", json::object());
  ASSERT_TRUE(no_conf.ok());
  EXPECT_EQ(*no_conf, "dags trigger 'd' --run-id='r'");
}

}  // namespace
}  // namespace dm::aws
