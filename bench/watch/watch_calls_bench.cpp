// watch-calls-bench: Airflow requests per watch cycle against the number of DAGs (issue 15's cost
// goal: they grow with NEW failures, not with DAGs or runs). For each DAG count it builds a fast
// in-memory Airflow double (runbook/testing/fake_airflow.h: every call counted, and a list of runs
// counted as one request per page of 100, as the REST client pages) holding `dags` DAGs with
// `runs` runs each (every 10th one failed, all ended more than a day ago), runs a real
// watch::Watcher over an in-memory SQLite store and a manual clock, and prints one JSON line per
// cycle:
//   cycle 1: 3 new failures      (the first cycle of the environment)
//   cycle 2: nothing new         (the 3 are inside the overlap window: de-duplicated)
//   cycle 3: 3 more new failures
//   cycle 4: nothing new
// with the requests of the cycle, split into listings (list_dag_runs), and per-run reads
// (list_task_instances, get_dag, read_task_log), the cycle's wall time, and the double's size.
//   watch-calls-bench [runs_per_dag=100] [dag counts…=100 1000 10000]
// The wall time is mostly the double scanning its runs in memory; the figure that matters is the
// request count. Never run by tests.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/iso_time.h"
#include "runbook/testing/fake_airflow.h"
#include "store/sqlite_store.h"
#include "watch/watch.h"

using namespace dm;
using runbook::testing::FakeAirflow;
using runbook::testing::FakeProvider;

namespace {

Clock::time_point t0() { return *parse_iso8601("2026-11-26T12:00:00Z"); }
std::string at(int minutes) { return format_iso8601(t0() + std::chrono::minutes(minutes)); }

constexpr const char* kLog =
    "Traceback (most recent call last):\n"
    "  File \"/opt/airflow/dags/etl.py\", line 12, in load\n"
    "FileNotFoundError: s3://lake/orders/dt=2026-11-26 does not exist\n";

void fail_now(FakeAirflow& f, const std::string& dag, const std::string& run, int end_min) {
  f.add_run(airflow::DagRun{.dag_id = dag,
                            .run_id = run,
                            .state = "failed",
                            .run_type = "manual",
                            .run_after = at(end_min - 5),
                            .start_date = at(end_min - 5),
                            .end_date = at(end_min)});
  f.add_task(airflow::TaskInstance{.dag_id = dag,
                                   .run_id = run,
                                   .task_id = "load",
                                   .try_number = 1,
                                   .state = "failed",
                                   .end_date = at(end_min)});
  f.set_log(dag, run, "load", 1, kLog);
}

struct Counts {
  int requests = 0, list = 0, per_run = 0;
};
Counts counts(const FakeAirflow& f) {
  return Counts{f.requests(), f.calls("list_dag_runs"),
                f.calls("list_task_instances") + f.calls("get_dag") + f.calls("read_task_log")};
}

int bench(int dags, int runs_per_dag) {
  auto fake = std::make_shared<FakeAirflow>("prod");
  auto clock = std::make_shared<ManualClock>(t0());
  for (int d = 0; d < dags; ++d) {
    const std::string name = "dag_" + std::to_string(d);
    fake->add_dag(airflow::Dag{.dag_id = name, .tags = {"tier=2"}});
    for (int i = 0; i < runs_per_dag; ++i) {
      const int end = -2 * 24 * 60 - i * 60 - d % 60;
      fake->add_run(airflow::DagRun{.dag_id = name,
                                    .run_id = "scheduled__" + std::to_string(i),
                                    .state = i % 10 == 0 ? "failed" : "success",
                                    .run_type = "scheduled",
                                    .run_after = at(end - 5),
                                    .end_date = at(end)});
    }
  }
  auto st = store::open_sqlite_store({.path = ":memory:"});
  if (!st) {
    std::fprintf(stderr, "store: %s\n", st.error().message.c_str());
    return 1;
  }
  auto provider = std::make_shared<FakeProvider>(std::vector<std::shared_ptr<FakeAirflow>>{fake});
  config::Config cfg = provider->config();
  runbook::DepsOverrides ov{.clock = clock, .clients = provider, .store = std::move(*st)};
  ov.audit_key = std::string(64, 'k');
  auto deps = runbook::make_deps(std::move(cfg), std::move(ov));
  if (!deps) {
    std::fprintf(stderr, "deps: %s\n", deps.error().message.c_str());
    return 1;
  }
  watch::Watcher w(*deps);
  const int new_per_cycle[] = {3, 0, 3, 0};
  int k = 0;
  for (int cycle = 1; cycle <= 4; ++cycle) {
    for (int n = 0; n < new_per_cycle[cycle - 1]; ++n, ++k)
      fail_now(*fake, "dag_" + std::to_string((k * 7919) % dags), "manual__" + std::to_string(k),
               -3 + n);
    const Counts before = counts(*fake);
    const auto t = std::chrono::steady_clock::now();
    watch::CycleReport c = w.run_once();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
    const Counts after = counts(*fake);
    if (c.envs.size() != 1 || !c.envs[0].ok) {
      std::fprintf(stderr, "cycle %d failed: %s\n", cycle,
                   c.envs.empty() ? "no environment" : c.envs[0].error.c_str());
      return 1;
    }
    std::printf(
        "{\"dags\": %d, \"runs\": %lld, \"cycle\": %d, \"new_failures\": %zu, "
        "\"listed\": %zu, \"already_handled\": %zu, \"airflow_requests\": %d, "
        "\"list_dag_runs\": %d, \"per_run_reads\": %d, \"cycle_ms\": %.1f}\n",
        dags, static_cast<long long>(dags) * runs_per_dag, cycle, c.envs[0].handled.size(),
        c.envs[0].listed, c.envs[0].already_handled, after.requests - before.requests,
        after.list - before.list, after.per_run - before.per_run, ms);
    std::fflush(stdout);
    clock->advance(std::chrono::minutes(1));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 100;
  std::vector<int> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {100, 1000, 10000};
  if (runs < 0) return 2;
  for (int d : sizes) {
    if (d <= 0) return 2;
    if (int rc = bench(d, runs); rc != 0) return rc;
  }
  return 0;
}
