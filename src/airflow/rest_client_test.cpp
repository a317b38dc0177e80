#include "airflow/rest_client.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>

#include "airflow/log_stream.h"
#include "common/base64.h"
#include "common/iso_time.h"
#include "http/fake_http_client.h"
#include "http/retrying_http_client.h"

namespace dm::airflow {
namespace {

using http::FakeHttpClient;
using http::Method;
using http::Request;
using http::Response;
using nlohmann::json;
using namespace std::chrono_literals;

const Clock::time_point kT0 = Clock::time_point(std::chrono::seconds(1'780'000'000));

std::string make_jwt(long long exp, const std::string& tag) {
  return base64url_encode(R"({"alg":"HS512"})") + "." +
         base64url_encode(json{{"exp", exp}, {"sub", tag}}.dump()) + ".sig";
}

std::string path_of(const std::string& url) {
  auto p = url.find("/", url.find("://") + 3);
  auto qm = url.find('?', p);
  return url.substr(p, qm == std::string::npos ? std::string::npos : qm - p);
}

std::string query_of(const std::string& url) {
  auto qm = url.find('?');
  return qm == std::string::npos ? "" : url.substr(qm + 1);
}

std::map<std::string, std::vector<std::string>> params(const std::string& url) {
  std::map<std::string, std::vector<std::string>> out;
  std::string qs = query_of(url);
  size_t i = 0;
  while (i < qs.size()) {
    auto amp = qs.find('&', i);
    auto kv = qs.substr(i, amp == std::string::npos ? std::string::npos : amp - i);
    auto eq = kv.find('=');
    out[kv.substr(0, eq)].push_back(eq == std::string::npos ? "" : kv.substr(eq + 1));
    if (amp == std::string::npos) break;
    i = amp + 1;
  }
  return out;
}

std::string header(const Request& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (http::iequals(k, name)) return v;
  return "";
}

// A scripted Airflow: routes "METHOD /path" to handlers; counts token fetches.
struct FakeAirflow {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kT0);
  Dialect dialect = Dialect::v2;
  std::map<std::string, std::function<Result<Response>(const Request&)>> routes;
  std::string valid_token;
  int token_calls = 0;
  long long token_ttl = 3600;
  std::string password = "pw";
  std::set<std::string> public_routes;

  explicit FakeAirflow(Dialect d = Dialect::v2) : dialect(d) {
    http->set_handler([this](const Request& r) { return handle(r); });
  }

  Result<Response> handle(const Request& r) {
    std::string p = path_of(r.url);
    std::string key = std::string(http::method_name(r.method)) + " " + p;
    if (p == "/api/v2/monitor/health")
      return FakeHttpClient::json(dialect == Dialect::v2 ? 200 : 404, R"({"metadatabase":{}})");
    if (p == "/api/v1/health")
      return FakeHttpClient::json(dialect == Dialect::v1 ? 200 : 404, "{}");
    if (key == "POST /auth/token") {
      ++token_calls;
      auto j = json::parse(r.body);
      if (j["password"] != password)
        return FakeHttpClient::json(401, R"({"detail":"Invalid credentials"})");
      valid_token =
          make_jwt(std::chrono::duration_cast<std::chrono::seconds>(clock->now().time_since_epoch())
                           .count() +
                       token_ttl,
                   std::to_string(token_calls));
      return FakeHttpClient::json(201, json{{"access_token", valid_token}}.dump());
    }
    if (public_routes.count(key)) return routes.at(key)(r);
    // Auth check for everything else.
    std::string auth = header(r, "Authorization");
    if (dialect == Dialect::v2) {
      if (auth != "Bearer " + valid_token || valid_token.empty())
        return FakeHttpClient::json(401, R"({"detail":"Not authenticated"})");
    } else if (auth != "Basic " + http::base64_encode("admin:" + password)) {
      return FakeHttpClient::json(401, R"({"title":"Unauthorized","status":401})");
    }
    auto it = routes.find(key);
    if (it == routes.end())
      return FakeHttpClient::json(404, R"({"detail":"no route )" + key + "\"}");
    return it->second(r);
  }

  std::unique_ptr<RestAirflowClient> client(std::shared_ptr<http::HttpClient> h = nullptr,
                                            int page_size = 100,
                                            std::uint64_t log_read_bytes_max = 0) {
    RestClientOptions o;
    o.log_read_bytes_max = log_read_bytes_max;
    o.environment = "prod";
    o.base_url = "http://af:8080";
    o.credentials.type = config::Credentials::Type::basic;
    o.credentials.username = "admin";
    o.credentials.password = "pw";
    o.credentials.origin = "user from $AF_USER, password from $AF_PASSWORD";
    o.page_size = page_size;
    return std::make_unique<RestAirflowClient>(o, h ? h : http, clock);
  }
};

json v2_run(int i, const std::string& state = "failed") {
  char ts[64];
  std::snprintf(ts, sizeof ts, "2026-06-01T%02d:%02d:00.123456Z", i / 60 % 24, i % 60);
  return {{"dag_run_id", "run_" + std::to_string(i)},
          {"dag_id", "etl"},
          {"state", state},
          {"run_type", "manual"},
          {"logical_date", nullptr},
          {"run_after", ts},
          {"start_date", ts},
          {"end_date", nullptr},
          {"queued_at", ts},
          {"conf", {{"k", i}}},
          {"note", nullptr}};
}

// Serves `all` with limit/offset semantics; optional total_entries.
std::function<Result<Response>(const Request&)> paged(const std::string& key, std::vector<json> all,
                                                      bool with_total,
                                                      std::vector<std::string>* urls = nullptr) {
  return [=](const Request& r) -> Result<Response> {
    if (urls) urls->push_back(r.url);
    auto p = params(r.url);
    size_t limit = std::stoul(p["limit"].at(0)), offset = std::stoul(p["offset"].at(0));
    limit = std::min<size_t>(limit, 100);  // server-side clamp like maximum_page_limit
    json items = json::array();
    for (size_t i = offset; i < all.size() && i < offset + limit; ++i) items.push_back(all[i]);
    json body = {{key, items}};
    if (with_total) body["total_entries"] = all.size();
    return FakeHttpClient::json(200, body.dump());
  };
}

TEST(RestClient, ListRunsPagesToTheEndAndOrdersNewestFirst) {
  FakeAirflow af;
  std::vector<json> all;
  for (int i = 0; i < 250; ++i) all.push_back(v2_run((i * 37) % 250));  // shuffled order
  std::vector<std::string> urls;
  af.routes["GET /api/v2/dags/~/dagRuns"] = paged("dag_runs", all, true, &urls);
  auto c = af.client(nullptr, 100);
  RunQuery q;
  q.states = {"failed", "upstream_failed"};
  q.since = kT0 - 24h;
  auto runs = c->list_dag_runs(q);
  ASSERT_TRUE(runs.ok()) << runs.error().message;
  ASSERT_EQ(runs->size(), 250u);
  ASSERT_EQ(urls.size(), 3u);
  for (size_t i = 0; i + 1 < runs->size(); ++i)
    EXPECT_GE((*runs)[i].run_after, (*runs)[i + 1].run_after) << i;
  EXPECT_EQ(runs->front().run_id, "run_249");
  auto p = params(urls[0]);
  EXPECT_EQ(p["state"], (std::vector<std::string>{"failed", "upstream_failed"}));
  EXPECT_EQ(p["order_by"], std::vector<std::string>{"-run_after"});
  EXPECT_EQ(p["run_after_gte"].at(0), http::url_encode(format_iso8601(kT0 - 24h)));
  EXPECT_EQ(params(urls[2])["offset"], std::vector<std::string>{"200"});
  EXPECT_EQ(runs->front().conf["k"], 249);
  EXPECT_EQ(runs->front().logical_date, "");  // null logical_date on v2
}

TEST(RestClient, PagingWithoutTotalStopsOnShortPageAndDedupes) {
  FakeAirflow af;
  std::vector<json> all;
  for (int i = 0; i < 150; ++i) all.push_back(v2_run(i));
  all.insert(all.begin() + 100, v2_run(99));  // shifted offset: a duplicate
  std::vector<std::string> urls;
  af.routes["GET /api/v2/dags/etl/dagRuns"] = paged("dag_runs", all, false, &urls);
  auto c = af.client(nullptr, 100);
  RunQuery q;
  q.dag_id = "etl";
  auto runs = c->list_dag_runs(q);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 150u);
  EXPECT_EQ(urls.size(), 2u);
}

TEST(RestClient, LimitStopsPagingEarly) {
  FakeAirflow af;
  std::vector<json> all;
  for (int i = 0; i < 500; ++i) all.push_back(v2_run(500 - i));
  std::vector<std::string> urls;
  af.routes["GET /api/v2/dags/etl/dagRuns"] = paged("dag_runs", all, true, &urls);
  auto c = af.client(nullptr, 100);
  RunQuery q;
  q.dag_id = "etl";
  q.limit = 120;
  auto runs = c->list_dag_runs(q);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 120u);
  EXPECT_EQ(urls.size(), 2u);
  EXPECT_EQ(params(urls[1])["limit"], std::vector<std::string>{"20"});
}

TEST(RestClient, V1DialectMapsExecutionDateAndUsesBasicAuth) {
  FakeAirflow af(Dialect::v1);
  std::vector<std::string> urls;
  json runs = json::array();
  runs.push_back({{"dag_run_id", "scheduled__2026-06-01T00:00:00+00:00"},
                  {"dag_id", "etl"},
                  {"state", "failed"},
                  {"execution_date", "2026-06-01T00:00:00+00:00"},
                  {"logical_date", "2026-06-01T00:00:00+00:00"},
                  {"run_type", "scheduled"},
                  {"start_date", "2026-06-01T00:00:05+00:00"},
                  {"end_date", "2026-06-01T00:01:00+00:00"},
                  {"conf", json::object()},
                  {"external_trigger", false}});
  af.routes["GET /api/v1/dags/etl/dagRuns"] = paged("dag_runs", {runs[0]}, true, &urls);
  auto c = af.client();
  RunQuery q;
  q.dag_id = "etl";
  q.states = {"failed"};
  q.since = kT0 - 1h;
  auto r = c->list_dag_runs(q);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].logical_date, "2026-06-01T00:00:00+00:00");
  EXPECT_EQ((*r)[0].run_after, "2026-06-01T00:00:00+00:00");
  EXPECT_EQ((*r)[0].run_type, "scheduled");
  auto p = params(urls[0]);
  EXPECT_EQ(p["order_by"], std::vector<std::string>{"-id"});  // unique: stable offset paging
  EXPECT_EQ(p.count("execution_date_gte"), 1u);
  EXPECT_EQ(p.count("run_after_gte"), 0u);
  EXPECT_EQ(af.token_calls, 0);
  auto info_route = [](const Request&) {
    return FakeHttpClient::json(200, R"({"version":"2.10.5","git_version":null})");
  };
  af.routes["GET /api/v1/version"] = info_route;
  auto info = c->server_info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->dialect, Dialect::v1);
  EXPECT_EQ(info->version, "2.10.5");
}

TEST(RestClient, EndedWindowFiltersOnEndDateInBothDialects) {
  for (Dialect d : {Dialect::v1, Dialect::v2}) {
    FakeAirflow af(d);
    std::vector<std::string> urls;
    const std::string prefix = d == Dialect::v1 ? "/api/v1" : "/api/v2";
    af.routes["GET " + prefix + "/dags/~/dagRuns"] = paged("dag_runs", {}, true, &urls);
    auto c = af.client();
    RunQuery q;
    q.states = {"failed"};
    q.ended_since = kT0 - 1h;
    q.ended_until = kT0;
    auto r = c->list_dag_runs(q);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_FALSE(urls.empty());
    auto p = params(urls[0]);
    EXPECT_EQ(p["end_date_gte"].at(0), http::url_encode(format_iso8601(kT0 - 1h)));
    EXPECT_EQ(p["end_date_lte"].at(0), http::url_encode(format_iso8601(kT0)));
    EXPECT_EQ(p.count("execution_date_gte") + p.count("run_after_gte"), 0u);
    RunQuery bad;
    bad.ended_since = kT0;
    bad.ended_until = kT0 - 1h;
    auto e = c->list_dag_runs(bad);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, Errc::invalid_argument);
  }
}

TEST(RestClient, V1SinglePageLimitOrdersByExecutionDate) {
  FakeAirflow af(Dialect::v1);
  std::vector<std::string> urls;
  af.routes["GET /api/v1/dags/etl/dagRuns"] = paged("dag_runs", {}, true, &urls);
  af.routes["GET /api/v1/dags/etl"] = [](const Request&) {
    return FakeHttpClient::json(200, R"({"dag_id":"etl"})");
  };
  auto c = af.client();
  auto r = c->latest_run("etl");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(params(urls.at(0))["order_by"], std::vector<std::string>{"-execution_date"});
}

TEST(RestClient, V2ServerInfoDetectsDialect) {
  FakeAirflow af;
  af.routes["GET /api/v2/version"] = [](const Request&) {
    return FakeHttpClient::json(200, R"({"version":"3.3.2","git_version":null})");
  };
  auto c = af.client();
  auto info = c->server_info();
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->dialect, Dialect::v2);
  EXPECT_EQ(info->version, "3.3.2");
}

TEST(RestClient, TaskInstancesMapTriesAndMapIndexes) {
  FakeAirflow af;
  json tis = json::array();
  tis.push_back({{"task_id", "load"},
                 {"dag_id", "etl"},
                 {"dag_run_id", "r1"},
                 {"map_index", 2},
                 {"try_number", 1},
                 {"max_tries", 0},
                 {"state", "failed"},
                 {"operator", "PythonOperator"},
                 {"duration", 1.5},
                 {"hostname", "h"}});
  tis.push_back({{"task_id", "load"},
                 {"dag_id", "etl"},
                 {"dag_run_id", "r1"},
                 {"map_index", 0},
                 {"try_number", 1},
                 {"max_tries", 0},
                 {"state", "success"},
                 {"duration", nullptr}});
  tis.push_back({{"task_id", "extract"},
                 {"dag_id", "etl"},
                 {"dag_run_id", "r1"},
                 {"map_index", -1},
                 {"try_number", 2},
                 {"max_tries", 1},
                 {"state", "failed"}});
  std::vector<std::string> urls;
  af.routes["GET /api/v2/dags/etl/dagRuns/r1/taskInstances"] =
      paged("task_instances", {tis[0], tis[1], tis[2]}, true, &urls);
  auto c = af.client();
  auto r = c->list_task_instances("etl", "r1", {"failed", "upstream_failed"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].task_id, "extract");
  EXPECT_EQ((*r)[0].try_number, 2);
  EXPECT_EQ((*r)[0].max_tries, 1);
  EXPECT_EQ((*r)[1].map_index, 0);
  EXPECT_EQ((*r)[2].map_index, 2);
  EXPECT_EQ((*r)[2].operator_name, "PythonOperator");
  EXPECT_DOUBLE_EQ((*r)[2].duration.value(), 1.5);
  EXPECT_FALSE((*r)[1].duration.has_value());
  EXPECT_EQ(params(urls[0])["state"], (std::vector<std::string>{"failed", "upstream_failed"}));
}

TEST(RestClient, UnknownDagRunAndTaskAreNotFound) {
  FakeAirflow af;
  af.routes["GET /api/v2/dags/ghost"] = [](const Request&) {
    return FakeHttpClient::json(404, R"({"detail":"The Dag with ID: `ghost` was not found"})");
  };
  af.routes["GET /api/v2/dags/etl/dagRuns/nope/taskInstances"] = paged("task_instances", {}, true);
  af.routes["GET /api/v2/dags/etl/dagRuns/nope"] = [](const Request&) {
    return FakeHttpClient::json(
        404, R"({"detail":"The DagRun with dag_id: `etl` and run_id: `nope` was not found"})");
  };
  auto c = af.client();
  auto d = c->get_dag("ghost");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, Errc::not_found);
  EXPECT_EQ(d.error().message.rfind("environment \"prod\": get DAG: DAG \"ghost\" not found", 0),
            0u)
      << d.error().message;
  auto t = c->list_task_instances("etl", "nope", {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::not_found);
  EXPECT_NE(t.error().message.find("DAG run \"nope\" of DAG \"etl\" not found"), std::string::npos);
  std::string sink;
  auto l = c->read_task_log({"etl", "nope", "x", 1, -1}, [](const LogLine&) { return true; });
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().code, Errc::not_found);
  EXPECT_NE(l.error().message.find("read task log"), std::string::npos);
}

TEST(RestClient, GetDagNormalizesTags) {
  FakeAirflow af(Dialect::v1);
  af.routes["GET /api/v1/dags/etl"] = [](const Request&) {
    return FakeHttpClient::json(200, R"({"dag_id":"etl","is_paused":true,"owners":["data"],
      "tags":[{"name":"tier=1"},{"name":"business_critical"}],"fileloc":"/dags/etl.py","description":null})");
  };
  auto c = af.client();
  auto d = c->get_dag("etl");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->is_paused);
  EXPECT_EQ(d->tags, (std::vector<std::string>{"tier=1", "business_critical"}));
  EXPECT_EQ(d->owners, std::vector<std::string>{"data"});
}

TEST(RestClient, ListDagsMapsTheTimetableFactsOfBothDialects) {
  FakeAirflow v2;
  std::vector<std::string> urls;
  v2.routes["GET /api/v2/dags"] = paged("dags",
                                        {json{{"dag_id", "hourly"},
                                              {"is_paused", true},
                                              {"tags", json::array({json{{"name", "tier=1"}}})},
                                              {"timetable_summary", "0 * * * *"},
                                              {"next_dagrun_run_after", "2026-06-01T01:00:00Z"},
                                              {"next_dagrun_logical_date", "2026-06-01T00:00:00Z"}},
                                         json{{"dag_id", "manual"},
                                              {"timetable_summary", nullptr},
                                              {"next_dagrun_run_after", nullptr}}},
                                        true, &urls);
  DagQuery q;
  q.tags = {"tier=1", "nightly"};
  auto d = v2.client()->list_dags(q);
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_EQ(d->size(), 2u);
  EXPECT_TRUE((*d)[0].scheduled);
  EXPECT_TRUE((*d)[0].is_paused);
  EXPECT_EQ((*d)[0].next_run_after, "2026-06-01T01:00:00Z");
  EXPECT_EQ((*d)[0].next_logical_date, "2026-06-01T00:00:00Z");
  EXPECT_FALSE((*d)[1].scheduled);
  EXPECT_EQ((*d)[1].next_run_after, "");
  // Query values are percent-encoded ("=" is %3D); params() does not decode them.
  EXPECT_EQ(params(urls[0])["tags"], (std::vector<std::string>{"tier%3D1", "nightly"}));

  FakeAirflow v1(Dialect::v1);
  v1.routes["GET /api/v1/dags"] =
      paged("dags",
            {json{{"dag_id", "hourly"},
                  {"schedule_interval", {{"__type", "CronExpression"}, {"value", "0 * * * *"}}},
                  {"timetable_description", "At minute 0"},
                  {"next_dagrun", "2026-06-01T00:00:00+00:00"},
                  {"next_dagrun_create_after", "2026-06-01T01:00:00+00:00"}},
             json{{"dag_id", "manual"}, {"schedule_interval", nullptr}}},
            true);
  auto d1 = v1.client()->list_dags({});
  ASSERT_TRUE(d1.ok()) << d1.error().message;
  ASSERT_EQ(d1->size(), 2u);
  EXPECT_TRUE((*d1)[0].scheduled);
  EXPECT_EQ((*d1)[0].next_run_after, "2026-06-01T01:00:00+00:00");
  EXPECT_EQ((*d1)[0].next_logical_date, "2026-06-01T00:00:00+00:00");
  EXPECT_FALSE((*d1)[1].scheduled);
}

TEST(RestClient, RunningTaskInstancesOfEveryDagAndATasksRecentSuccesses) {
  FakeAirflow v1(Dialect::v1);
  std::vector<std::string> urls;
  v1.routes["GET /api/v1/dags/~/dagRuns/~/taskInstances"] =
      paged("task_instances",
            {json{{"dag_id", "b"},
                  {"dag_run_id", "r"},
                  {"task_id", "t"},
                  {"state", "queued"},
                  {"queued_when", "2026-06-01T00:00:00+00:00"}},
             json{{"dag_id", "a"},
                  {"dag_run_id", "r"},
                  {"task_id", "t"},
                  {"state", "running"},
                  {"start_date", "2026-06-01T00:00:00+00:00"}}},
            true, &urls);
  auto c = v1.client();
  auto active = c->list_task_instances_in({"running", "queued"});
  ASSERT_TRUE(active.ok()) << active.error().message;
  ASSERT_EQ(active->size(), 2u);
  EXPECT_EQ((*active)[0].dag_id, "a");  // ordered
  EXPECT_EQ((*active)[1].queued_at, "2026-06-01T00:00:00+00:00");
  EXPECT_EQ(params(urls[0])["state"], (std::vector<std::string>{"running", "queued"}));

  std::vector<std::string> hist_urls;
  v1.routes["GET /api/v1/dags/etl/dagRuns/~/taskInstances"] = paged(
      "task_instances",
      {json{{"dag_id", "etl"},
            {"dag_run_id", "r1"},
            {"task_id", "load"},
            {"state", "success"},
            {"duration", 61.5}},
       json{{"dag_id", "etl"}, {"dag_run_id", "r1"}, {"task_id", "other"}, {"state", "success"}}},
      true, &hist_urls);
  auto hist = c->recent_successes("etl", "load", kT0 - 24h, 50);
  ASSERT_TRUE(hist.ok()) << hist.error().message;
  ASSERT_EQ(hist->size(), 1u) << "the DAG's other tasks are filtered out";
  EXPECT_EQ((*hist)[0].duration, 61.5);
  auto p = params(hist_urls[0]);
  EXPECT_EQ(p["state"], std::vector<std::string>{"success"});
  EXPECT_EQ(p.count("end_date_gte"), 1u);
  EXPECT_EQ(p.count("task_id"), 0u) << "/api/v1 refuses unknown parameters";
}

TEST(RestClient, ImportErrors) {
  FakeAirflow af;
  af.routes["GET /api/v2/importErrors"] =
      paged("import_errors",
            {json{{"import_error_id", 7},
                  {"filename", "/dags/broken.py"},
                  {"timestamp", "2026-06-01T00:00:00Z"},
                  {"stack_trace", "ModuleNotFoundError: No module named 'not_a_module'"}}},
            true);
  auto c = af.client();
  auto e = c->list_import_errors();
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].id, 7);
  EXPECT_NE((*e)[0].stack_trace.find("not_a_module"), std::string::npos);
}

// --- logs ---

TEST(RestClient, V2LogStreamsNdjsonEventsWithTraceback) {
  FakeAirflow af;
  std::string ndjson =
      R"({"timestamp":"2026-06-01T00:00:01Z","level":"info","logger":"task","event":"starting"})"
      "\n"
      R"({"event":"::group::Log message source details","sources":["/x/attempt=1.log"]})"
      "\n"
      R"({"timestamp":"2026-06-01T00:00:02Z","level":"error","logger":"task","event":"Task failed with exception","error_detail":[{"exc_type":"FileNotFoundError","exc_value":"[Errno 2] No such file: '/data/dt=2026-06-01/part-0.parquet'","frames":[{"filename":"/dags/missing.py","lineno":12,"name":"read"}]}]})"
      "\n";
  std::vector<std::string> accepts;
  af.routes["GET /api/v2/dags/etl/dagRuns/r%3A1/taskInstances/load/logs/2"] =
      [&](const Request& r) {
        accepts.push_back(header(r, "Accept"));
        EXPECT_EQ(params(r.url)["map_index"], std::vector<std::string>{"3"});
        return FakeHttpClient::ok(
            200, ndjson,
            {{"Content-Type", "application/x-ndjson"}, {"Airflow-Continuation-Token", "tok"}});
      };
  auto c = af.client();
  std::vector<std::string> lines;
  LogStats st;
  auto s = c->read_task_log(
      {"etl", "r:1", "load", 2, 3},
      [&](const LogLine& l) {
        lines.emplace_back(l.text);
        return true;
      },
      &st);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(accepts, std::vector<std::string>{"application/x-ndjson"});
  EXPECT_EQ(st.pages, 1u);  // NDJSON runs to the end: its header token is not followed
  ASSERT_GE(lines.size(), 6u);
  EXPECT_EQ(lines[0], "2026-06-01T00:00:01Z [info] task: starting");
  EXPECT_NE(lines[1].find("sources=[\"/x/attempt=1.log\"]"), std::string::npos);
  EXPECT_EQ(lines[3], "Traceback (most recent call last):");
  EXPECT_EQ(lines[4], "  File \"/dags/missing.py\", line 12, in read");
  EXPECT_EQ(lines[5],
            "FileNotFoundError: [Errno 2] No such file: '/data/dt=2026-06-01/part-0.parquet'");
  EXPECT_EQ(st.lines, lines.size());
}

TEST(RestClient, V2LogJsonPagesFollowContinuationTokens) {
  FakeAirflow af;
  std::vector<std::string> tokens;
  af.routes["GET /api/v2/dags/etl/dagRuns/r1/taskInstances/t/logs/1"] = [&](const Request& r) {
    auto p = params(r.url);
    std::string tok = p.count("token") ? p["token"][0] : "";
    tokens.push_back(tok);
    json page;
    if (tok.empty())
      page = {{"content", {{{"event", "line 1"}}, {{"event", "line 2"}}}},
              {"continuation_token", "A"}};
    else if (tok == "A")
      page = {{"content", {{{"event", "line 3"}}}}, {"continuation_token", "B"}};
    else
      page = {{"content", {{{"event", "line 4"}}}}, {"continuation_token", nullptr}};
    return FakeHttpClient::json(200, page.dump());
  };
  auto c = af.client();
  std::vector<std::string> lines;
  LogStats st;
  auto s = c->read_task_log(
      {"etl", "r1", "t", 1, -1},
      [&](const LogLine& l) {
        lines.emplace_back(l.text);
        return true;
      },
      &st);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(tokens, (std::vector<std::string>{"", "A", "B"}));
  EXPECT_EQ(lines, (std::vector<std::string>{"line 1", "line 2", "line 3", "line 4"}));
  EXPECT_EQ(st.pages, 3u);
}

TEST(RestClient, V2LogTokenLoopIsBounded) {
  FakeAirflow af;
  int n = 0;
  af.routes["GET /api/v2/dags/etl/dagRuns/r1/taskInstances/t/logs/1"] = [&](const Request&) {
    ++n;
    return FakeHttpClient::json(
        200, json{{"content", {{{"event", "x"}}}}, {"continuation_token", "T" + std::to_string(n)}}
                 .dump());
  };
  RestClientOptions o;
  auto c = af.client();
  auto s = c->read_task_log({"etl", "r1", "t", 1, -1}, [](const LogLine&) { return true; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::too_large);
  EXPECT_EQ(n, 1000);
}

TEST(RestClient, LogSinkCanStopEarly) {
  FakeAirflow af(Dialect::v1);
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "line " + std::to_string(i) + "\n";
  af.routes["GET /api/v1/dags/etl/dagRuns/r1/taskInstances/t/logs/1"] = [&](const Request& r) {
    EXPECT_EQ(header(r, "Accept"), "text/plain");
    return FakeHttpClient::ok(200, text, {{"Content-Type", "text/plain"}});
  };
  auto c = af.client();
  std::vector<std::string> lines;
  LogStats st;
  auto s = c->read_task_log(
      {"etl", "r1", "t", 1, -1},
      [&](const LogLine& l) {
        lines.emplace_back(l.text);
        return lines.size() < 10;
      },
      &st);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(lines.size(), 10u);
  EXPECT_TRUE(st.stopped_by_sink);
  EXPECT_EQ(lines[9], "line 9");
}

TEST(RestClient, ALogReadsToItsEndUnderTheByteCapAndStopsBeforeTheLineThatPassesIt) {
  FakeAirflow af;
  af.http->set_chunk_size(7);
  std::string ndjson;
  for (int i = 0; i < 100; ++i)  // rendered: "[info] line 1NN": 15 bytes + 1 each
    ndjson += R"({"level":"info","event":"line )" + std::to_string(100 + i) + "\"}\n";
  af.routes["GET /api/v2/dags/etl/dagRuns/r1/taskInstances/t/logs/1"] = [&](const Request&) {
    return FakeHttpClient::ok(200, ndjson, {{"Content-Type", "application/x-ndjson"}});
  };
  auto read = [&](std::uint64_t cap, LogStats& st) {
    std::vector<std::string> lines;
    auto s = af.client(nullptr, 100, cap)
                 ->read_task_log(
                     {"etl", "r1", "t", 1, -1},
                     [&](const LogLine& l) {
                       lines.emplace_back(l.text);
                       return true;
                     },
                     &st);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return lines;
  };
  LogStats st;
  // A cap above the log: every line, to the last one, not capped.
  auto all = read(1 << 20, st);
  ASSERT_EQ(all.size(), 100u);
  EXPECT_EQ(all.back(), "[info] line 199");
  EXPECT_FALSE(st.capped);
  EXPECT_EQ(st.read_bytes_max, 1u << 20);
  // Exactly the log's size: still all of it.
  read(1600, st);
  EXPECT_EQ(st.lines, 100u);
  EXPECT_FALSE(st.capped);
  // One byte less: the last line would pass it, so the read stops before it, capped, OK.
  auto capped = read(1599, st);
  ASSERT_EQ(capped.size(), 99u);
  EXPECT_EQ(capped.back(), "[info] line 198");
  EXPECT_TRUE(st.capped);
  EXPECT_TRUE(st.stopped_by_sink);
  EXPECT_EQ(st.bytes, 99u * 16);
  EXPECT_EQ(st.read_bytes_max, 1599u);
}

TEST(RestClient, V1LogTextLinesAcrossChunks) {
  FakeAirflow af(Dialect::v1);
  af.http->set_chunk_size(5);
  af.routes["GET /api/v1/dags/etl/dagRuns/r1/taskInstances/t/logs/2"] = [&](const Request&) {
    return FakeHttpClient::ok(
        200, "*** Found local files:\r\nKeyError: 'customer_id'\nlast line no newline",
        {{"Content-Type", "text/plain"}});
  };
  auto c = af.client();
  std::vector<std::string> lines;
  auto s = c->read_task_log({"etl", "r1", "t", 2, -1}, [&](const LogLine& l) {
    lines.emplace_back(l.text);
    return true;
  });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"*** Found local files:", "KeyError: 'customer_id'",
                                             "last line no newline"}));
}

TEST(RestClient, GarbageLogIsProtocolError) {
  FakeAirflow af;
  af.routes["GET /api/v2/dags/etl/dagRuns/r1/taskInstances/t/logs/1"] = [&](const Request&) {
    return FakeHttpClient::ok(200, "<html>proxy error</html>\n");
  };
  auto c = af.client();
  auto s = c->read_task_log({"etl", "r1", "t", 1, -1}, [](const LogLine&) { return true; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::protocol);
  EXPECT_NE(s.error().message.find("environment \"prod\": read task log"), std::string::npos);
}

// --- auth ---

TEST(RestClient, JwtRenewedOnceOn401) {
  FakeAirflow af;
  af.routes["GET /api/v2/dags/etl"] = [](const Request&) {
    return FakeHttpClient::json(200, R"({"dag_id":"etl"})");
  };
  auto c = af.client();
  ASSERT_TRUE(c->get_dag("etl").ok());
  EXPECT_EQ(af.token_calls, 1);
  ASSERT_TRUE(c->get_dag("etl").ok());
  EXPECT_EQ(af.token_calls, 1);          // cached
  af.valid_token = "revoked-by-server";  // the server no longer accepts our token
  // Next token the fake issues becomes valid again.
  auto d = c->get_dag("etl");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(af.token_calls, 2);
  EXPECT_EQ(c->token_fetches(), 2);
}

TEST(RestClient, JwtRenewedBeforeExpiry) {
  FakeAirflow af;
  af.token_ttl = 600;
  af.routes["GET /api/v2/dags/etl"] = [](const Request&) {
    return FakeHttpClient::json(200, R"({"dag_id":"etl"})");
  };
  auto c = af.client();
  ASSERT_TRUE(c->get_dag("etl").ok());
  af.clock->advance(500s);
  ASSERT_TRUE(c->get_dag("etl").ok());
  EXPECT_EQ(af.token_calls, 1);
  af.clock->advance(80s);  // within the 30 s renewal margin
  auto before = af.http->request_count();
  ASSERT_TRUE(c->get_dag("etl").ok());
  EXPECT_EQ(af.token_calls, 2);
  EXPECT_EQ(af.http->request_count() - before, 2u);  // token + call, no 401 round trip
}

TEST(RestClient, PersistentUnauthorizedReauthenticatesExactlyOnce) {
  FakeAirflow af;
  af.routes["GET /api/v2/dags/etl"] = [](const Request&) {
    return FakeHttpClient::json(401, R"({"detail":"nope"})");
  };
  auto c = af.client();
  auto d = c->get_dag("etl");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, Errc::unauthenticated);
  EXPECT_EQ(af.token_calls, 2);
}

TEST(RestClient, WrongPasswordNamesTheCredentialSource) {
  FakeAirflow af;
  af.password = "other";
  auto c = af.client();
  auto s = c->check_auth();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unauthenticated);
  EXPECT_EQ(s.error().message,
            "environment \"prod\": check authentication: authentication failed: wrong username or "
            "password (user from $AF_USER, password from $AF_PASSWORD)");
  EXPECT_EQ(af.token_calls, 1);
}

TEST(RestClient, VersionIsReadWithoutCredentialsWhenPublic) {
  FakeAirflow af;
  af.password = "other";  // our credentials are wrong
  af.routes["GET /api/v2/version"] = [](const Request& r) {
    EXPECT_EQ(header(r, "Authorization"), "");
    return FakeHttpClient::json(200, R"({"version":"3.3.2"})");
  };
  af.public_routes.insert("GET /api/v2/version");
  auto c = af.client();
  auto info = c->server_info();
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->version, "3.3.2");
  EXPECT_EQ(af.token_calls, 0);
  EXPECT_FALSE(c->check_auth().ok());
}

TEST(RestClient, V1WrongPasswordIsUnauthenticated) {
  FakeAirflow af(Dialect::v1);
  af.password = "other";
  auto c = af.client();
  auto s = c->check_auth();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unauthenticated);
  EXPECT_NE(s.error().message.find("wrong username or password"), std::string::npos);
}

TEST(JwtExpiry, ParsesExpClaim) {
  auto t = jwt_expiry(make_jwt(1'900'000'000, "x"));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, Clock::time_point(std::chrono::seconds(1'900'000'000)));
  EXPECT_FALSE(jwt_expiry("not-a-jwt").has_value());
  EXPECT_FALSE(jwt_expiry("a.b.c").has_value());
}

// --- writes ---

TEST(RestClient, TriggerSendsExplicitNullLogicalDateOnV2AndMaps409) {
  FakeAirflow af;
  std::vector<json> bodies;
  af.routes["POST /api/v2/dags/etl/dagRuns"] = [&](const Request& r) -> Result<Response> {
    auto b = json::parse(r.body);
    bodies.push_back(b);
    if (bodies.size() > 1)
      return FakeHttpClient::json(409, R"({"detail":"DagRun with run_id already exists"})");
    json run = v2_run(1, "queued");
    run["dag_run_id"] = b["dag_run_id"];
    run["conf"] = b["conf"];
    return FakeHttpClient::json(200, run.dump());
  };
  auto c = af.client();
  TriggerRequest tr{"etl", "dagmedic__fix_1", {{"date", "2026-06-01"}}, ""};
  auto r = c->trigger_dag_run(tr);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->run_id, "dagmedic__fix_1");
  ASSERT_TRUE(bodies[0].contains("logical_date"));
  EXPECT_TRUE(bodies[0]["logical_date"].is_null());
  EXPECT_EQ(bodies[0]["conf"]["date"], "2026-06-01");
  EXPECT_FALSE(bodies[0].contains("note"));
  auto dup = c->trigger_dag_run(tr);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::conflict);
  EXPECT_NE(dup.error().message.find("run \"dagmedic__fix_1\" already exists in DAG \"etl\""),
            std::string::npos);
}

TEST(RestClient, TriggerOnV1OmitsLogicalDate) {
  FakeAirflow af(Dialect::v1);
  json body;
  af.routes["POST /api/v1/dags/etl/dagRuns"] = [&](const Request& r) {
    body = json::parse(r.body);
    return FakeHttpClient::json(
        200,
        R"({"dag_run_id":"x","dag_id":"etl","state":"queued","execution_date":"2026-06-01T00:00:00+00:00"})");
  };
  auto c = af.client();
  auto r = c->trigger_dag_run({"etl", "x", json::object(), "why"});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(body.contains("logical_date"));
  EXPECT_EQ(body["note"], "why");
}

TEST(RestClient, TriggerIsNeverRetriedEvenThroughRetryingClient) {
  FakeAirflow af;
  int posts = 0;
  af.routes["POST /api/v2/dags/etl/dagRuns"] = [&](const Request&) {
    ++posts;
    return FakeHttpClient::json(503, R"({"detail":"busy"})");
  };
  auto retrying = std::make_shared<http::RetryingHttpClient>(af.http, af.clock, http::RetryPolicy{},
                                                             [] { return 0.5; });
  auto c = af.client(retrying);
  auto r = c->trigger_dag_run({"etl", "x", json::object(), ""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_EQ(posts, 1);
}

TEST(RestClient, ClearAlwaysSendsDryRunExplicitly) {
  for (bool dry : {true, false}) {
    FakeAirflow af;
    json body;
    af.routes["POST /api/v2/dags/etl/clearTaskInstances"] = [&](const Request& r) {
      body = json::parse(r.body);
      return FakeHttpClient::json(
          200,
          R"({"task_instances":[{"task_id":"load","dag_id":"etl","dag_run_id":"r1","map_index":-1,"state":"failed"}],"total_entries":1})");
    };
    auto c = af.client();
    ClearRequest cr;
    cr.dag_id = "etl";
    cr.dag_run_id = "r1";
    cr.task_ids = {"load"};
    cr.dry_run = dry;
    auto r = c->clear_task_instances(cr);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(body.contains("dry_run"));
    EXPECT_EQ(body["dry_run"], dry);
    EXPECT_EQ(body["task_ids"], json::array({"load"}));
    EXPECT_EQ(body["only_failed"], true);
    EXPECT_EQ(body["dag_run_id"], "r1");
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].task_id, "load");
    EXPECT_EQ((*r)[0].run_id, "r1");
  }
}

// --- error paths name environment and call ---

TEST(RestClient, RefusedTimeoutAndServerErrorsNameEnvironmentAndCall) {
  {
    FakeAirflow af;
    af.http->push(FakeHttpClient::refused());
    auto c = af.client();
    auto r = c->list_dag_runs({});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_EQ(
        r.error().message.rfind(
            "environment \"prod\": list DAG runs: Airflow at http://af:8080 refused the connection",
            0),
        0u)
        << r.error().message;
  }
  {
    FakeAirflow af;
    af.http->push(FakeHttpClient::timed_out());
    auto c = af.client();
    auto r = c->get_dag("etl");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::timeout);
    EXPECT_NE(
        r.error().message.find(
            "environment \"prod\": get DAG: Airflow at http://af:8080 did not answer within 30 s"),
        std::string::npos)
        << r.error().message;
  }
  {
    FakeAirflow af;
    af.routes["GET /api/v2/dags/etl"] = [](const Request&) {
      return FakeHttpClient::json(503, R"({"detail":"database is locked"})");
    };
    auto retrying = std::make_shared<http::RetryingHttpClient>(
        af.http, af.clock, http::RetryPolicy{}, [] { return 0.5; });
    auto c = af.client(retrying);
    auto r = c->get_dag("etl");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find(
                  "answered HTTP 503 after 4 attempts (Airflow said: database is locked)"),
              std::string::npos)
        << r.error().message;
  }
  {
    FakeAirflow af;
    af.routes["GET /api/v2/dags/etl"] = [](const Request&) { return FakeHttpClient::garbage(); };
    auto c = af.client();
    auto r = c->get_dag("etl");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::protocol);
    EXPECT_NE(r.error().message.find("environment \"prod\": get DAG: Airflow at http://af:8080 "
                                     "sent a reply that is not JSON"),
              std::string::npos)
        << r.error().message;
  }
  {
    FakeAirflow af;
    af.routes["GET /api/v2/dags/etl"] = [](const Request&) {
      return FakeHttpClient::json(200, R"({"dag_id": 5, "tags": 3})");
    };
    auto c = af.client();
    auto r = c->get_dag("etl");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::protocol);
  }
  {
    FakeAirflow af;
    af.routes["GET /api/v2/dags/~/dagRuns"] = [](const Request&) {
      return FakeHttpClient::json(200, R"({"runs":[]})");
    };
    auto c = af.client();
    auto r = c->list_dag_runs({});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::protocol);
    EXPECT_NE(r.error().message.find("no \"dag_runs\" array"), std::string::npos);
  }
}

TEST(RestClient, DetectionFailureIsExplained) {
  auto fake = std::make_shared<FakeHttpClient>();
  fake->set_handler(
      [](const Request&) { return FakeHttpClient::ok(404, "<html>not found</html>"); });
  RestClientOptions o;
  o.environment = "lab";
  o.base_url = "http://web:80";
  RestAirflowClient c(o, fake, std::make_shared<ManualClock>(kT0));
  auto r = c.server_info();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot tell the Airflow API version"), std::string::npos);
  EXPECT_NE(r.error().message.find("environment \"lab\": get version"), std::string::npos);
}

TEST(RestClient, NoCredentialsAgainstAuthenticatedServerSaysWhatToSet) {
  FakeAirflow af;
  RestClientOptions o;
  o.environment = "prod";
  o.base_url = "http://af:8080";
  RestAirflowClient c(o, af.http, af.clock);
  auto s = c.check_auth();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unauthenticated);
  EXPECT_NE(s.error().message.find("username_env"), std::string::npos);
}

TEST(RestClient, PathSegmentsAreEncoded) {
  FakeAirflow af;
  std::string seen;
  af.routes["GET /api/v2/dags/etl/dagRuns/manual__2026-06-01T00%3A00%3A00%2B00%3A00"] =
      [&](const Request& r) {
        seen = r.url;
        return FakeHttpClient::json(200, v2_run(1).dump());
      };
  auto c = af.client();
  auto r = c->get_dag_run("etl", "manual__2026-06-01T00:00:00+00:00");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(seen.empty());
}

TEST(RestClient, LatestRunAndEmptyDag) {
  FakeAirflow af;
  std::vector<std::string> urls;
  af.routes["GET /api/v2/dags/etl/dagRuns"] =
      paged("dag_runs", {v2_run(9), v2_run(3)}, true, &urls);
  af.routes["GET /api/v2/dags/quiet/dagRuns"] = paged("dag_runs", {}, true);
  af.routes["GET /api/v2/dags/quiet"] = [](const Request&) {
    return FakeHttpClient::json(200, R"({"dag_id":"quiet"})");
  };
  auto c = af.client();
  auto r = c->latest_run("etl");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->run_id, "run_9");
  EXPECT_EQ(params(urls[0])["limit"], std::vector<std::string>{"1"});
  auto q = c->latest_run("quiet");
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->has_value());
  auto g = c->latest_run("ghost");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, Errc::not_found);
}

// --- helpers ---

TEST(EventLogDecoder, RejectsOversizedAndBrokenLines) {
  std::vector<std::string> out;
  EventLogDecoder d([&](std::string_view t, std::string_view) {
    out.emplace_back(t);
    return true;
  });
  EXPECT_TRUE(d.feed(R"({"event":"a"})"
                     "\n"
                     R"({"eve)"));
  EXPECT_TRUE(d.feed(R"(nt":"b"})"
                     "\n"));
  EXPECT_EQ(out, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(d.feed("{broken\n"));
  ASSERT_TRUE(d.error().has_value());
  EXPECT_EQ(d.error()->code, Errc::protocol);
}

TEST(EventLogDecoder, ChainedExceptions) {
  std::vector<std::string> out;
  json ev = {
      {"event", "boom"},
      {"error_detail",
       {{{"exc_type", "KeyError"}, {"exc_value", "'customer_id'"}, {"frames", json::array()}},
        {{"exc_type", "ValueError"}, {"exc_value", "bad row"}, {"is_cause", true}}}}};
  EventLogDecoder::render_event(ev, [&](std::string_view t, std::string_view) {
    out.emplace_back(t);
    return true;
  });
  ASSERT_EQ(out.size(), 8u);
  EXPECT_EQ(out[2], "KeyError: 'customer_id'");
  EXPECT_EQ(out[4], "The above exception was the direct cause of the following exception:");
  EXPECT_EQ(out[7], "ValueError: bad row");
}

}  // namespace
}  // namespace dm::airflow
