// Test-only (included by *_test.cpp): Deps over a FakeAirflow environment "prod" holding one failed
// run (dag "etl", run "r1", task "load" failed with a FileNotFoundError log), an in-memory SQLite
// store and a ManualClock ten minutes after the failure. For tests of what runs the watch loop.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/iso_time.h"
#include "runbook/deps.h"
#include "runbook/testing/fake_airflow.h"
#include "store/sqlite_store.h"

namespace dm::watch::testing {

struct OneFailure {
  std::shared_ptr<runbook::testing::FakeAirflow> fake =
      std::make_shared<runbook::testing::FakeAirflow>("prod");
  std::shared_ptr<ManualClock> clock =
      std::make_shared<ManualClock>(*parse_iso8601("2026-11-26T12:10:00Z"));
  std::shared_ptr<runbook::Deps> deps;

  explicit OneFailure(int interval_seconds = 3600) {
    fake->add_dag(airflow::Dag{.dag_id = "etl"});
    fake->add_run(airflow::DagRun{.dag_id = "etl",
                                  .run_id = "r1",
                                  .state = "failed",
                                  .run_type = "scheduled",
                                  .start_date = "2026-11-26T11:55:00.000000+00:00",
                                  .end_date = "2026-11-26T12:00:00.000000+00:00"});
    fake->add_task(airflow::TaskInstance{.dag_id = "etl",
                                         .run_id = "r1",
                                         .task_id = "load",
                                         .try_number = 1,
                                         .state = "failed",
                                         .start_date = "2026-11-26T11:56:00.000000+00:00",
                                         .end_date = "2026-11-26T12:00:00.000000+00:00"});
    fake->set_log("etl", "r1", "load", 1,
                  "Traceback (most recent call last):\n"
                  "  File \"/opt/airflow/dags/etl.py\", line 12, in load\n"
                  "FileNotFoundError: s3://lake/orders/dt=2026-11-26 does not exist\n");
    auto s = store::open_sqlite_store({.path = ":memory:"});
    EXPECT_TRUE(s.ok());
    auto provider = std::make_shared<runbook::testing::FakeProvider>(
        std::vector<std::shared_ptr<runbook::testing::FakeAirflow>>{fake});
    config::Config cfg = provider->config();
    cfg.watch.interval_seconds = interval_seconds;
    runbook::DepsOverrides ov{
        .clock = clock, .clients = provider, .store = std::shared_ptr<store::Store>(std::move(*s))};
    ov.audit_key = std::string(64, 'k');
    auto d = runbook::make_deps(std::move(cfg), std::move(ov));
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    deps = std::move(*d);
  }
};

}  // namespace dm::watch::testing
