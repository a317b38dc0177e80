// Detect tools through MCP over a FakeAirflow and a ManualClock.
#include <gtest/gtest.h>

#include "runbook/detect_test_support.h"
#include "store/store.h"

namespace dm::runbook {
namespace {

using json = nlohmann::json;
using testing::at;
using testing::at_z;
using testing::Harness;
using testing::HarnessOptions;
using testing::run;
using testing::task;

constexpr const char* kDbSecret = "Sup3rS3cretPw";

TEST(DetectTools, EveryReadToolIsListedReadOnlyWithSchemas) {
  Harness h;
  auto r = h.client->call("tools/list");
  ASSERT_TRUE(r.ok());
  std::set<std::string> want = {"list_recent_failures", "list_failed_runs", "get_latest_run",
                                "get_run_summary",      "get_failed_tasks", "get_task_states",
                                "check_recovery_rules"};
  for (const auto& t : (*r)["tools"]) {
    if (!want.count(t["name"])) continue;
    want.erase(t["name"].get<std::string>());
    EXPECT_EQ(t["annotations"]["readOnlyHint"], true) << t["name"];
    EXPECT_TRUE(t.contains("outputSchema")) << t["name"];
    EXPECT_TRUE(t["inputSchema"]["properties"].contains("environment")) << t["name"];
  }
  EXPECT_TRUE(want.empty()) << "missing: " << *want.begin();
}

TEST(DetectTools, RecentFailuresWindowEdgesAndOrder) {
  Harness h;
  auto& f = *h.fake;
  f.add_run(run("etl", "in_59", "failed", -59, -50));
  f.add_run(run("etl", "edge_60", "failed", -60, -55));       // exactly at `since`: in
  f.add_run(run("etl", "out_61", "failed", -61, -61));        // before the window, ended before it
  f.add_run(run("report", "late_end", "failed", -300, -10));  // placed long ago, ended inside
  f.add_run(run("report", "ok_run", "success", -5, -1));      // not failed
  f.add_run(run("other", "old_end", "failed", -300, -120));   // ended before the window
  f.add_task(task("etl", "in_59", "extract", "failed", -59, -52));
  f.add_task(task("etl", "in_59", "load", "failed", -59, -51));
  f.add_task(task("report", "late_end", "render", "failed", -300, -10));

  json s = h.ok("list_recent_failures", {{"window_minutes", 60}});
  EXPECT_EQ(s["environment"], "test");
  EXPECT_EQ(s["window_minutes"], 60);
  EXPECT_EQ(s["since"], at_z(-60));
  EXPECT_EQ(s["until"], at_z(0));
  ASSERT_EQ(s["count"], 3);
  ASSERT_EQ(s["failures"].size(), 3u);
  EXPECT_EQ(s["failures"][0]["run_id"], "in_59");  // newest first by run_after
  EXPECT_EQ(s["failures"][1]["run_id"], "edge_60");
  EXPECT_EQ(s["failures"][2]["run_id"], "late_end");
  EXPECT_EQ(s["failures"][0]["first_failing_task"], "extract");
  EXPECT_EQ(s["failures"][1]["first_failing_task"], "");
  EXPECT_EQ(s["failures"][2]["first_failing_task"], "render");
  EXPECT_EQ(s["failures"][0]["run_after"], at_z(-59));  // normalized to …Z
  EXPECT_FALSE(s["failures"][0].contains("conf"));
  EXPECT_EQ(s["dags_affected"], json::array({"etl", "report"}));
  EXPECT_EQ(s["import_errors"], json::array());
  EXPECT_EQ(s["capped"], false);
}

TEST(DetectTools, RecentFailuresNothingFailed) {
  Harness h;
  h.fake->add_run(run("etl", "fine", "success", -10, -5));
  json r = h.call("list_recent_failures", json::object());
  ASSERT_FALSE(r.value("isError", false));
  EXPECT_EQ(r["structuredContent"]["count"], 0);
  EXPECT_EQ(r["structuredContent"]["window_minutes"], 60);  // the default
  EXPECT_NE(Harness::text_of(r).find("No failed DAG runs"), std::string::npos);
}

TEST(DetectTools, FirstFailingTaskOnlyForTheTwentyNewestRuns) {
  Harness h;
  for (int i = 0; i < 25; ++i) {
    std::string id = "r" + std::to_string(100 + i);
    h.fake->add_run(run("etl", id, "failed", -30 - i, -29 - i));
    // A task id per run: the lookups run concurrently, and each answer must land on its own run.
    h.fake->add_task(task("etl", id, "t" + std::to_string(i), "failed", -30 - i, -29 - i));
  }
  json s = h.ok("list_recent_failures", {{"window_minutes", 120}});
  ASSERT_EQ(s["failures"].size(), 25u);
  for (int i = 0; i < 25; ++i)
    EXPECT_EQ(s["failures"][i]["first_failing_task"], i < 20 ? "t" + std::to_string(i) : "") << i;
  EXPECT_EQ(h.fake->calls("list_task_instances"), 20);
}

TEST(DetectTools, TaskInstancesUnreadableLeavesFirstFailingTaskEmptyWithANote) {
  Harness h;
  h.fake->add_run(run("etl", "a", "failed", -20, -19));
  h.fake->add_run(run("etl", "b", "failed", -10, -9));
  h.fake->add_task(task("etl", "a", "extract", "failed", -20, -19));
  h.fake->fail("list_task_instances", make_error(Errc::unavailable, "Airflow is down"));
  json s = h.ok("list_recent_failures", json::object());
  ASSERT_EQ(s["failures"].size(), 2u);
  EXPECT_EQ(s["failures"][0]["first_failing_task"], "");
  EXPECT_EQ(s["failures"][1]["first_failing_task"], "");
  EXPECT_NE(s["notes"].dump().find("could not be read for 2 run(s)"), std::string::npos)
      << s["notes"];
}

TEST(DetectTools, ImportErrorsAreRedactedAndShortened) {
  Harness h;
  h.fake->add_import_error(airflow::ImportError{
      .id = 7,
      .filename = "/opt/airflow/dags/broken.py",
      .timestamp = at(-3),
      .stack_trace = "Traceback (most recent call last):\n"
                     "  File \"/opt/airflow/dags/broken.py\", line 3, in <module>\n"
                     "    engine = create_engine('postgresql://etl:" +
                     std::string(kDbSecret) +
                     "@db.internal:5432/dw')\n"
                     "sqlalchemy.exc.ArgumentError: bad URL postgresql://etl:" +
                     kDbSecret + "@db.internal:5432/dw\n"});
  json r = h.call("list_recent_failures", json::object());
  ASSERT_FALSE(r.value("isError", false)) << r.dump();
  EXPECT_EQ(r.dump().find(kDbSecret), std::string::npos);
  const json& ie = r["structuredContent"]["import_errors"];
  ASSERT_EQ(ie.size(), 1u);
  EXPECT_EQ(ie[0]["filename"], "/opt/airflow/dags/broken.py");
  EXPECT_EQ(ie[0]["timestamp"], at_z(-3));
  const std::string e = ie[0]["error"];
  EXPECT_EQ(e.rfind("Traceback (most recent call last):", 0), 0u) << e;
  EXPECT_NE(e.find("sqlalchemy.exc.ArgumentError"), std::string::npos) << e;
  EXPECT_NE(e.find("[REDACTED"), std::string::npos) << e;
  EXPECT_EQ(e.find("line 3"), std::string::npos) << "middle lines are dropped: " << e;
  EXPECT_NE(Harness::text_of(r).find("fail to import"), std::string::npos);
}

TEST(DetectTools, ImportErrorsUnreadableIsANoteNotAFailure) {
  Harness h;
  h.fake->add_run(run("etl", "r1", "failed", -5, -4));
  h.fake->fail("list_import_errors", make_error(Errc::permission_denied, "forbidden"));
  json s = h.ok("list_recent_failures", json::object());
  EXPECT_EQ(s["count"], 1);
  EXPECT_NE(s["notes"].dump().find("Import errors could not be read"), std::string::npos);
}

TEST(DetectTools, ConfSecretsNeverAppear) {
  Harness h;
  auto r = run("etl", "manual__1", "failed", -5, -4);
  r.conf = {{"db_password", "hunter2-ConfValue-XYZ"}, {"note", "token=ghp_abcdefghijklmnopqrst"}};
  h.fake->add_run(r);
  for (const char* tool : {"list_recent_failures", "list_failed_runs", "get_latest_run"}) {
    json args =
        std::string(tool) == "list_recent_failures" ? json::object() : json{{"dag_id", "etl"}};
    json res = h.call(tool, args);
    ASSERT_FALSE(res.value("isError", false)) << res.dump();
    EXPECT_EQ(res.dump().find("hunter2-ConfValue-XYZ"), std::string::npos) << tool;
    EXPECT_EQ(res.dump().find("ghp_abcdefghijklmnopqrst"), std::string::npos) << tool;
  }
}

TEST(DetectTools, NoEnvironmentConfiguredSaysHowToAddOne) {
  Harness h(HarnessOptions{.with_environment = false});
  json run_args = {{"dag_id", "etl"}, {"run_id", "r1"}};
  std::vector<std::pair<std::string, json>> calls = {
      {"list_recent_failures", json::object()}, {"list_failed_runs", {{"dag_id", "etl"}}},
      {"get_latest_run", {{"dag_id", "etl"}}},  {"get_run_summary", run_args},
      {"get_failed_tasks", run_args},           {"get_task_states", run_args},
      {"check_recovery_rules", run_args}};
  for (const auto& [tool, args] : calls) {
    std::string e = h.err(tool, args);
    EXPECT_NE(e.find("no Airflow environment is configured"), std::string::npos) << tool << e;
    EXPECT_NE(e.find("docs/config.md"), std::string::npos) << tool << e;
  }
}

TEST(DetectTools, AirflowDownIsAClearError) {
  Harness h;
  h.fake->fail("list_dag_runs", make_error(Errc::unavailable,
                                           "environment \"test\": list DAG runs: Airflow at "
                                           "http://af:8080 refused the connection"));
  h.fake->fail("latest_run", make_error(Errc::timeout,
                                        "environment \"test\": get latest run: "
                                        "no answer within 30 s"));
  std::string e = h.err("list_recent_failures", json::object());
  EXPECT_NE(e.find("refused the connection"), std::string::npos) << e;
  EXPECT_NE(e.find("dagmedic doctor"), std::string::npos) << e;
  e = h.err("list_failed_runs", {{"dag_id", "etl"}});
  EXPECT_NE(e.find("refused the connection"), std::string::npos) << e;
  e = h.err("get_latest_run", {{"dag_id", "etl"}});
  EXPECT_NE(e.find("no answer within 30 s"), std::string::npos) << e;
}

TEST(DetectTools, BadArgumentsAreClearErrors) {
  Harness h;
  const int max = config::Caps{}.window_minutes_max;
  EXPECT_NE(h.err("list_recent_failures", {{"window_minutes", max + 1}}).find("window_minutes"),
            std::string::npos);
  EXPECT_NE(h.err("list_recent_failures", {{"window_minutes", 0}}).find("window_minutes"),
            std::string::npos);
  EXPECT_NE(h.err("list_failed_runs", {{"dag_id", "bad dag/../x"}}).find("dag_id"),
            std::string::npos);
  EXPECT_NE(h.err("list_failed_runs", json::object()).find("dag_id"), std::string::npos);
  EXPECT_NE(h.err("get_latest_run", {{"dag_id", "etl"}, {"environment", "nope"}}).find("nope"),
            std::string::npos);
}

TEST(DetectTools, WindowCapComesFromConfig) {
  config::Config cfg;
  cfg.caps.window_minutes_max = 90;
  Harness h(HarnessOptions{.config = cfg});
  EXPECT_NE(
      h.err("list_failed_runs", {{"dag_id", "etl"}, {"window_minutes", 91}}).find("window_minutes"),
      std::string::npos);
  h.fake->add_run(run("etl", "r1", "failed", -80, -79));
  json s = h.ok("list_failed_runs", {{"dag_id", "etl"}});  // default 1440 clamped to the cap
  EXPECT_EQ(s["window_minutes"], 90);
  EXPECT_EQ(s["count"], 1);
}

TEST(DetectTools, FailedRunsOfOneDag) {
  Harness h;
  auto& f = *h.fake;
  f.add_run(run("etl", "a", "failed", -100, -90));
  f.add_run(run("etl", "b", "failed", -2000, -1990));  // older than a day
  f.add_run(run("etl", "c", "success", -50, -40));
  f.add_run(run("etl", "d", "failed", -10, -5));
  f.add_run(run("other", "x", "failed", -10, -5));
  json s = h.ok("list_failed_runs", {{"dag_id", "etl"}});
  EXPECT_EQ(s["dag_id"], "etl");
  EXPECT_EQ(s["window_minutes"], 1440);
  ASSERT_EQ(s["count"], 2);
  EXPECT_EQ(s["runs"][0]["run_id"], "d");
  EXPECT_EQ(s["runs"][1]["run_id"], "a");
  EXPECT_EQ(s["runs"][0]["end_date"], at_z(-5));
  s = h.ok("list_failed_runs", {{"dag_id", "etl"}, {"window_minutes", 3000}});
  EXPECT_EQ(s["count"], 3);
}

TEST(DetectTools, UnknownDagIsAClearError) {
  Harness h;
  h.fake->add_run(run("etl", "a", "failed", -100, -90));
  std::string e = h.err("list_failed_runs", {{"dag_id", "no_such_dag"}});
  EXPECT_NE(e.find("no_such_dag"), std::string::npos) << e;
  EXPECT_NE(e.find("not found"), std::string::npos) << e;
  e = h.err("get_latest_run", {{"dag_id", "no_such_dag"}});
  EXPECT_NE(e.find("not found"), std::string::npos) << e;
}

TEST(DetectTools, KnownDagWithoutFailuresIsNotAnError) {
  Harness h;
  h.fake->add_dag(airflow::Dag{.dag_id = "quiet"});
  json s = h.ok("list_failed_runs", {{"dag_id", "quiet"}});
  EXPECT_EQ(s["count"], 0);
  EXPECT_EQ(s["runs"], json::array());
}

TEST(DetectTools, LatestRun) {
  Harness h;
  h.fake->add_dag(airflow::Dag{.dag_id = "never"});
  h.fake->add_run(run("etl", "old", "success", -100, -90));
  h.fake->add_run(run("etl", "new", "running", -5, INT32_MIN));
  json s = h.ok("get_latest_run", {{"dag_id", "etl"}});
  EXPECT_EQ(s["found"], true);
  EXPECT_EQ(s["run"]["run_id"], "new");
  EXPECT_EQ(s["run"]["state"], "running");
  EXPECT_EQ(s["run"]["end_date"], "");
  s = h.ok("get_latest_run", {{"dag_id", "never"}});
  EXPECT_EQ(s["found"], false);
  EXPECT_TRUE(s["run"].is_null());
}

TEST(DetectTools, OutputsStayUnderTheCapWithFiveThousandFailedRuns) {
  Harness h;
  for (int i = 0; i < 5000; ++i) {
    h.fake->add_run(run("huge_dag_with_a_rather_long_name", "scheduled__run_" + std::to_string(i),
                        "failed", -1 - (i % 1400), -(i % 1400)));
  }
  for (const char* tool : {"list_recent_failures", "list_failed_runs"}) {
    json args = {{"window_minutes", 1440}};
    if (std::string(tool) == "list_failed_runs")
      args["dag_id"] = "huge_dag_with_a_rather_long_name";
    json r = h.call(tool, args);
    ASSERT_FALSE(r.value("isError", false)) << r.dump().substr(0, 500);
    const json& s = r["structuredContent"];
    EXPECT_LE(s.dump().size() + Harness::text_of(r).size(), 16u * 1024) << tool;
    EXPECT_EQ(s["capped"], true) << tool;
    EXPECT_EQ(s["examined"], 200) << tool;
    EXPECT_EQ(s["truncated"], true) << tool;
    EXPECT_NE(Harness::text_of(r).find("200 newest"), std::string::npos) << tool;
  }
  EXPECT_LE(h.fake->calls("list_task_instances"), 20);
}

}  // namespace
}  // namespace dm::runbook
