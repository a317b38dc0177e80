// Triage tools through MCP over a FakeAirflow, plus the pure facts (first failing, tiers).
#include <gtest/gtest.h>

#include "runbook/detect_test_support.h"
#include "runbook/triage_facts.h"
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

// ---- pure facts ----

TEST(TriageFacts, FirstFailingIsEarliestEndThenStartThenTaskIdNeverUpstreamFailed) {
  std::vector<airflow::TaskInstance> tis = {
      task("d", "r", "a_late", "failed", -30, -5, 2, 1),
      task("d", "r", "b_tie", "failed", -20, -10, 3, 2),
      task("d", "r", "c_tie_earlier_start", "failed", -25, -10, 1, 0),
      task("d", "r", "d_upstream", "upstream_failed", INT32_MIN, -40, 0, 2),
      task("d", "r", "e_ok", "success", -50, -45),
      task("d", "r", "f_no_end", "failed", -60, INT32_MIN),
  };
  TaskFacts f = task_facts(tis);
  ASSERT_NE(f.first_failing, nullptr);
  EXPECT_EQ(f.first_failing->task_id, "c_tie_earlier_start");
  ASSERT_EQ(f.failed.size(), 4u);
  EXPECT_EQ(f.failed[1]->task_id, "b_tie");
  EXPECT_EQ(f.failed[2]->task_id, "a_late");
  EXPECT_EQ(f.failed[3]->task_id, "f_no_end");  // no end_date sorts last
  ASSERT_EQ(f.upstream_failed.size(), 1u);
  EXPECT_EQ(f.upstream_failed[0]->task_id, "d_upstream");
  EXPECT_EQ(f.retries_used, 1 + 2 + 0 + 0);
  EXPECT_EQ(f.counts.at("failed"), 4);
  EXPECT_EQ(f.counts.at("upstream_failed"), 1);
  EXPECT_EQ(f.counts.at("success"), 1);
  EXPECT_EQ(first_failing_task_id(tis), "c_tie_earlier_start");
}

TEST(TriageFacts, TieOnEndAndStartFallsBackToTaskId) {
  std::vector<airflow::TaskInstance> tis = {task("d", "r", "zeta", "failed", -20, -10),
                                            task("d", "r", "alpha", "failed", -20, -10)};
  EXPECT_EQ(first_failing_task_id(tis), "alpha");
}

TEST(TriageFacts, OnlyUpstreamFailedMeansNoFirstFailing) {
  std::vector<airflow::TaskInstance> tis = {task("d", "r", "x", "upstream_failed", -5, -4)};
  EXPECT_EQ(task_facts(tis).first_failing, nullptr);
  EXPECT_EQ(first_failing_task_id(tis), "");
}

TEST(TriageFacts, TierBusinessCriticalSeverity) {
  EXPECT_EQ(tier_from_tags({"finance", "tier=1"}), "1");
  EXPECT_EQ(tier_from_tags({"Tier = 2"}), "2");
  EXPECT_EQ(tier_from_tags({"tier:3"}), "3");
  EXPECT_EQ(tier_from_tags({"tier=02"}), "2");
  EXPECT_EQ(tier_from_tags({"tier=gold", "frontier=1", "tier="}), "");
  EXPECT_EQ(tier_from_tags({}), "");
  EXPECT_TRUE(business_critical_from_tags({"x", "business_critical"}));
  EXPECT_TRUE(business_critical_from_tags({"Business-Critical"}));
  EXPECT_FALSE(business_critical_from_tags({"not_business_critical", "critical"}));
  EXPECT_EQ(severity_for("1", false), "sev1");
  EXPECT_EQ(severity_for("3", true), "sev1");
  EXPECT_EQ(severity_for("", true), "sev1");
  EXPECT_EQ(severity_for("2", false), "sev2");
  EXPECT_EQ(severity_for("3", false), "sev3");
  EXPECT_EQ(severity_for("", false), "sev3");
}

TEST(TriageFacts, RetriesLeft) {
  EXPECT_EQ(retries_left(task("d", "r", "t", "failed", -5, -4, 3, 2)), 0);
  EXPECT_EQ(retries_left(task("d", "r", "t", "failed", -5, -4, 1, 2)), 2);
  EXPECT_EQ(retries_left(task("d", "r", "t", "upstream_failed", -5, -4, 0, 2)), 2);
  EXPECT_EQ(retries_left(task("d", "r", "t", "failed", -5, -4, 5, 2)), 0);
}

// ---- tools ----

// A failed run of "etl": c first failing (tie on end, earlier start), upstream_failed d ended
// earliest but never counts.
void script_failed_run(testing::FakeAirflow& f, std::vector<std::string> tags) {
  f.add_dag(airflow::Dag{.dag_id = "etl", .tags = std::move(tags), .owners = {"data-eng"}});
  auto r = run("etl", "scheduled__1", "failed", -60, -10);
  r.conf = {{"db_password", "hunter2-ConfValue-XYZ"}, {"target", "dw"}};
  f.add_run(r);
  f.add_task(task("etl", "scheduled__1", "a_late", "failed", -30, -12, 2, 1));
  f.add_task(task("etl", "scheduled__1", "b_tie", "failed", -20, -15, 3, 2));
  f.add_task(task("etl", "scheduled__1", "c_first", "failed", -25, -15, 1, 0));
  f.add_task(task("etl", "scheduled__1", "d_up", "upstream_failed", INT32_MIN, -40, 0, 1));
  f.add_task(task("etl", "scheduled__1", "e_ok", "success", -59, -55));
  // History for frequency: two more runs in the last 24 h (one failed), one older.
  f.add_run(run("etl", "scheduled__0", "success", -600, -590));
  f.add_run(run("etl", "scheduled__m1", "failed", -1000, -990));
  f.add_run(run("etl", "scheduled__old", "failed", -3000, -2990));
}

TEST(TriageTools, RunSummaryHasEveryContractField) {
  Harness h;
  script_failed_run(*h.fake, {"tier=1", "finance"});
  json r = h.call("get_run_summary", {{"dag_id", "etl"}, {"run_id", "scheduled__1"}});
  ASSERT_FALSE(r.value("isError", false)) << r.dump();
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["environment"], "test");
  EXPECT_EQ(s["dag_id"], "etl");
  EXPECT_EQ(s["run_id"], "scheduled__1");
  EXPECT_EQ(s["state"], "failed");
  EXPECT_EQ(s["run_type"], "scheduled");
  EXPECT_EQ(s["logical_date"], at_z(-60));
  EXPECT_EQ(s["start_date"], at_z(-60));
  EXPECT_EQ(s["end_date"], at_z(-10));
  EXPECT_DOUBLE_EQ(s["duration_s"].get<double>(), 50 * 60.0);
  EXPECT_EQ(s["conf_keys"], json::array({"db_password", "target"}));
  EXPECT_EQ(r.dump().find("hunter2-ConfValue-XYZ"), std::string::npos);
  EXPECT_EQ(s["tags"], json::array({"tier=1", "finance"}));
  EXPECT_EQ(s["tier"], "1");
  EXPECT_EQ(s["business_critical"], false);
  EXPECT_EQ(s["severity"], "sev1");
  EXPECT_EQ(s["owners"], json::array({"data-eng"}));
  EXPECT_EQ(s["task_counts"], json({{"failed", 3}, {"upstream_failed", 1}, {"success", 1}}));
  ASSERT_TRUE(s["first_failing_task"].is_object());
  EXPECT_EQ(s["first_failing_task"]["task_id"], "c_first");
  EXPECT_EQ(s["first_failing_task"]["end_date"], at_z(-15));
  EXPECT_EQ(s["first_failing_task"]["operator"], "PythonOperator");
  EXPECT_DOUBLE_EQ(s["first_failing_task"]["duration_s"].get<double>(), 600.0);
  EXPECT_EQ(s["failed_tasks"], json::array({"c_first", "b_tie", "a_late"}));
  EXPECT_EQ(s["upstream_failed_tasks"], json::array({"d_up"}));
  EXPECT_EQ(s["retries_used"], 0 + 2 + 1);
  EXPECT_EQ(s["frequency"]["lookback_hours"], 24);
  EXPECT_EQ(s["frequency"]["runs"], 3);
  EXPECT_EQ(s["frequency"]["failed_runs"], 2);
  const std::string id = store::incident_id_for("test", "etl", "scheduled__1");
  EXPECT_EQ(s["incident_id"], id);
  std::string text = Harness::text_of(r);
  EXPECT_NE(text.find("c_first"), std::string::npos) << text;
  EXPECT_NE(text.find("extract_task_errors"), std::string::npos) << text;

  auto inc = h.store->get_incident(id);
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->state, "open");
  EXPECT_EQ(inc->first_failing_task, "c_first");
  EXPECT_EQ(inc->dag_id, "etl");
  EXPECT_EQ(inc->env, "test");
  EXPECT_EQ(inc->opened_at_ms, to_ms(testing::test_now()));
  json summary = json::parse(inc->summary_json);
  EXPECT_EQ(summary["triage"]["severity"], "sev1");
  EXPECT_EQ(summary["triage"]["first_failing_task"], "c_first");
  EXPECT_EQ(inc->summary_json.find("hunter2"), std::string::npos);
}

TEST(TriageTools, SeverityFromTags) {
  struct Case {
    std::vector<std::string> tags;
    std::string tier, severity;
    bool critical;
  };
  for (const Case& c : {Case{{"tier=2"}, "2", "sev2", false},
                        Case{{"tier=3", "business_critical"}, "3", "sev1", true},
                        Case{{"nightly"}, "", "sev3", false}}) {
    Harness h;
    script_failed_run(*h.fake, c.tags);
    json s = h.ok("get_run_summary", {{"dag_id", "etl"}, {"run_id", "scheduled__1"}});
    EXPECT_EQ(s["tier"], c.tier);
    EXPECT_EQ(s["severity"], c.severity);
    EXPECT_EQ(s["business_critical"], c.critical);
  }
}

TEST(TriageTools, RepeatedTriageUpdatesOneIncidentAndKeepsItsState) {
  Harness h;
  script_failed_run(*h.fake, {"tier=2"});
  const std::string id = store::incident_id_for("test", "etl", "scheduled__1");
  h.ok("get_run_summary", {{"dag_id", "etl"}, {"run_id", "scheduled__1"}});
  auto inc = h.store->get_incident(id);
  ASSERT_TRUE(inc.ok());
  inc->state = "escalated";
  inc->signature = "abc123abc123";
  ASSERT_TRUE(h.store->upsert_incident(*inc).ok());
  h.clock->advance(std::chrono::minutes(5));
  json s = h.ok("get_failed_tasks", {{"dag_id", "etl"}, {"run_id", "scheduled__1"}});
  EXPECT_EQ(s["incident_id"], id);
  inc = h.store->get_incident(id);
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->state, "escalated");
  EXPECT_EQ(inc->signature, "abc123abc123");
  EXPECT_EQ(inc->opened_at_ms, to_ms(testing::test_now()));
  EXPECT_EQ(inc->updated_at_ms, to_ms(testing::test_now() + std::chrono::minutes(5)));
  json summary = json::parse(inc->summary_json);
  EXPECT_EQ(summary["triage"]["severity"], "sev2");  // kept from get_run_summary
  EXPECT_EQ(summary["triage"]["source"], "get_failed_tasks");
}

TEST(TriageTools, SuccessfulRunOpensNoIncident) {
  Harness h;
  h.fake->add_run(run("etl", "fine", "success", -60, -10));
  h.fake->add_task(task("etl", "fine", "a", "success", -60, -10));
  json s = h.ok("get_run_summary", {{"dag_id", "etl"}, {"run_id", "fine"}});
  EXPECT_EQ(s["incident_id"], "");
  EXPECT_TRUE(s["first_failing_task"].is_null());
  EXPECT_EQ(s["severity"], "sev3");
  EXPECT_EQ(h.store->upserts(), 0);
  s = h.ok("get_failed_tasks", {{"dag_id", "etl"}, {"run_id", "fine"}});
  EXPECT_EQ(s["count"], 0);
  EXPECT_EQ(h.store->upserts(), 0);
}

TEST(TriageTools, StoreUnavailableStillAnswers) {
  Harness h(HarnessOptions{.store_unavailable = true});
  script_failed_run(*h.fake, {"tier=1"});
  for (const char* tool : {"get_run_summary", "get_failed_tasks"}) {
    json r = h.call(tool, {{"dag_id", "etl"}, {"run_id", "scheduled__1"}});
    ASSERT_FALSE(r.value("isError", false)) << r.dump();
    EXPECT_EQ(r["structuredContent"]["incident_id"], "") << tool;
    EXPECT_NE(Harness::text_of(r).find("Incident not recorded"), std::string::npos) << tool;
  }
}

TEST(TriageTools, FailedTasksOrderAndRetriesLeft) {
  Harness h;
  script_failed_run(*h.fake, {});
  json r = h.call("get_failed_tasks", {{"dag_id", "etl"}, {"run_id", "scheduled__1"}});
  ASSERT_FALSE(r.value("isError", false)) << r.dump();
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["environment"], "test");
  EXPECT_EQ(s["count"], 4);
  ASSERT_EQ(s["tasks"].size(), 4u);
  EXPECT_EQ(s["tasks"][0]["task_id"], "c_first");
  EXPECT_EQ(s["tasks"][1]["task_id"], "b_tie");
  EXPECT_EQ(s["tasks"][2]["task_id"], "a_late");
  EXPECT_EQ(s["tasks"][3]["task_id"], "d_up");
  EXPECT_EQ(s["tasks"][3]["state"], "upstream_failed");
  EXPECT_EQ(s["tasks"][0]["retries_left"], 0);  // try 1 of max_tries 0
  EXPECT_EQ(s["tasks"][1]["retries_left"], 0);  // try 3, max_tries 2
  EXPECT_EQ(s["tasks"][3]["retries_left"], 1);  // never ran
  EXPECT_EQ(s["tasks"][0]["hostname"], "worker-1");
  EXPECT_EQ(s["first_failing_task"], "c_first");
  EXPECT_EQ(s["incident_id"], store::incident_id_for("test", "etl", "scheduled__1"));
  EXPECT_NE(Harness::text_of(r).find("c_first"), std::string::npos);
}

TEST(TriageTools, TaskStatesAllOrSome) {
  Harness h;
  script_failed_run(*h.fake, {});
  json s = h.ok("get_task_states", {{"dag_id", "etl"}, {"run_id", "scheduled__1"}});
  EXPECT_EQ(s["tasks"].size(), 5u);
  EXPECT_EQ(s["counts"], json({{"failed", 3}, {"upstream_failed", 1}, {"success", 1}}));
  EXPECT_EQ(s["unknown_task_ids"], json::array());
  s = h.ok("get_task_states", {{"dag_id", "etl"},
                               {"run_id", "scheduled__1"},
                               {"task_ids", {"e_ok", "a_late", "ghost_task"}}});
  ASSERT_EQ(s["tasks"].size(), 2u);
  EXPECT_EQ(s["tasks"][0]["task_id"], "a_late");
  EXPECT_EQ(s["tasks"][1]["task_id"], "e_ok");
  EXPECT_EQ(s["counts"], json({{"failed", 1}, {"success", 1}}));
  EXPECT_EQ(s["unknown_task_ids"], json::array({"ghost_task"}));
  EXPECT_EQ(h.store->upserts(), 0);  // get_task_states never touches incidents
}

TEST(TriageTools, UnknownDagOrRunIsAClearError) {
  Harness h;
  script_failed_run(*h.fake, {});
  for (const char* tool : {"get_run_summary", "get_failed_tasks", "get_task_states"}) {
    std::string e = h.err(tool, {{"dag_id", "nope"}, {"run_id", "scheduled__1"}});
    EXPECT_NE(e.find("not found"), std::string::npos) << tool << e;
    EXPECT_NE(e.find("nope"), std::string::npos) << tool << e;
    e = h.err(tool, {{"dag_id", "etl"}, {"run_id", "scheduled__404"}});
    EXPECT_NE(e.find("scheduled__404"), std::string::npos) << tool << e;
    EXPECT_NE(e.find("list_failed_runs"), std::string::npos) << tool << e;  // the next step
  }
  EXPECT_NE(
      h.err("get_run_summary", {{"dag_id", "etl"}, {"run_id", "../../etc/passwd"}}).find("run_id"),
      std::string::npos);
}

TEST(TriageTools, AirflowDownIsAClearError) {
  Harness h;
  script_failed_run(*h.fake, {});
  h.fake->fail("get_dag_run", make_error(Errc::unavailable,
                                         "environment \"test\": get DAG run: Airflow at "
                                         "http://af:8080 refused the connection"));
  h.fake->fail("list_task_instances",
               make_error(Errc::unavailable,
                          "environment \"test\": list task instances: "
                          "Airflow at http://af:8080 refused the connection"));
  for (const char* tool : {"get_run_summary", "get_failed_tasks", "get_task_states"}) {
    std::string e = h.err(tool, {{"dag_id", "etl"}, {"run_id", "scheduled__1"}});
    EXPECT_NE(e.find("refused the connection"), std::string::npos) << tool << e;
    EXPECT_NE(e.find("dagmedic doctor"), std::string::npos) << tool << e;
  }
}

TEST(TriageTools, DagDetailsOrHistoryUnreadableDegradeWithANote) {
  Harness h;
  script_failed_run(*h.fake, {"tier=1"});
  h.fake->fail("get_dag", make_error(Errc::permission_denied, "forbidden"));
  h.fake->fail("list_dag_runs", make_error(Errc::timeout, "slow"));
  json s = h.ok("get_run_summary", {{"dag_id", "etl"}, {"run_id", "scheduled__1"}});
  EXPECT_EQ(s["tier"], "");
  EXPECT_EQ(s["severity"], "sev3");
  EXPECT_EQ(s["frequency"]["available"], false);
  EXPECT_EQ(s["notes"].size(), 2u);
  EXPECT_EQ(s["first_failing_task"]["task_id"], "c_first");
}

}  // namespace
}  // namespace dm::runbook
