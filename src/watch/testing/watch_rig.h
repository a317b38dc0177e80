// Test-only (included by *_test.cpp): a watcher's world without network or sleeping — a
// FakeAirflow environment "prod", an in-memory SQLite store, a ManualClock at t0(), and, when
// notify targets are given, an Outbox whose HTTP seam is a FakeHttpClient answering 200.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/iso_time.h"
#include "http/fake_http_client.h"
#include "runbook/deps.h"
#include "runbook/testing/fake_airflow.h"
#include "store/sqlite_store.h"
#include "watch/outbox.h"

namespace dm::watch::testing {

inline Clock::time_point t0() { return *parse_iso8601("2026-11-26T12:00:00Z"); }
// Airflow's form of t0() + `minutes`.
inline std::string at(int minutes) {
  std::string z = format_iso8601(t0() + std::chrono::minutes(minutes));
  return z.substr(0, z.size() - 1) + ".000000+00:00";
}

inline constexpr const char* kLog =
    "[2026-11-26T11:50:00] INFO - Running load\n"
    "Traceback (most recent call last):\n"
    "  File \"/opt/airflow/dags/etl.py\", line 12, in load\n"
    "    raise FileNotFoundError(\"s3://lake/orders/dt=2026-11-26 does not exist\")\n"
    "FileNotFoundError: s3://lake/orders/dt=2026-11-26 does not exist\n";

struct RigOptions {
  config::WatchSettings watch{};
  std::vector<config::NotifyTarget> targets{};  // none: no outbox
  std::vector<config::RecoveryRule> recovery{};
  // The approval page of an approval id (OutboxDeps::approval_url); unset: no approval links.
  std::function<std::string(const std::string&)> approval_page{};
};

struct Rig {
  std::shared_ptr<runbook::testing::FakeAirflow> fake =
      std::make_shared<runbook::testing::FakeAirflow>("prod");
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(t0());
  std::shared_ptr<store::Store> store;
  std::shared_ptr<runbook::Deps> deps;
  std::shared_ptr<http::FakeHttpClient> http = std::make_shared<http::FakeHttpClient>();
  std::shared_ptr<Outbox> outbox;  // null without targets
  std::shared_ptr<runbook::testing::FakeProvider> provider;
  std::function<std::string(const std::string&)> approval_page;

  explicit Rig(config::WatchSettings ws = {}) : Rig(RigOptions{.watch = std::move(ws)}) {}
  explicit Rig(RigOptions o) {
    auto s = store::open_sqlite_store({.path = ":memory:"});
    EXPECT_TRUE(s.ok());
    store = std::move(*s);
    provider = std::make_shared<runbook::testing::FakeProvider>(
        std::vector<std::shared_ptr<runbook::testing::FakeAirflow>>{fake});
    config::Config cfg = provider->config();
    cfg.watch = std::move(o.watch);
    cfg.notify.targets = std::move(o.targets);
    cfg.recovery = std::move(o.recovery);
    approval_page = std::move(o.approval_page);
    runbook::DepsOverrides ov{.clock = clock, .clients = provider, .store = store};
    ov.audit_key = std::string(64, 'k');
    auto d = runbook::make_deps(std::move(cfg), std::move(ov));
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    deps = std::move(*d);
    if (!deps->config.notify.targets.empty()) {
      http->set_handler([](const http::Request&) { return http::FakeHttpClient::ok(200, "ok"); });
      outbox = outbox_for(*deps);
    }
  }

  // The Deps of another watcher in the same world (the same Airflow, clock and notify targets)
  // with watch settings of its own (e.g. another lease holder), on `st` (default: the rig's
  // store; e.g. a wrapper of it).
  std::shared_ptr<runbook::Deps> deps_with(config::WatchSettings ws,
                                           std::shared_ptr<store::Store> st = nullptr) const {
    config::Config cfg = deps->config;
    cfg.watch = std::move(ws);
    runbook::DepsOverrides ov{.clock = clock, .clients = provider, .store = st ? st : store};
    ov.audit_key = std::string(64, 'k');
    auto d = runbook::make_deps(std::move(cfg), std::move(ov));
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    return d.ok() ? *d : nullptr;
  }
  // An Outbox for `d`'s notify targets on the rig's FakeHttpClient (null without targets).
  std::shared_ptr<Outbox> outbox_for(const runbook::Deps& d) const {
    if (d.config.notify.targets.empty()) return nullptr;
    OutboxDeps od{http, clock,
                  [](const std::string&) -> Result<std::string> { return std::string("k"); },
                  [] { return 0.5; }, approval_page};
    return std::make_shared<Outbox>(d.config.notify, d.redactor, od);
  }

  // A failed run of `dag` that ended at t0 + end_min, whose task "load" failed with kLog.
  void failure(const std::string& dag, const std::string& run, int end_min,
               const std::vector<std::string>& tags = {}) {
    fake->add_dag(airflow::Dag{.dag_id = dag, .tags = tags});
    fake->add_run(airflow::DagRun{.dag_id = dag,
                                  .run_id = run,
                                  .state = "failed",
                                  .run_type = "scheduled",
                                  .logical_date = at(end_min - 5),
                                  .run_after = at(end_min - 5),
                                  .start_date = at(end_min - 5),
                                  .end_date = at(end_min)});
    fake->add_task(airflow::TaskInstance{.dag_id = dag,
                                         .run_id = run,
                                         .task_id = "load",
                                         .try_number = 1,
                                         .state = "failed",
                                         .start_date = at(end_min - 4),
                                         .end_date = at(end_min)});
    fake->add_task(airflow::TaskInstance{.dag_id = dag,
                                         .run_id = run,
                                         .task_id = "publish",
                                         .state = "upstream_failed",
                                         .start_date = at(end_min),
                                         .end_date = at(end_min)});
    fake->set_log(dag, run, "load", 1, kLog);
  }

  // A successful run of `dag` that ended at t0 + end_min (tasks load and publish succeeded).
  void success(const std::string& dag, const std::string& run, int end_min) {
    fake->add_run(airflow::DagRun{.dag_id = dag,
                                  .run_id = run,
                                  .state = "success",
                                  .run_type = "scheduled",
                                  .logical_date = at(end_min - 5),
                                  .run_after = at(end_min - 5),
                                  .start_date = at(end_min - 5),
                                  .end_date = at(end_min)});
    for (const char* task : {"load", "publish"})
      fake->add_task(airflow::TaskInstance{.dag_id = dag,
                                           .run_id = run,
                                           .task_id = task,
                                           .try_number = 1,
                                           .state = "success",
                                           .start_date = at(end_min - 4),
                                           .end_date = at(end_min)});
  }

  std::size_t incidents() {
    auto l = store->list_incidents({}, 100000);
    EXPECT_TRUE(l.ok());
    return l.ok() ? l->size() : 0;
  }

  // Outbox rows (any state) whose event starts with `prefix`.
  std::vector<store::OutboxMessage> messages(const std::string& prefix = "") {
    auto l = store->list_outbox("", 100000);
    EXPECT_TRUE(l.ok());
    std::vector<store::OutboxMessage> out;
    if (l.ok())
      for (auto& m : *l)
        if (m.event.starts_with(prefix)) out.push_back(std::move(m));
    return out;
  }
};

// A notify target of `kind` whose URL the rig's FakeHttpClient answers.
inline config::NotifyTarget fake_target(const std::string& name, const std::string& kind,
                                        int max_attempts = 3) {
  config::NotifyTarget t;
  t.name = name;
  t.kind = kind;
  t.url = "http://receiver.invalid/" + name;
  if (kind == "json") t.secret_env = "HOOK_KEY";
  if (kind == "pagerduty") t.routing_key_env = "PD_KEY";
  t.timeout_seconds = 2;
  t.max_attempts = max_attempts;
  return t;
}

}  // namespace dm::watch::testing
