// Watch mode over a FakeAirflow and a real (in-memory) SQLite store, with a ManualClock: no
// network, no sleeping.
#include "watch/watch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common/iso_time.h"
#include "runbook/triage_incident.h"
#include "watch/testing/watch_rig.h"

namespace dm::watch {
namespace {

using testing::at;
using testing::Rig;
using testing::t0;

TEST(Watch, HandlesEachNewFailureOnceAcrossCyclesAndRestarts) {
  Rig r;
  r.failure("etl_orders", "scheduled__1", -10, {"tier=1"});
  r.failure("etl_users", "scheduled__1", -5);
  r.fake->add_run(airflow::DagRun{.dag_id = "etl_users",
                                  .run_id = "ok__1",
                                  .state = "success",
                                  .run_after = at(-3),
                                  .end_date = at(-2)});
  Watcher w(r.deps);
  CycleReport c = w.run_once();
  ASSERT_EQ(c.envs.size(), 1u);
  const EnvReport& e = c.envs[0];
  ASSERT_TRUE(e.ok) << e.error;
  ASSERT_EQ(e.handled.size(), 2u);
  EXPECT_EQ(e.opened, 2u);
  // Oldest first; the incident is the tools' own (same id, same facts, diagnosed).
  EXPECT_EQ(e.handled[0].dag_id, "etl_orders");
  EXPECT_EQ(e.handled[0].incident_id, store::incident_id_for("prod", "etl_orders", "scheduled__1"));
  EXPECT_EQ(e.handled[0].severity, "sev1");
  EXPECT_EQ(e.handled[0].first_failing_task, "load");
  EXPECT_FALSE(e.handled[0].signature.empty());
  EXPECT_EQ(e.handled[0].signature, e.handled[1].signature) << "one error, one signature";
  auto inc = r.store->get_incident(e.handled[0].incident_id);
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->state, "open");
  EXPECT_EQ(inc->first_failing_task, "load");
  EXPECT_EQ(inc->signature, e.handled[0].signature);
  auto summary = nlohmann::json::parse(inc->summary_json);
  EXPECT_EQ(summary["triage"]["source"], "watch");
  EXPECT_EQ(summary["triage"]["severity"], "sev1");
  EXPECT_EQ(summary["diagnose"]["task_id"], "load");
  // Repeats group by signature: two occurrences of one signature, in two DAGs.
  auto stats = r.store->occurrence_stats({.signature = e.handled[0].signature});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 2);
  EXPECT_EQ(stats->distinct_dags, 2);
  EXPECT_EQ(e.cursor_after_ms, *iso_to_ms(at(-5)));

  // Next cycle: nothing new (both are in the overlap window, both de-duplicated).
  r.clock->advance(std::chrono::minutes(1));
  CycleReport again = w.run_once();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.envs[0].handled.size(), 0u);
  EXPECT_EQ(again.envs[0].already_handled, 2u);
  EXPECT_EQ(r.incidents(), 2u);

  // A new Watcher (a restart) over the same store: still nothing new; a new failure is handled.
  r.failure("etl_orders", "scheduled__2", 0);
  Watcher restarted(r.deps);
  CycleReport third = restarted.run_once();
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third.envs[0].handled.size(), 1u);
  EXPECT_EQ(third.envs[0].handled[0].run_id, "scheduled__2");
  EXPECT_EQ(r.incidents(), 3u);

  auto st = watch_status(*r.deps);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->size(), 1u);
  ASSERT_TRUE((*st)[0].cursor.has_value());
  EXPECT_EQ((*st)[0].cursor->cycles, 3);
  EXPECT_EQ((*st)[0].cursor->incidents_opened, 3);
  EXPECT_EQ((*st)[0].cursor->last_outcome, "ok");
  EXPECT_NE(format_status(*st).find("3 incident(s) opened"), std::string::npos);
}

TEST(Watch, LateWriteInsideTheOverlapIsFound) {
  config::WatchSettings ws;
  ws.overlap_seconds = 600;
  Rig r(ws);
  r.failure("a", "r1", -1);
  Watcher w(r.deps);
  ASSERT_TRUE(w.run_once().ok());
  // A run that ended BEFORE the cursor, but became visible only now (a late write).
  r.failure("b", "late", -8);
  CycleReport c = w.run_once();
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c.envs[0].handled.size(), 1u);
  EXPECT_EQ(c.envs[0].handled[0].run_id, "late");
  EXPECT_EQ(c.envs[0].cursor_after_ms, *iso_to_ms(at(-1))) << "the cursor never moves back";
}

TEST(Watch, ALateWriteOlderThanTheOverlapIsNotFound) {
  // The overlap is the bound on how late a write may be: documented in docs/watch.md.
  config::WatchSettings ws;
  ws.overlap_seconds = 600;
  Rig r(ws);
  r.failure("a", "r1", -1);
  Watcher w(r.deps);
  ASSERT_TRUE(w.run_once().ok());
  r.failure("b", "too_late", -12);  // ended 11 min before the cursor
  r.failure("c", "in_time", -10);   // ended 9 min before the cursor
  CycleReport c = w.run_once();
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c.envs[0].handled.size(), 1u);
  EXPECT_EQ(c.envs[0].handled[0].run_id, "in_time");
}

TEST(Watch, ARunThatFailsAgainAfterAClearIsANewFailureOfTheSameIncident) {
  Rig r;
  r.failure("a", "r1", -20);
  Watcher w(r.deps);
  CycleReport c1 = w.run_once();
  ASSERT_EQ(c1.envs[0].handled.size(), 1u);
  const std::string incident = c1.envs[0].handled[0].incident_id;
  // Cleared and failed again: the same run, a newer end_date.
  auto run = r.fake->get_dag_run("a", "r1");
  ASSERT_TRUE(run.ok());
  run->end_date = at(-2);
  r.fake->update_run(*run);
  r.clock->advance(std::chrono::minutes(1));
  CycleReport c2 = w.run_once();
  ASSERT_TRUE(c2.ok()) << c2.envs[0].error;
  ASSERT_EQ(c2.envs[0].handled.size(), 1u);
  EXPECT_EQ(c2.envs[0].handled[0].run_id, "r1");
  EXPECT_FALSE(c2.envs[0].handled[0].opened);
  EXPECT_EQ(c2.envs[0].handled[0].incident_id, incident);
  EXPECT_EQ(c2.envs[0].opened, 0u);
  EXPECT_EQ(c2.envs[0].cursor_after_ms, *iso_to_ms(at(-2)));
  // Once: the next cycles see it as handled.
  for (int i = 0; i < 3; ++i) {
    r.clock->advance(std::chrono::minutes(1));
    CycleReport again = w.run_once();
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.envs[0].handled.size(), 0u) << "cycle " << i;
    EXPECT_EQ(again.envs[0].already_handled, 1u);
  }
  EXPECT_EQ(r.incidents(), 1u);
}

TEST(Watch, InitialLookbackBoundsTheFirstCycle) {
  config::WatchSettings ws;
  ws.initial_lookback_minutes = 30;
  Rig r(ws);
  r.failure("old", "r", -45);
  r.failure("new", "r", -15);
  Watcher w(r.deps);
  CycleReport c = w.run_once();
  ASSERT_EQ(c.envs[0].handled.size(), 1u);
  EXPECT_EQ(c.envs[0].handled[0].dag_id, "new");
}

TEST(Watch, AirflowDownKeepsTheCursorAndLosesNothing) {
  config::WatchSettings ws;
  ws.failed_runs_in_a_row = 0;  // three failures of one DAG: only the failed runs matter here
  Rig r(ws);
  r.failure("a", "r1", -20);
  Watcher w(r.deps);
  ASSERT_TRUE(w.run_once().ok());
  const int64_t cursor = *iso_to_ms(at(-20));

  r.failure("a", "r2", -10);
  r.fake->fail("list_dag_runs", make_error(Errc::unavailable, "Airflow refused the connection"));
  r.clock->advance(std::chrono::minutes(1));
  CycleReport down = w.run_once();
  EXPECT_FALSE(down.ok());
  EXPECT_NE(down.envs[0].error.find("refused the connection"), std::string::npos);
  EXPECT_EQ(down.envs[0].cursor_after_ms, cursor);
  EXPECT_NE(format_cycle(down).find("prod: error:"), std::string::npos);
  auto row = r.store->get_watch_cursor("prod");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->cursor_ms, cursor);
  EXPECT_EQ((*row)->last_outcome, "error");

  // Down in the middle of handling (the log read): the run is not marked, the cursor stays
  // before it, and the next cycle handles it.
  r.fake->clear_fault("list_dag_runs");
  r.failure("a", "r3", -5);
  r.fake->fail("read_task_log", make_error(Errc::timeout, "Airflow timed out"));
  CycleReport mid = w.run_once();
  EXPECT_FALSE(mid.ok());
  EXPECT_EQ(mid.envs[0].handled.size(), 0u);
  EXPECT_EQ(mid.envs[0].deferred, 2u);
  EXPECT_LT(mid.envs[0].cursor_after_ms, *iso_to_ms(at(-10)) + 1);

  r.fake->clear_fault("read_task_log");
  CycleReport back = w.run_once();
  ASSERT_TRUE(back.ok()) << back.envs[0].error;
  ASSERT_EQ(back.envs[0].handled.size(), 2u);
  EXPECT_EQ(back.envs[0].handled[0].run_id, "r2");
  EXPECT_FALSE(back.envs[0].handled[0].signature.empty()) << "diagnosed once Airflow was back";
  EXPECT_EQ(back.envs[0].opened, 2u) << "nothing was written while Airflow was away";
  EXPECT_EQ(back.envs[0].handled[1].run_id, "r3");
  EXPECT_EQ(back.envs[0].cursor_after_ms, *iso_to_ms(at(-5)));
}

TEST(Watch, CapDefersTheNewestAndTheCursorStopsBeforeThem) {
  config::WatchSettings ws;
  ws.max_runs_per_cycle = 2;
  Rig r(ws);
  for (int i = 0; i < 5; ++i) r.failure("d" + std::to_string(i), "r", -50 + i);
  Watcher w(r.deps);
  CycleReport c1 = w.run_once();
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1.envs[0].handled.size(), 2u);
  EXPECT_EQ(c1.envs[0].deferred, 3u);
  EXPECT_EQ(c1.envs[0].handled[0].dag_id, "d0");
  CycleReport c2 = w.run_once();
  CycleReport c3 = w.run_once();
  EXPECT_EQ(c2.envs[0].handled.size(), 2u);
  EXPECT_EQ(c3.envs[0].handled.size(), 1u);
  EXPECT_EQ(c3.envs[0].handled[0].dag_id, "d4");
  EXPECT_EQ(r.incidents(), 5u);
}

TEST(Watch, DisabledEnvironmentIsNotWatched) {
  config::WatchSettings ws;
  ws.environments["prod"].enabled = false;
  Rig r(ws);
  r.failure("a", "r", -1);
  Watcher w(r.deps);
  CycleReport c = w.run_once();
  EXPECT_TRUE(c.envs.empty());
  EXPECT_EQ(r.fake->requests(), 0);
  auto st = watch_status(*r.deps);
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE((*st)[0].enabled);
  EXPECT_NE(format_status(*st).find("prod (disabled): never watched"), std::string::npos);
}

TEST(Watch, AnIncidentATriageToolOpenedIsUpdatedNotOpenedAgain) {
  Rig r;
  r.failure("a", "r", -1);
  // As get_run_summary would have (runbook/triage_incident.h).
  auto run = r.fake->get_dag_run("a", "r");
  ASSERT_TRUE(run.ok());
  auto id = runbook::open_incident(*r.deps, "prod", *run, "load", {{"source", "get_run_summary"}});
  ASSERT_TRUE(id.ok());
  Watcher w(r.deps);
  CycleReport c = w.run_once();
  ASSERT_EQ(c.envs[0].handled.size(), 1u);
  EXPECT_FALSE(c.envs[0].handled[0].opened);
  EXPECT_EQ(c.envs[0].handled[0].incident_id, *id);
  EXPECT_EQ(c.envs[0].opened, 0u);
  EXPECT_EQ(r.incidents(), 1u);
}

// The loop: cycles every interval on the injected clock, stops when the waiter says so.
class CountingWaiter final : public Waiter {
 public:
  CountingWaiter(ManualClock& c, int cycles) : clock_(c), left_(cycles) {}
  bool wait_until(Clock::time_point t) override {
    waits.push_back(t);
    if (--left_ <= 0) return false;
    if (t > clock_.now()) clock_.advance(t - clock_.now());
    return true;
  }
  std::vector<Clock::time_point> waits;

 private:
  ManualClock& clock_;
  int left_;
};

TEST(Watch, LoopRunsEveryIntervalUntilStopped) {
  config::WatchSettings ws;
  ws.interval_seconds = 60;
  Rig r(ws);
  r.failure("a", "r", -1);
  Watcher w(r.deps);
  CountingWaiter waiter(*r.clock, 3);
  std::vector<std::size_t> handled;
  run_loop(w, *r.deps, waiter, [&](const CycleReport& c) {
    handled.push_back(c.envs[0].handled.size());
    if (handled.size() == 2) r.failure("b", "r", 1);  // fails during the second interval
  });
  EXPECT_EQ(handled, (std::vector<std::size_t>{1, 0, 1}));
  ASSERT_EQ(waiter.waits.size(), 3u);
  EXPECT_EQ(waiter.waits[0], t0() + std::chrono::seconds(60));
  EXPECT_EQ(waiter.waits[1], t0() + std::chrono::seconds(120));
}

// The cost: Airflow requests per cycle grow with NEW failures, not with DAGs or runs.
struct Cost {
  int first = 0, second = 0;
};
Cost cost_of_cycles(int dags, int runs_per_dag, int new_failures) {
  Rig r;
  for (int d = 0; d < dags; ++d) {
    char name[32];
    std::snprintf(name, sizeof name, "dag_%04d", d);
    r.fake->add_dag(airflow::Dag{.dag_id = name});
    for (int i = 0; i < runs_per_dag; ++i) {
      // History: ended more than a day ago, every 10th one failed.
      const int end = -2 * 24 * 60 - (i * 7 + d % 7);
      r.fake->add_run(airflow::DagRun{.dag_id = name,
                                      .run_id = "scheduled__" + std::to_string(i),
                                      .state = i % 10 == 0 ? "failed" : "success",
                                      .run_after = at(end - 5),
                                      .end_date = at(end)});
    }
  }
  for (int k = 0; k < new_failures; ++k)
    r.failure("dag_" + std::to_string(k % 10), "manual__" + std::to_string(k), -30 + k % 20);
  Watcher w(r.deps);
  Cost c;
  CycleReport one = w.run_once();
  EXPECT_TRUE(one.ok());
  EXPECT_EQ(std::count_if(one.envs[0].handled.begin(), one.envs[0].handled.end(),
                          [](const HandledRun& h) { return h.kind == "dag_run"; }),
            new_failures);
  c.first = r.fake->requests();
  r.clock->advance(std::chrono::minutes(1));
  CycleReport two = w.run_once();
  EXPECT_TRUE(two.ok());
  EXPECT_EQ(two.envs[0].handled.size(), 0u);
  c.second = r.fake->requests() - c.first;
  return c;
}

TEST(WatchCost, ThousandDagsHundredThousandRunsCostWhatTenDagsDo) {
  const Cost small = cost_of_cycles(10, 10, 5);
  const Cost big = cost_of_cycles(1000, 100, 5);
  // 1 listing of failed runs + 3 per new failure (task instances, DAG tags, the failed try's
  // log) + 1 per DAG that failed (its last runs: failed N in a row?), 1 listing of running and
  // queued tasks (stuck?), 1 of recent successes (recovery), 1 of import errors. No incident's
  // DAG ran again: no recovery check.
  EXPECT_EQ(big.first, 1 + 3 * 5 + 5 + 3);
  EXPECT_EQ(big.second, 1 + 3);
  EXPECT_EQ(small.first, big.first);
  EXPECT_EQ(small.second, big.second);
  std::printf(
      "watch cost: 1000 DAGs / 100000 runs / 5 new failures: %d requests (1st cycle), "
      "%d (2nd cycle); 10 DAGs / 100 runs: %d, %d\n",
      big.first, big.second, small.first, small.second);
  // And with more new failures the cost grows with them: 50 new in 10 DAGs -> 1 + 3 * 50 + 10 + 3.
  const Cost more = cost_of_cycles(1000, 100, 50);
  EXPECT_EQ(more.first, 1 + 3 * 50 + 10 + 3);
  EXPECT_EQ(more.second, 4);
}

}  // namespace
}  // namespace dm::watch
