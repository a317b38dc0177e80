// check_recovery_rules: every verdict path through MCP over a FakeAirflow and a ManualClock, and
// the pure rules.
#include <gtest/gtest.h>

#include "runbook/detect_test_support.h"
#include "runbook/verify_rules.h"
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

const json kArgs = {{"dag_id", "etl"}, {"run_id", "inc"}};

// The incident: run "inc" placed 3 h ago, failed 2 h 50 ago at task "load".
void script_incident(testing::FakeAirflow& f) {
  f.add_dag(airflow::Dag{.dag_id = "etl", .owners = {"data-eng"}});
  f.add_run(run("etl", "older_ok", "success", -500, -490));
  f.add_run(run("etl", "inc", "failed", -180, -170));
  f.add_task(task("etl", "inc", "extract", "success", -180, -178));
  f.add_task(task("etl", "inc", "load", "failed", -178, -170, 3, 2));
  f.add_task(task("etl", "inc", "publish", "upstream_failed", INT32_MIN, -170));
}

// A later run with three tasks in the given states.
void script_later(testing::FakeAirflow& f, const std::string& id, const std::string& state,
                  int run_after, int end, const std::string& load_state = "success",
                  const std::string& publish_state = "success") {
  f.add_run(run("etl", id, state, run_after, end));
  f.add_task(task("etl", id, "extract", "success", run_after, run_after + 1));
  f.add_task(task("etl", id, "load", load_state, run_after + 1, end == INT32_MIN ? end : end - 1));
  f.add_task(task("etl", id, "publish", publish_state, INT32_MIN, end));
}

void expect_no_blind_retry(const json& result) {
  std::string all = Harness::text_of(result) + result["structuredContent"]["advice"].dump();
  for (char& c : all) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(all.find("retry"), std::string::npos) << all;
  EXPECT_EQ(all.find("trigger"), std::string::npos) << all;
  EXPECT_FALSE(result["structuredContent"]["advice"].get<std::string>().empty());
}

TEST(VerifyTool, NoNewRunYet) {
  Harness h;
  script_incident(*h.fake);
  json r = h.call("check_recovery_rules", kArgs);
  ASSERT_FALSE(r.value("isError", false)) << r.dump();
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["environment"], "test");
  EXPECT_EQ(s["dag_id"], "etl");
  EXPECT_EQ(s["run_id"], "inc");
  EXPECT_EQ(s["verdict"], "not_yet");
  EXPECT_NE(s["reason"].get<std::string>().find("no new run"), std::string::npos);
  EXPECT_TRUE(s["recovering_run"].is_null());
  EXPECT_EQ(s["failures_since"], 0);
  EXPECT_EQ(s["quiet_until"], "");
  EXPECT_EQ(s["critical_tasks"], json::array());
  EXPECT_EQ(s["rule"], json({{"dag", "*"},
                             {"quiet_minutes", 30},
                             {"critical_tasks", json::array()},
                             {"escalate_after_failures", 2}}));
  expect_no_blind_retry(r);
}

TEST(VerifyTool, NewRunStillRunning) {
  Harness h;
  script_incident(*h.fake);
  script_later(*h.fake, "next", "running", -20, INT32_MIN, "running", "");
  json r = h.call("check_recovery_rules", kArgs);
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["verdict"], "not_yet");
  EXPECT_NE(s["reason"].get<std::string>().find("still running"), std::string::npos) << s;
  EXPECT_EQ(s["recovering_run"]["run_id"], "next");
  expect_no_blind_retry(r);
}

TEST(VerifyTool, QuietPeriodThenRecoveredAndIncidentUpdated) {
  Harness h;
  script_incident(*h.fake);
  // Triage first: opens the incident.
  h.ok("get_run_summary", kArgs);
  script_later(*h.fake, "next", "success", -30, -10);
  json r = h.call("check_recovery_rules", kArgs);
  json s = r["structuredContent"];
  EXPECT_EQ(s["verdict"], "not_yet");
  EXPECT_EQ(s["quiet_until"], at_z(20));  // ended 10 min ago + 30 quiet minutes
  EXPECT_NE(s["reason"].get<std::string>().find("quiet period until " + at_z(20)),
            std::string::npos)
      << s;
  EXPECT_EQ(s["recovering_run"]["run_id"], "next");
  EXPECT_EQ(s["critical_tasks"].size(), 3u);
  EXPECT_EQ(s["incident_state"], "open");
  expect_no_blind_retry(r);

  h.clock->advance(std::chrono::minutes(19));
  EXPECT_EQ(h.ok("check_recovery_rules", kArgs)["verdict"], "not_yet");
  h.clock->advance(std::chrono::minutes(1));  // exactly at quiet_until
  r = h.call("check_recovery_rules", kArgs);
  s = r["structuredContent"];
  EXPECT_EQ(s["verdict"], "recovered") << s;
  EXPECT_EQ(s["failures_since"], 0);
  EXPECT_EQ(s["incident_id"], store::incident_id_for("test", "etl", "inc"));
  EXPECT_EQ(s["incident_state"], "recovered");
  expect_no_blind_retry(r);
  auto inc = h.store->get_incident(store::incident_id_for("test", "etl", "inc"));
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->state, "recovered");
  EXPECT_EQ(inc->first_failing_task, "load");
  EXPECT_EQ(json::parse(inc->summary_json)["verify"]["recovering_run"], "next");
}

TEST(VerifyTool, CriticalTaskNotSuccessBlocksRecovery) {
  config::Config cfg;
  cfg.recovery.push_back(config::RecoveryRule{.dag = "et?",
                                              .quiet_minutes = 5,
                                              .critical_tasks = {"publish"},
                                              .escalate_after_failures = 3});
  Harness h(HarnessOptions{.config = cfg});
  script_incident(*h.fake);
  script_later(*h.fake, "next", "success", -60, -50, "success", "skipped");
  json r = h.call("check_recovery_rules", kArgs);
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["verdict"], "not_yet");
  EXPECT_NE(s["reason"].get<std::string>().find("critical task publish is skipped"),
            std::string::npos)
      << s;
  EXPECT_EQ(s["critical_tasks"], json::array({{{"task_id", "publish"}, {"state", "skipped"}}}));
  EXPECT_EQ(s["rule"]["dag"], "et?");
  EXPECT_EQ(s["rule"]["quiet_minutes"], 5);
  EXPECT_EQ(s["rule"]["escalate_after_failures"], 3);
  EXPECT_EQ(s["rule"]["critical_tasks"], json::array({"publish"}));
  expect_no_blind_retry(r);
}

TEST(VerifyTool, DefaultRuleAcceptsASkippedBranchAndNamedCriticalTaskMustExist) {
  {
    Harness h;
    script_incident(*h.fake);
    script_later(*h.fake, "next", "success", -120, -100, "success", "skipped");
    EXPECT_EQ(h.ok("check_recovery_rules", kArgs)["verdict"], "recovered");
  }
  {
    config::Config cfg;
    cfg.recovery.push_back(config::RecoveryRule{.dag = "*", .critical_tasks = {"ghost"}});
    Harness h(HarnessOptions{.config = cfg});
    script_incident(*h.fake);
    script_later(*h.fake, "next", "success", -120, -100);
    json s = h.ok("check_recovery_rules", kArgs);
    EXPECT_EQ(s["verdict"], "not_yet");
    EXPECT_EQ(s["critical_tasks"][0]["state"], "absent");
  }
}

TEST(VerifyTool, TwoFailuresWithoutSuccessEscalate) {
  Harness h;
  script_incident(*h.fake);
  h.ok("get_failed_tasks", kArgs);  // opens the incident
  script_later(*h.fake, "f1", "failed", -120, -110, "failed", "upstream_failed");
  script_later(*h.fake, "f2", "failed", -60, -50, "success", "failed");
  script_later(*h.fake, "r3", "running", -5, INT32_MIN, "running", "");
  json r = h.call("check_recovery_rules", kArgs);
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["verdict"], "escalate") << s;
  EXPECT_EQ(s["failures_since"], 2);
  EXPECT_EQ(s["recovering_run"]["run_id"], "f2");
  EXPECT_NE(s["advice"].get<std::string>().find("data-eng"), std::string::npos) << s;
  EXPECT_EQ(s["incident_state"], "escalated");
  expect_no_blind_retry(r);
  auto inc = h.store->get_incident(store::incident_id_for("test", "etl", "inc"));
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->state, "escalated");
}

TEST(VerifyTool, SameFirstFailingTaskAgainEscalates) {
  Harness h;
  script_incident(*h.fake);
  script_later(*h.fake, "f1", "failed", -60, -50, "failed", "upstream_failed");
  json r = h.call("check_recovery_rules", kArgs);
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["verdict"], "escalate") << s;
  EXPECT_EQ(s["failures_since"], 1);
  EXPECT_NE(s["reason"].get<std::string>().find("same task load"), std::string::npos) << s;
  EXPECT_EQ(s["incident_id"], "");  // nobody triaged it: nothing to update, no error
  expect_no_blind_retry(r);
}

TEST(VerifyTool, DifferentNewFailureIsNotYetAndPointsAtDiagnosis) {
  Harness h;
  script_incident(*h.fake);
  script_later(*h.fake, "f1", "failed", -60, -50, "success", "failed");
  json r = h.call("check_recovery_rules", kArgs);
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["verdict"], "not_yet") << s;
  EXPECT_EQ(s["failures_since"], 1);
  EXPECT_NE(s["reason"].get<std::string>().find("publish"), std::string::npos) << s;
  EXPECT_NE(s["advice"].get<std::string>().find("Diagnose the new failure"), std::string::npos);
  expect_no_blind_retry(r);
}

TEST(VerifyTool, SameRunClearedAndNowSuccessCounts) {
  Harness h;
  h.fake->add_dag(airflow::Dag{.dag_id = "etl"});
  h.fake->add_run(run("etl", "inc", "success", -180, -60));  // cleared, re-ran, succeeded
  h.fake->add_task(task("etl", "inc", "load", "success", -70, -60, 4, 3));
  json s = h.ok("check_recovery_rules", kArgs);
  EXPECT_EQ(s["verdict"], "recovered") << s;
  EXPECT_EQ(s["recovering_run"]["run_id"], "inc");
  EXPECT_EQ(s["quiet_until"], at_z(-30));
}

// The incident as Triage + Diagnose recorded it: run "inc" ended 170 min ago, task "load"
// diagnosed in try 3.
void record_incident(Harness& h, bool with_diagnosis = true) {
  store::Incident inc;
  inc.id = store::incident_id_for("test", "etl", "inc");
  inc.env = "test";
  inc.dag_id = "etl";
  inc.run_id = "inc";
  inc.state = "open";
  inc.first_failing_task = "load";
  json summary = {{"triage", {{"state", "failed"}, {"end_date", at_z(-170)}}}};
  if (with_diagnosis) {
    inc.signature = "a1b2c3d4e5f6";
    inc.category = "network";
    summary["diagnose"] = {{"task_id", "load"}, {"try_number", 3}, {"map_index", -1}};
    summary["diagnoses"] = {{"a1b2c3d4e5f6", summary["diagnose"]}};
  }
  inc.summary_json = summary.dump();
  inc.opened_at_ms = to_ms(testing::test_now() - std::chrono::minutes(160));
  inc.updated_at_ms = inc.opened_at_ms;
  ASSERT_TRUE(h.store->upsert_incident(inc).ok());
}

// Run "inc" after someone cleared it: load ran again in try 4 and ended `load_state`.
void script_cleared_incident(testing::FakeAirflow& f, const std::string& run_state,
                             const std::string& load_state, const std::string& publish_state) {
  f.add_dag(airflow::Dag{.dag_id = "etl", .owners = {"data-eng"}});
  f.add_run(run("etl", "inc", run_state, -180, -5));
  f.add_task(task("etl", "inc", "extract", "success", -180, -178));
  f.add_task(task("etl", "inc", "load", load_state, -10, -6, 4, 5));
  f.add_task(task("etl", "inc", "publish", publish_state, INT32_MIN, -5));
}

TEST(VerifyTool, ClearedRunFailingAgainAtTheSameTaskEscalates) {
  Harness h;
  record_incident(h);
  script_cleared_incident(*h.fake, "failed", "failed", "upstream_failed");
  json r = h.call("check_recovery_rules", kArgs);
  ASSERT_FALSE(r.value("isError", false)) << r.dump();
  const json& s = r["structuredContent"];
  EXPECT_EQ(s["verdict"], "escalate") << s;
  EXPECT_EQ(s["failures_since"], 1);
  const std::string reason = s["reason"].get<std::string>();
  EXPECT_NE(reason.find("cleared run inc failed again at the same task load"), std::string::npos)
      << reason;
  EXPECT_NE(reason.find("try 4"), std::string::npos) << reason;
  EXPECT_NE(reason.find("recorded try 3"), std::string::npos) << reason;
  EXPECT_EQ(s["recovering_run"]["run_id"], "inc");
  EXPECT_EQ(s["incident_state"], "escalated");
  expect_no_blind_retry(r);
}

TEST(VerifyTool, ClearedRunFailingAgainElsewhereIsNotRecoveredOrEscalatesByRule) {
  // No try recorded (triage only): the run ending after the recorded end shows the re-run.
  {
    Harness h;
    record_incident(h, /*with_diagnosis=*/false);
    script_cleared_incident(*h.fake, "failed", "success", "failed");
    json r = h.call("check_recovery_rules", kArgs);
    const json& s = r["structuredContent"];
    EXPECT_EQ(s["verdict"], "not_yet") << s;
    EXPECT_EQ(s["failures_since"], 1);
    const std::string reason = s["reason"].get<std::string>();
    EXPECT_NE(reason.find("cleared run inc failed again"), std::string::npos) << reason;
    EXPECT_NE(reason.find("publish"), std::string::npos) << reason;
    EXPECT_NE(reason.find("ended again at " + at_z(-5)), std::string::npos) << reason;
    EXPECT_NE(s["advice"].get<std::string>().find("Diagnose the new failure"), std::string::npos);
    expect_no_blind_retry(r);
  }
  // A rule escalating after one failure: escalate, and say why.
  {
    config::Config cfg;
    cfg.recovery.push_back(config::RecoveryRule{.dag = "etl", .escalate_after_failures = 1});
    Harness h(HarnessOptions{.config = cfg});
    record_incident(h, /*with_diagnosis=*/false);
    script_cleared_incident(*h.fake, "failed", "success", "failed");
    json s = h.ok("check_recovery_rules", kArgs);
    EXPECT_EQ(s["verdict"], "escalate") << s;
    EXPECT_NE(s["reason"].get<std::string>().find("the cleared run failed again"),
              std::string::npos)
        << s;
  }
}

TEST(VerifyTool, UnclearedFailedRunIsStillTheIncidentItself) {
  // Same try as recorded, same end: nothing new, no failure counted.
  Harness h;
  record_incident(h);
  script_incident(*h.fake);
  json s = h.ok("check_recovery_rules", kArgs);
  EXPECT_EQ(s["verdict"], "not_yet") << s;
  EXPECT_EQ(s["failures_since"], 0);
  EXPECT_NE(s["reason"].get<std::string>().find("no new run"), std::string::npos) << s;
  EXPECT_EQ(s["incident_state"], "open");
}

TEST(VerifyTool, ClearedRunSucceedingInTheNewTryRecovers) {
  Harness h;
  record_incident(h);
  script_cleared_incident(*h.fake, "success", "success", "success");
  json s = h.ok("check_recovery_rules", kArgs);
  EXPECT_EQ(s["verdict"], "not_yet") << s;  // quiet period: ended 5 min ago
  EXPECT_EQ(s["recovering_run"]["run_id"], "inc");
  h.clock->advance(std::chrono::minutes(30));
  s = h.ok("check_recovery_rules", kArgs);
  EXPECT_EQ(s["verdict"], "recovered") << s;
  EXPECT_EQ(s["failures_since"], 0);
  EXPECT_EQ(s["incident_state"], "recovered");
}

TEST(VerifyTool, SuccessThenNewFailureIsNotRecovered) {
  Harness h;
  script_incident(*h.fake);
  script_later(*h.fake, "ok1", "success", -150, -140);
  script_later(*h.fake, "f2", "failed", -60, -50, "success", "failed");
  json s = h.ok("check_recovery_rules", kArgs);
  EXPECT_EQ(s["verdict"], "not_yet") << s;
  EXPECT_EQ(s["failures_since"], 1);
  EXPECT_NE(s["reason"].get<std::string>().find("f2"), std::string::npos);
}

TEST(VerifyTool, OverlappingRunFailingAfterTheSuccessBlocksRecovery) {
  Harness h;
  script_incident(*h.fake);
  script_later(*h.fake, "slow", "failed", -150, -20, "success", "failed");  // placed first
  script_later(*h.fake, "fast", "success", -100, -90);                      // ended before it
  json s = h.ok("check_recovery_rules", kArgs);
  EXPECT_EQ(s["verdict"], "not_yet") << s;
  EXPECT_NE(s["reason"].get<std::string>().find("slow"), std::string::npos) << s;
}

TEST(VerifyTool, ErrorsAreClear) {
  Harness h;
  script_incident(*h.fake);
  std::string e = h.err("check_recovery_rules", {{"dag_id", "nope"}, {"run_id", "inc"}});
  EXPECT_NE(e.find("not found"), std::string::npos) << e;
  e = h.err("check_recovery_rules", {{"dag_id", "etl"}, {"run_id", "nope"}});
  EXPECT_NE(e.find("nope"), std::string::npos) << e;
  h.fake->fail("list_dag_runs", make_error(Errc::unavailable,
                                           "environment \"test\": list DAG "
                                           "runs: refused the connection"));
  e = h.err("check_recovery_rules", kArgs);
  EXPECT_NE(e.find("refused the connection"), std::string::npos) << e;
}

TEST(VerifyTool, StoreUnavailableStillGivesAVerdict) {
  Harness h(HarnessOptions{.store_unavailable = true});
  script_incident(*h.fake);
  script_later(*h.fake, "f1", "failed", -120, -110, "failed");
  script_later(*h.fake, "f2", "failed", -60, -50, "failed");
  json s = h.ok("check_recovery_rules", kArgs);
  EXPECT_EQ(s["verdict"], "escalate");
  EXPECT_EQ(s["incident_id"], "");
  EXPECT_NE(s["notes"].dump().find("store"), std::string::npos) << s;
}

// ---- pure rules ----

RunTasks no_tasks() {
  return [](const airflow::DagRun&) {
    return Result<std::vector<airflow::TaskInstance>>(std::vector<airflow::TaskInstance>{});
  };
}

TEST(VerifyRules, FetchErrorsPassThrough) {
  RecoveryInput in{.incident = run("etl", "inc", "failed", -100, -90),
                   .incident_first_failing = "load",
                   .later = {run("etl", "f1", "failed", -50, -40)},
                   .rule = {},
                   .now_ms = to_ms(testing::test_now())};
  auto v = evaluate_recovery(in, [](const airflow::DagRun&) {
    return Result<std::vector<airflow::TaskInstance>>(make_error(Errc::unavailable, "down"));
  });
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, Errc::unavailable);
}

TEST(VerifyRules, EscalateThresholdComesFromTheRule) {
  RecoveryInput in{
      .incident = run("etl", "inc", "failed", -100, -90),
      .incident_first_failing = "load",
      .later = {run("etl", "f3", "failed", -30, -20), run("etl", "f2", "failed", -50, -40),
                run("etl", "f1", "failed", -70, -60)},
      .rule = {.critical_tasks = {}, .escalate_after_failures = 4},
      .now_ms = to_ms(testing::test_now())};
  auto v = evaluate_recovery(in, no_tasks());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->verdict, "not_yet");  // 3 < 4 and no failing task found
  EXPECT_EQ(v->failures_since, 3);
  in.rule.escalate_after_failures = 3;
  v = evaluate_recovery(in, no_tasks());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->verdict, "escalate");
  EXPECT_EQ(v->recovering_run->run_id, "f3");
}

TEST(VerifyRules, ClearedRunFailingAfterALaterSuccessBlocksRecovery) {
  RecoveryInput in{.incident = run("etl", "inc", "failed", -100, -5),
                   .incident_first_failing = "load",
                   .later = {run("etl", "ok", "success", -80, -70)},
                   .rule = {.quiet_minutes = 10, .critical_tasks = {}},
                   .now_ms = to_ms(testing::test_now()),
                   .incident_failed_again = "task load failed in try 2"};
  auto v = evaluate_recovery(in, no_tasks());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->verdict, "not_yet");
  EXPECT_NE(v->reason.find("the incident's run inc (cleared, task load failed in try 2) failed at"),
            std::string::npos)
      << v->reason;
  in.incident_failed_again.clear();  // not cleared: the old failure decides nothing
  v = evaluate_recovery(in, no_tasks());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->verdict, "recovered") << v->reason;
}

TEST(VerifyRules, QueuedRunsDecideNothing) {
  RecoveryInput in{
      .incident = run("etl", "inc", "failed", -100, -90),
      .incident_first_failing = "load",
      .later = {run("etl", "q", "queued", -1, INT32_MIN), run("etl", "ok", "success", -80, -70)},
      .rule = {.quiet_minutes = 10, .critical_tasks = {}},
      .now_ms = to_ms(testing::test_now())};
  auto v = evaluate_recovery(in, no_tasks());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->verdict, "recovered");
  EXPECT_EQ(v->recovering_run->run_id, "ok");
  EXPECT_EQ(v->quiet_until_ms, to_ms(testing::test_now() - std::chrono::minutes(60)));
}

}  // namespace
}  // namespace dm::runbook
