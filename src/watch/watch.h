// Watch mode (docs/watch.md): for each enabled environment, find the failed DAG runs that ended
// since a durable cursor (minus an overlap window for late writes), skip the ones handled before
// (de-duplication by (env, dag_id, run_id), kept in the store), and handle each new one with the
// runbook's logic (runbook/failure.h: triage, diagnosis of the first failing try, the incident,
// the occurrence). Then (watch/followup.h) check open incidents for recovery, turn import errors
// into incidents, and enqueue resolve messages. `dagmedic watch` runs cycles in a loop; `--once`
// one cycle.
//
// Cost: one list_dag_runs (state=failed, end_date_gte) per environment per cycle, whose pages
// grow with the failures in [cursor − overlap, now]; then a constant number of calls per NEW
// failure (runbook/failure.h); one list_import_errors; one listing of the successful runs that
// ended since the last cycle, and check_recovery's few calls for each open incident whose DAG ran
// again (at most watch.recovery_checks_per_cycle). Nothing lists DAGs, or old runs.
//
// Guarantees: a run is handled at least once, and marked handled only after its incident and
// diagnosis are recorded; the cursor never passes a failed run that was not handled; handling is
// idempotent (same incident id, occurrences unique), so a crash between the two only repeats
// work. Airflow or the store down: that environment's cycle reports the error and keeps its cursor.
// Not thread-safe per Watcher; one cycle at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "runbook/deps.h"
#include "store/store.h"
#include "watch/outbox.h"

namespace dm::watch {

// One new failure a cycle handled: a failed run, or a DAG file that fails to import.
struct HandledRun {
  std::string kind = "dag_run";          // dag_run | import_error (run_id: the file; dag_id "")
  std::string dag_id, run_id, end_date;  // end_date as Airflow sent it (import error: its time)
  std::string incident_id;
  bool opened = false;  // the incident is new (not opened by a tool or an earlier cycle)
  std::string first_failing_task, severity, signature, category;
  std::vector<std::string> notes;
  int first_failing_map_index = -1;  // -1 when the first failing task is not mapped
};

// What one cycle did for one environment.
struct EnvReport {
  std::string env;
  bool ok = true;
  std::string error;                // why the cycle failed for this environment (ok == false)
  std::size_t listed = 0;           // failed runs Airflow returned for [cursor − overlap, …)
  std::size_t already_handled = 0;  // of those, handled by an earlier cycle
  std::size_t deferred = 0;         // new ones left for the next cycle (cap or error)
  std::size_t opened = 0;           // incidents opened
  int64_t cursor_before_ms = 0, cursor_after_ms = 0;
  int64_t pruned = 0;  // handled-run rows forgotten (behind the cursor by more than the overlap)
  std::vector<HandledRun> handled;                // failed runs, then new import errors
  std::size_t recovery_checked = 0;               // open incidents checked for recovery
  std::vector<std::string> recovered, escalated;  // incidents this cycle moved to that state
  std::size_t import_errors = 0;                  // DAG files Airflow lists as failing to import
  std::size_t freshness_checked = 0;  // scheduled DAGs a freshness rule selects (0: no pass)
  std::size_t stuck_checked = 0;      // running tries old enough to be compared with their p95
  std::size_t resolves = 0;           // resolve messages enqueued (new ones)
  std::vector<std::string> notes;
};

struct CycleReport {
  std::vector<EnvReport> envs;  // the enabled environments, in config order
  // The outbox's delivery pass after the environments (nullopt: no notify target configured).
  std::optional<DeliveryReport> delivery;
  // Every environment was read (an environment with an error makes it false).
  bool ok() const;
};

// One environment's row for `dagmedic watch status`.
struct EnvStatus {
  std::string env;
  bool enabled = true;
  std::optional<store::WatchCursor> cursor;  // nullopt: never watched
};

// A task's recent successful durations (for stuck tasks): their p95 (seconds; nullopt under 5
// samples), how many, and when they were read (dagmedic's clock; 0 = never). Keyed by
// (dag_id, task_id).
struct DurationStats {
  std::optional<double> p95;
  std::size_t samples = 0;
  int64_t read_at_ms = 0;
};
using DurationCache = std::map<std::pair<std::string, std::string>, DurationStats>;

class Watcher {
 public:
  // `deps` must outlive the Watcher; its config's `watch:` section and clock are used.
  // With an `outbox` that has targets, each handled run's messages are enqueued in the same
  // store transaction that marks the run (Store::mark_watched_run_and_enqueue), and run_once
  // ends with a delivery pass.
  explicit Watcher(std::shared_ptr<const runbook::Deps> deps,
                   std::shared_ptr<Outbox> outbox = nullptr);

  // One cycle over every environment watch.environments does not disable, then the outbox's
  // delivery pass. Never fails as a whole: each environment's errors are in its report.
  CycleReport run_once();
  // One cycle for one configured environment (enabled or not); no delivery pass.
  EnvReport run_env(const std::string& env);
  // The outbox's delivery pass (nullopt without an outbox with targets).
  std::optional<DeliveryReport> deliver();

 private:
  std::shared_ptr<const runbook::Deps> deps_;
  std::shared_ptr<Outbox> outbox_;
  std::map<std::string, int64_t> freshness_at_;     // env -> when its last freshness pass ran
  std::map<std::string, DurationCache> durations_;  // env -> recent durations (stuck tasks)
};

// What the loop waits with. wait_until returns false when the loop must stop (a signal, a test's
// budget) instead of waiting longer.
class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual bool wait_until(Clock::time_point t) = 0;
};

// Runs a cycle, hands its report to `on_cycle`, waits until the next start (the previous start +
// watch.interval_seconds; a cycle longer than the interval is followed at once), and again, until
// the waiter says stop. Cycles never overlap.
void run_loop(Watcher& w, const runbook::Deps& deps, Waiter& waiter,
              const std::function<void(const CycleReport&)>& on_cycle);

// Every configured environment with its cursor row. Errors: the store's.
Result<std::vector<EnvStatus>> watch_status(const runbook::Deps& deps);

// Human-readable lines: a cycle (one line per environment, one per handled run) and the status.
std::string format_cycle(const CycleReport& c);
std::string format_status(const std::vector<EnvStatus>& s);
// The JSON form of both (`--json`).
nlohmann::json cycle_json(const CycleReport& c);
nlohmann::json status_json(const std::vector<EnvStatus>& s);

}  // namespace dm::watch
