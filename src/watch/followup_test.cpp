// After the new failures of a cycle: recovery checks and resolves, import errors as incidents
// (watch/followup.h), over a FakeAirflow, an in-memory SQLite store, a ManualClock and a fake
// HTTP seam for the outbox: no network, no sleeping.
#include "watch/followup.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "common/iso_time.h"
#include "runbook/recovery.h"
#include "watch/testing/watch_rig.h"

namespace dm::watch {
namespace {

using json = nlohmann::json;
using testing::at;
using testing::fake_target;
using testing::Rig;
using testing::RigOptions;

RigOptions notifying(int quiet_minutes = 0) {
  RigOptions o;
  o.targets = {fake_target("pd", "pagerduty"), fake_target("hook", "json")};
  o.recovery = {config::RecoveryRule{.dag = "*", .quiet_minutes = quiet_minutes}};
  return o;
}

std::string state_of(Rig& r, const std::string& id) {
  auto inc = r.store->get_incident(id);
  EXPECT_TRUE(inc.ok()) << id;
  return inc.ok() ? inc->state : "";
}

TEST(WatchRecovery, ARecoveredIncidentIsResolvedOncePerTargetAndAgainAfterANewFailure) {
  Rig r(notifying());
  r.failure("etl", "r1", -20);
  Watcher w(r.deps, r.outbox);
  CycleReport c1 = w.run_once();
  ASSERT_TRUE(c1.ok()) << c1.envs[0].error;
  const std::string id = store::incident_id_for("prod", "etl", "r1");
  EXPECT_EQ(c1.envs[0].recovery_checked, 0u) << "nothing ran after the failure";
  EXPECT_TRUE(c1.envs[0].recovered.empty());
  EXPECT_EQ(r.messages("trigger:").size(), 2u);
  EXPECT_TRUE(r.messages("resolve:").empty());

  // A later run succeeds: the next cycle says recovered, as check_recovery_rules would.
  r.success("etl", "r2", -2);
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c2 = w.run_once();
  ASSERT_TRUE(c2.ok()) << c2.envs[0].error;
  ASSERT_EQ(c2.envs[0].recovered, std::vector<std::string>{id});
  EXPECT_EQ(c2.envs[0].resolves, 2u);
  EXPECT_EQ(state_of(r, id), "recovered");
  auto resolves = r.messages("resolve:");
  ASSERT_EQ(resolves.size(), 2u);
  for (const auto& m : resolves) {
    EXPECT_EQ(m.incident_id, id);
    EXPECT_EQ(m.state, "delivered") << m.last_error;
    auto body = json::parse(m.payload);
    if (m.kind == "pagerduty") {
      EXPECT_EQ(body["event_action"], "resolve");
      EXPECT_EQ(body["dedup_key"], id);
    } else {
      EXPECT_EQ(body["event"], "incident.resolved");
      EXPECT_EQ(body["incident_id"], id);
    }
  }
  EXPECT_NE(format_cycle(c2).find("recovered " + id), std::string::npos) << format_cycle(c2);
  EXPECT_EQ(cycle_json(c2)["environments"][0]["resolves_enqueued"], 2);

  // Nothing more while nothing changes: no second resolve, no check of a recovered incident.
  for (int i = 0; i < 8; ++i) {
    r.clock->advance(std::chrono::minutes(1));
    CycleReport again = w.run_once();
    EXPECT_EQ(again.envs[0].resolves, 0u);
    EXPECT_EQ(again.envs[0].recovery_checked, 0u);
  }
  EXPECT_EQ(r.messages("resolve:").size(), 2u);

  // r1 is cleared and fails again: a new failure reopens the incident (a new trigger) ...
  auto run = r.fake->get_dag_run("etl", "r1");
  ASSERT_TRUE(run.ok());
  run->end_date = at(4);
  r.fake->update_run(*run);
  r.clock->advance(std::chrono::minutes(2));
  CycleReport c3 = w.run_once();
  ASSERT_EQ(c3.envs[0].handled.size(), 1u);
  EXPECT_EQ(state_of(r, id), "open");
  EXPECT_EQ(r.messages("trigger:").size(), 4u);
  // ... and the next success resolves it again, with a message of its own.
  r.success("etl", "r3", 8);
  r.clock->advance(std::chrono::minutes(5));
  CycleReport c4 = w.run_once();
  EXPECT_EQ(c4.envs[0].recovered, std::vector<std::string>{id});
  EXPECT_EQ(state_of(r, id), "recovered");
  EXPECT_EQ(r.messages("resolve:").size(), 4u);
}

TEST(WatchApprovalLink, ANewFailureLinksTheApprovalPendingForItsDag) {
  RigOptions o = notifying();
  o.approval_page = [](const std::string& id) { return "https://approve.example/approvals/" + id; };
  Rig r(std::move(o));
  r.failure("etl", "r1", -20);
  Watcher w(r.deps, r.outbox);
  ASSERT_TRUE(w.run_once().ok());
  auto first = r.messages("trigger:");
  ASSERT_EQ(first.size(), 2u);
  for (const auto& m : first) EXPECT_EQ(m.payload.find("approve.example"), std::string::npos);

  // The assistant asks for a new run of the DAG; before anyone approves, the next run fails too.
  store::ApprovalRecord a;
  a.id = "apr-7";
  a.action = "trigger_dag";
  a.env = "prod";
  a.tier = "prod";
  a.params_json = json{{"dag_id", "etl"}, {"conf", json::object()}}.dump();
  a.params_hash = std::string(64, 'b');
  a.requester = "alice";
  a.reason = "rerun";
  a.created_at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(r.clock->now().time_since_epoch())
          .count();
  a.expires_at_ms = a.created_at_ms + 3'600'000;
  ASSERT_TRUE(r.store->create_approval(a).ok());
  r.failure("etl", "r2", 0);
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c = w.run_once();
  ASSERT_TRUE(c.ok()) << c.envs[0].error;
  auto all = r.messages("trigger:");
  ASSERT_EQ(all.size(), 4u);
  std::size_t linked = 0;
  for (const auto& m : all)
    if (m.incident_id == store::incident_id_for("prod", "etl", "r2")) {
      EXPECT_NE(m.payload.find("https://approve.example/approvals/apr-7"), std::string::npos)
          << m.payload;
      ++linked;
    }
  EXPECT_EQ(linked, 2u);
  for (const auto& req : r.http->requests()) {
    if (req.body.find(store::incident_id_for("prod", "etl", "r2")) != std::string::npos) {
      EXPECT_NE(req.body.find("approvals/apr-7"), std::string::npos);
    }
  }
}

TEST(WatchRecovery, AQuietPeriodHoldsTheResolveBack) {
  Rig r(notifying(/*quiet_minutes=*/30));
  r.failure("etl", "r1", -20);
  Watcher w(r.deps, r.outbox);
  w.run_once();
  r.success("etl", "r2", -2);
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c = w.run_once();
  EXPECT_TRUE(c.envs[0].recovered.empty());
  EXPECT_TRUE(r.messages("resolve:").empty());
  r.clock->advance(std::chrono::minutes(31));
  CycleReport later = w.run_once();
  EXPECT_EQ(later.envs[0].recovered.size(), 1u);
  EXPECT_EQ(r.messages("resolve:").size(), 2u);
}

TEST(WatchRecovery, AnIncidentCheckRecoveryRulesRecoveredIsResolvedByTheNextCycle) {
  Rig r(notifying());
  r.failure("etl", "r1", -20);
  Watcher w(r.deps, r.outbox);
  w.run_once();
  r.success("etl", "r2", -2);
  // Someone calls check_recovery_rules (the same function) before the watcher looks.
  auto target = r.deps->clients->get("prod");
  ASSERT_TRUE(target.ok());
  auto c = runbook::check_recovery(*r.deps, "prod", *target->client, "etl", "r1");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->verdict.verdict, "recovered");
  EXPECT_TRUE(c->state_changed);
  r.clock->advance(std::chrono::minutes(1));
  CycleReport next = w.run_once();
  EXPECT_TRUE(next.envs[0].recovered.empty()) << "the tool moved it, not the watcher";
  EXPECT_EQ(next.envs[0].resolves, 2u);
  EXPECT_EQ(r.messages("resolve:").size(), 2u);
}

TEST(WatchRecovery, OnlyIncidentsWhoseDagRanAreCheckedAndTheBudgetDefersTheRest) {
  RigOptions o;
  o.watch.recovery_checks_per_cycle = 2;
  o.recovery = {config::RecoveryRule{.dag = "*", .quiet_minutes = 0}};
  Rig r(o);
  for (int i = 0; i < 6; ++i) r.failure("dag_" + std::to_string(i), "r", -20 + i);
  Watcher w(r.deps);
  CycleReport first = w.run_once();
  EXPECT_EQ(first.envs[0].handled.size(), 6u);
  EXPECT_EQ(first.envs[0].recovery_checked, 0u) << "nothing ran after the failures just handled";
  // Five of the six DAGs succeed; dag_5 does not run again.
  for (int i = 0; i < 5; ++i) r.success("dag_" + std::to_string(i), "ok", -1);
  std::size_t recovered = 0;
  for (int cycle = 0; cycle < 3; ++cycle) {
    r.clock->advance(std::chrono::minutes(1));
    CycleReport c = w.run_once();
    // 5 to check, 2 per cycle: 2, 2, 1 — those left over carry a recheck time on the incident.
    EXPECT_EQ(c.envs[0].recovery_checked, cycle < 2 ? 2u : 1u) << "cycle " << cycle;
    recovered += c.envs[0].recovered.size();
  }
  EXPECT_EQ(recovered, 5u);
  EXPECT_EQ(state_of(r, store::incident_id_for("prod", "dag_5", "r")), "open");
  // Nothing ran: nothing is checked, and dag_5's incident costs no call at all.
  r.clock->advance(std::chrono::minutes(10));
  const int before = r.fake->calls("get_dag_run");
  EXPECT_EQ(w.run_once().envs[0].recovery_checked, 0u);
  EXPECT_EQ(r.fake->calls("get_dag_run"), before);
}

TEST(WatchRecovery, ACheckLeftForLaterIsDoneByTheNextProcess) {
  RigOptions o = notifying();
  o.watch.recovery_checks_per_cycle = 1;
  Rig r(o);
  r.failure("a", "r", -20);
  r.failure("b", "r", -19);
  Watcher(r.deps, r.outbox).run_once();
  r.success("a", "ok", -1);
  r.success("b", "ok", -1);
  r.clock->advance(std::chrono::minutes(1));
  CycleReport one = Watcher(r.deps, r.outbox).run_once();
  ASSERT_EQ(one.envs[0].recovered.size(), 1u);
  const std::string a = store::incident_id_for("prod", "a", "r");
  const std::string b = store::incident_id_for("prod", "b", "r");
  const std::string left = one.envs[0].recovered[0] == a ? b : a;
  // A new process (cron's next `watch --once`), long after the successes left the window.
  r.clock->advance(std::chrono::hours(3));
  CycleReport c = Watcher(r.deps, r.outbox).run_once();
  EXPECT_EQ(c.envs[0].recovered, std::vector<std::string>{left});
  EXPECT_EQ(r.messages("resolve:").size(), 4u);
}

TEST(WatchRecovery, AirflowFailingDuringChecksIsANoteAndTheCycleStaysOk) {
  Rig r(notifying());
  r.failure("etl", "r1", -20);
  Watcher w(r.deps, r.outbox);
  w.run_once();
  r.success("etl", "r2", -2);
  r.fake->fail("get_dag_run", make_error(Errc::unavailable, "connection refused"));
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c = w.run_once();
  EXPECT_TRUE(c.ok());
  EXPECT_TRUE(c.envs[0].recovered.empty());
  bool noted = false;
  for (const auto& n : c.envs[0].notes) noted |= n.find("connection refused") != std::string::npos;
  EXPECT_TRUE(noted) << format_cycle(c);
  // Airflow back: the next cycle resolves it.
  r.fake->clear_fault("get_dag_run");
  r.clock->advance(std::chrono::hours(2));  // the success is out of the window: the recheck time
  EXPECT_EQ(w.run_once().envs[0].recovered.size(), 1u);
}

TEST(WatchStreaks, ThreeFailedRunsInARowAreAnIncidentOfTheirOwnUntilARunSucceeds) {
  Rig r(notifying());
  r.failure("etl", "r1", -40, {"tier=1"});
  r.failure("etl", "r2", -30, {"tier=1"});
  Watcher w(r.deps, r.outbox);
  CycleReport c1 = w.run_once();
  EXPECT_EQ(c1.envs[0].handled.size(), 2u) << "two in a row: no streak yet";
  r.failure("etl", "r3", -20, {"tier=1"});
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c2 = w.run_once();
  ASSERT_EQ(c2.envs[0].handled.size(), 2u) << format_cycle(c2);
  const HandledRun& streak = c2.envs[0].handled[1];
  EXPECT_EQ(streak.kind, "not_succeeding");
  EXPECT_EQ(streak.dag_id, "etl");
  EXPECT_EQ(streak.run_id, "r3");
  EXPECT_EQ(streak.severity, "sev1");
  EXPECT_TRUE(streak.opened);
  const std::string id = store::incident_id_for("prod", "etl", "not_succeeding");
  EXPECT_EQ(streak.incident_id, id);
  auto inc = r.store->get_incident(id);
  ASSERT_TRUE(inc.ok());
  auto summary = json::parse(inc->summary_json);
  EXPECT_EQ(summary["not_succeeding"]["failed_runs"], json::array({"r3", "r2", "r1"}));
  EXPECT_FALSE(summary["advice"].get<std::string>().empty());
  int streak_messages = 0;
  for (const auto& m : r.messages("trigger:"))
    if (m.incident_id == id) {
      ++streak_messages;
      if (m.kind == "pagerduty") {
        EXPECT_NE(
            json::parse(m.payload)["payload"]["summary"].get<std::string>().find("keeps failing"),
            std::string::npos);
      }
    }
  EXPECT_EQ(streak_messages, 2);
  EXPECT_NE(format_cycle(c2).find("etl keeps failing (newest r3)"), std::string::npos);

  // A fourth failure: the streak is already open, nothing new about it.
  r.failure("etl", "r4", -10, {"tier=1"});
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c3 = w.run_once();
  ASSERT_EQ(c3.envs[0].handled.size(), 1u);
  EXPECT_EQ(c3.envs[0].handled[0].kind, "dag_run");

  // A success ends it (and recovers the runs' incidents): one resolve per target for the streak.
  r.success("etl", "ok", -2);
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c4 = w.run_once();
  EXPECT_NE(std::find(c4.envs[0].recovered.begin(), c4.envs[0].recovered.end(), id),
            c4.envs[0].recovered.end())
      << format_cycle(c4);
  EXPECT_EQ(state_of(r, id), "recovered");
  int resolves = 0;
  for (const auto& m : r.messages("resolve:")) resolves += m.incident_id == id;
  EXPECT_EQ(resolves, 2);
}

TEST(WatchStreaks, AnOlderSuccessInTheSameWindowDoesNotEndTheStreakItPrecedes) {
  Rig r(notifying());
  r.success("etl", "ok", -45);
  r.failure("etl", "r1", -30);
  r.failure("etl", "r2", -20);
  r.failure("etl", "r3", -10);
  Watcher w(r.deps, r.outbox);
  CycleReport c = w.run_once();
  const std::string id = store::incident_id_for("prod", "etl", "not_succeeding");
  EXPECT_TRUE(c.envs[0].recovered.empty()) << format_cycle(c);
  EXPECT_EQ(state_of(r, id), "open") << "the success came before the three failures";
}

TEST(WatchStreaks, ASuccessInBetweenIsNoStreakAndZeroTurnsThemOff) {
  Rig r;
  r.failure("etl", "r1", -40);
  r.failure("etl", "r2", -30);
  r.success("etl", "ok", -25);
  r.failure("etl", "r3", -20);
  Watcher w(r.deps);
  const CycleReport c0 = w.run_once();
  for (const auto& h : c0.envs[0].handled) EXPECT_EQ(h.kind, "dag_run");

  RigOptions o;
  o.watch.failed_runs_in_a_row = 0;
  Rig off(o);
  for (int i = 0; i < 4; ++i) off.failure("etl", "r" + std::to_string(i), -40 + 5 * i);
  Watcher w2(off.deps);
  CycleReport c = w2.run_once();
  EXPECT_EQ(c.envs[0].handled.size(), 4u);
  EXPECT_EQ(off.fake->calls("list_dag_runs"), 2) << "the failed runs and the recent successes";
}

airflow::Dag scheduled(const std::string& id, int next_min, std::vector<std::string> tags = {},
                       bool paused = false) {
  return airflow::Dag{.dag_id = id,
                      .is_paused = paused,
                      .tags = std::move(tags),
                      .scheduled = true,
                      .timetable = "0 * * * *",
                      .next_run_after = at(next_min),
                      .next_logical_date = at(next_min - 60)};
}

RigOptions fresh(std::vector<config::FreshnessRule> rules, int interval_seconds = 60) {
  RigOptions o = notifying();
  o.watch.freshness.rules = std::move(rules);
  o.watch.freshness.interval_seconds = interval_seconds;
  return o;
}

TEST(WatchFreshness, AScheduledDagWhoseRunIsNotMadeInTimeIsLateUntilTheRunIsMade) {
  Rig r(fresh({config::FreshnessRule{.dag = "etl_*", .grace_minutes = 10}}));
  r.fake->add_dag(scheduled("etl_hourly", -5, {"tier=1"}));
  Watcher w(r.deps, r.outbox);
  CycleReport c0 = w.run_once();
  EXPECT_EQ(c0.envs[0].freshness_checked, 1u);
  EXPECT_TRUE(c0.envs[0].handled.empty()) << "5 min past due, 10 min of grace";

  r.clock->advance(std::chrono::minutes(6));
  CycleReport c1 = w.run_once();
  ASSERT_EQ(c1.envs[0].handled.size(), 1u) << format_cycle(c1);
  const HandledRun& h = c1.envs[0].handled[0];
  EXPECT_EQ(h.kind, "late");
  EXPECT_EQ(h.dag_id, "etl_hourly");
  EXPECT_EQ(h.severity, "sev1");
  EXPECT_TRUE(h.opened);
  const std::string id =
      store::incident_id_for("prod", "etl_hourly", "late:" + ms_to_iso(*iso_to_ms(at(-5))));
  EXPECT_EQ(h.incident_id, id);
  auto inc = r.store->get_incident(id);
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->category, "late");
  auto summary = json::parse(inc->summary_json);
  EXPECT_EQ(summary["late"]["grace_minutes"], 10);
  EXPECT_EQ(summary["late"]["paused"], false);
  auto triggers = r.messages("trigger:");
  ASSERT_EQ(triggers.size(), 2u);
  for (const auto& m : triggers) {
    if (m.kind == "pagerduty") {
      EXPECT_NE(json::parse(m.payload)["payload"]["summary"].get<std::string>().find(
                    "etl_hourly is late in prod"),
                std::string::npos);
    }
  }

  // Still late a minute later: the same incident, nothing new.
  r.clock->advance(std::chrono::minutes(1));
  EXPECT_TRUE(w.run_once().envs[0].handled.empty());
  EXPECT_EQ(r.messages("trigger:").size(), 2u);

  // The scheduler makes the run: the next expected run moves on, the incident is over.
  r.fake->add_dag(scheduled("etl_hourly", 55, {"tier=1"}));
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c3 = w.run_once();
  EXPECT_EQ(c3.envs[0].recovered, std::vector<std::string>{id});
  EXPECT_EQ(state_of(r, id), "recovered");
  EXPECT_EQ(r.messages("resolve:").size(), 2u);
}

TEST(WatchFreshness, RulesSelectTheDagsAndPausedOnesOnlyWhenAsked) {
  Rig r(fresh({config::FreshnessRule{.dag = "*", .tag = "tier=1", .grace_minutes = 0},
               config::FreshnessRule{
                   .dag = "*", .tag = "nightly", .grace_minutes = 0, .include_paused = false}}));
  r.fake->add_dag(scheduled("paused_tier1", -5, {"tier=1"}, /*paused=*/true));
  r.fake->add_dag(scheduled("paused_nightly", -5, {"nightly"}, /*paused=*/true));
  r.fake->add_dag(scheduled("untagged", -5));
  r.fake->add_dag(airflow::Dag{.dag_id = "manual_only", .tags = {"tier=1"}});  // no schedule
  Watcher w(r.deps, r.outbox);
  CycleReport c = w.run_once();
  ASSERT_EQ(c.envs[0].handled.size(), 1u) << format_cycle(c);
  EXPECT_EQ(c.envs[0].handled[0].dag_id, "paused_tier1");
  EXPECT_NE(c.envs[0].handled[0].notes[0].find("the DAG is paused"), std::string::npos);
  EXPECT_EQ(c.envs[0].freshness_checked, 1u);
}

TEST(WatchFreshness, OnePassPerIntervalAndNoneWithoutRules) {
  Rig r(fresh({config::FreshnessRule{.dag = "*"}}, /*interval_seconds=*/300));
  r.fake->add_dag(scheduled("etl", 30));
  Watcher w(r.deps, r.outbox);
  for (int i = 0; i < 10; ++i) {
    w.run_once();
    r.clock->advance(std::chrono::minutes(1));
  }
  EXPECT_EQ(r.fake->calls("list_dags"), 2) << "minutes 0 and 5";

  Rig none;
  none.fake->add_dag(scheduled("etl", -600));
  Watcher w2(none.deps);
  EXPECT_TRUE(w2.run_once().envs[0].handled.empty());
  EXPECT_EQ(none.fake->calls("list_dags"), 0);
}

// A task instance of `dag`/`run` in `state` since t0 + since_min (running: start_date; queued:
// queued_when).
airflow::TaskInstance active(const std::string& dag, const std::string& run,
                             const std::string& task, const std::string& state, int since_min) {
  airflow::TaskInstance t{.dag_id = dag,
                          .run_id = run,
                          .task_id = task,
                          .try_number = 1,
                          .state = state,
                          .hostname = "worker-1"};
  (state == "queued" ? t.queued_at : t.start_date) = at(since_min);
  return t;
}

RigOptions stuck_after(int min_seconds, int max_seconds) {
  RigOptions o = notifying();
  o.watch.stuck.min_seconds = min_seconds;
  o.watch.stuck.max_seconds = max_seconds;
  return o;
}

TEST(WatchStuck, ATaskRunningPastTheLimitIsStuckOnceAndOverWhenItFinishes) {
  Rig r(stuck_after(60, 30 * 60));
  r.fake->add_dag(airflow::Dag{.dag_id = "etl", .tags = {"tier=1"}});
  r.fake->add_run(airflow::DagRun{.dag_id = "etl",
                                  .run_id = "r1",
                                  .state = "running",
                                  .run_after = at(-50),
                                  .start_date = at(-45)});
  r.fake->add_task(active("etl", "r1", "load", "running", -20));
  Watcher w(r.deps, r.outbox);
  CycleReport c0 = w.run_once();
  EXPECT_TRUE(c0.envs[0].handled.empty()) << "20 min of 30";
  EXPECT_EQ(c0.envs[0].stuck_checked, 1u);

  r.clock->advance(std::chrono::minutes(11));
  CycleReport c1 = w.run_once();
  ASSERT_EQ(c1.envs[0].handled.size(), 1u) << format_cycle(c1);
  const HandledRun& h = c1.envs[0].handled[0];
  EXPECT_EQ(h.kind, "stuck");
  EXPECT_EQ(h.first_failing_task, "load");
  EXPECT_EQ(h.severity, "sev1");
  EXPECT_NE(h.notes[0].find("past the limit of 30 min"), std::string::npos) << h.notes[0];
  EXPECT_NE(format_cycle(c1).find("etl / r1 task load is stuck"), std::string::npos);
  auto inc = r.store->get_incident(h.incident_id);
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->category, "stuck");
  EXPECT_EQ(json::parse(inc->summary_json)["stuck"]["hostname"], "worker-1");
  EXPECT_EQ(r.messages("trigger:").size(), 2u);

  r.clock->advance(std::chrono::minutes(1));
  EXPECT_TRUE(w.run_once().envs[0].handled.empty()) << "once per try";

  // It finishes (or is killed): the incident is over.
  r.fake->set_task_state("etl", "r1", "load", "failed");
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c3 = w.run_once();
  EXPECT_EQ(c3.envs[0].recovered, std::vector<std::string>{h.incident_id});
  EXPECT_EQ(r.messages("resolve:").size(), 2u);
}

TEST(WatchStuck, KTimesItsRecentP95AndQueuedTooLong) {
  RigOptions o = stuck_after(60, 0);
  o.watch.stuck.queued_seconds = 600;
  Rig r(o);
  r.fake->add_dag(airflow::Dag{.dag_id = "etl"});
  // Ten recent successes of 60 s each: p95 60 s, stuck after 3 x 60 = 180 s.
  for (int i = 0; i < 10; ++i)
    r.fake->add_task(airflow::TaskInstance{.dag_id = "etl",
                                           .run_id = "old" + std::to_string(i),
                                           .task_id = "load",
                                           .try_number = 1,
                                           .state = "success",
                                           .start_date = at(-600 - i * 60),
                                           .end_date = at(-599 - i * 60),
                                           .duration = 60.0});
  r.fake->add_task(active("etl", "slow", "load", "running", -2));    // 120 s: not yet
  r.fake->add_task(active("etl", "waiting", "load", "queued", -5));  // 300 s of 600
  Watcher w(r.deps);
  EXPECT_TRUE(w.run_once().envs[0].handled.empty());
  r.clock->advance(std::chrono::minutes(2));  // 240 s running, 420 s queued
  CycleReport c = w.run_once();
  ASSERT_EQ(c.envs[0].handled.size(), 1u) << format_cycle(c);
  EXPECT_EQ(c.envs[0].handled[0].run_id, "slow");
  EXPECT_NE(c.envs[0].handled[0].notes[0].find("more than 3 x its p95 of 60 s over 10 recent"),
            std::string::npos)
      << c.envs[0].handled[0].notes[0];
  r.clock->advance(std::chrono::minutes(4));  // queued 660 s
  CycleReport q = w.run_once();
  ASSERT_EQ(q.envs[0].handled.size(), 1u) << format_cycle(q);
  EXPECT_EQ(q.envs[0].handled[0].run_id, "waiting");
  EXPECT_NE(q.envs[0].handled[0].notes[0].find("queued for 11 min"), std::string::npos);
  EXPECT_EQ(r.fake->calls("recent_successes"), 1) << "one read per task, kept an hour";
}

TEST(WatchStuck, DisabledMeansNoCall) {
  RigOptions o;
  o.watch.stuck.enabled = false;
  Rig r(o);
  r.fake->add_task(active("etl", "r1", "load", "running", -600));
  Watcher w(r.deps);
  EXPECT_TRUE(w.run_once().envs[0].handled.empty());
  EXPECT_EQ(r.fake->calls("list_task_instances_in"), 0);
}

airflow::ImportError import_error(long long id, int minute) {
  return airflow::ImportError{
      .id = id,
      .filename = "/opt/airflow/dags/orders.py",
      .timestamp = at(minute),
      .stack_trace =
          "Traceback (most recent call last):\n"
          "  File \"/opt/airflow/dags/orders.py\", line 3, in <module>\n"
          "    import vendor_sdk  # token=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n"
          "ModuleNotFoundError: No module named 'vendor_sdk'\n"};
}

TEST(WatchImportErrors, AnImportErrorIsAnIncidentAnnouncedOnceAndResolvedWhenTheFileImports) {
  Rig r(notifying());
  r.fake->add_import_error(import_error(7, -3));
  Watcher w(r.deps, r.outbox);
  CycleReport c1 = w.run_once();
  ASSERT_TRUE(c1.ok()) << c1.envs[0].error;
  EXPECT_EQ(c1.envs[0].import_errors, 1u);
  ASSERT_EQ(c1.envs[0].handled.size(), 1u);
  const HandledRun& h = c1.envs[0].handled[0];
  EXPECT_EQ(h.kind, "import_error");
  EXPECT_EQ(h.run_id, "/opt/airflow/dags/orders.py");
  EXPECT_TRUE(h.opened);
  EXPECT_EQ(c1.envs[0].opened, 1u);
  auto inc = r.store->get_incident(h.incident_id);
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->state, "open");
  EXPECT_NE(inc->error.find("No module named 'vendor_sdk'"), std::string::npos) << inc->error;
  EXPECT_FALSE(inc->signature.empty());
  auto summary = json::parse(inc->summary_json);
  EXPECT_EQ(summary["kind"], "import_error");
  EXPECT_EQ(summary["import_error"]["id"], 7);
  EXPECT_FALSE(summary["prevention"].get<std::string>().empty());
  EXPECT_EQ(inc->summary_json.find("ghp_abcdef"), std::string::npos) << "redacted";
  auto triggers = r.messages("trigger:");
  ASSERT_EQ(triggers.size(), 2u);
  for (const auto& m : triggers) {
    EXPECT_EQ(m.payload.find("ghp_abcdef"), std::string::npos);
    auto body = json::parse(m.payload);
    if (m.kind == "json") {
      EXPECT_EQ(body["kind"], "import_error");
      EXPECT_EQ(body["run_id"], "/opt/airflow/dags/orders.py");
    } else {
      EXPECT_NE(body["payload"]["summary"].get<std::string>().find("fails to import"),
                std::string::npos);
    }
  }
  EXPECT_NE(format_cycle(c1).find("import error /opt/airflow/dags/orders.py"), std::string::npos);

  // Airflow re-parses the file: the same error (same id) with a newer timestamp -> nothing new.
  r.fake->remove_import_error("/opt/airflow/dags/orders.py");
  r.fake->add_import_error(import_error(7, 0));
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c2 = w.run_once();
  EXPECT_TRUE(c2.envs[0].handled.empty());
  EXPECT_EQ(r.messages("trigger:").size(), 2u);

  // Fixed: the incident recovers, and each target gets a resolve.
  r.fake->remove_import_error("/opt/airflow/dags/orders.py");
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c3 = w.run_once();
  EXPECT_EQ(c3.envs[0].recovered, std::vector<std::string>{h.incident_id});
  EXPECT_EQ(state_of(r, h.incident_id), "recovered");
  EXPECT_EQ(r.messages("resolve:").size(), 2u);

  // Broken again (Airflow gives it a new id): the same incident reopens, with a new trigger.
  r.fake->add_import_error(import_error(9, 3));
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c4 = w.run_once();
  ASSERT_EQ(c4.envs[0].handled.size(), 1u);
  EXPECT_FALSE(c4.envs[0].handled[0].opened);
  EXPECT_EQ(state_of(r, h.incident_id), "open");
  EXPECT_EQ(r.messages("trigger:").size(), 4u);
  EXPECT_EQ(r.incidents(), 1u);
}

TEST(WatchImportErrors, UnreadableImportErrorsAreANoteAndDisabledMeansNoCall) {
  Rig r;
  r.fake->fail("list_import_errors", make_error(Errc::permission_denied, "403 forbidden"));
  Watcher w(r.deps);
  CycleReport c = w.run_once();
  EXPECT_TRUE(c.ok());
  bool noted = false;
  for (const auto& n : c.envs[0].notes) noted |= n.find("import errors could not be read") == 0;
  EXPECT_TRUE(noted) << format_cycle(c);

  RigOptions o;
  o.watch.import_errors = false;
  Rig off(o);
  off.fake->add_import_error(import_error(1, -1));
  Watcher w2(off.deps);
  EXPECT_TRUE(w2.run_once().envs[0].handled.empty());
  EXPECT_EQ(off.fake->calls("list_import_errors"), 0);
}

}  // namespace
}  // namespace dm::watch
