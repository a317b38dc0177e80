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
// Several watchers (watch.lease.enabled; docs/watch.md "Several watchers: leases"): each
// environment has one holder at a time, by a lease in the store. A watcher acquires or renews an
// environment's lease before its cycle, skips the environment when another watcher holds it, and
// puts the lease's fencing token on every write of the environment's watch state (cursor, marks
// with their messages, pruning): a write the store refuses as fenced means another watcher took
// the environment over, and the cycle stops there for it — nothing is lost, the new holder goes
// on from the cursor and handles again what was not marked. Leases are renewed at least every
// ttl/3 by run_loop, and released by release_leases on a clean stop.
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
  // Leases (watch.lease.enabled); none of these is an error, the cycle stays ok:
  // the lease as the cycle left it: this watcher's, or the other holder's (nullopt: leases off,
  // or the lease could not be read: then ok is false).
  std::optional<store::WatchLease> lease;
  bool held_elsewhere = false;  // another watcher holds the environment: skipped, nothing read
  // Another watcher took the environment during the cycle (a write was fenced, or the renewal
  // refused): the cycle stopped there, the cursor and the unmarked runs are the new holder's.
  bool lease_lost = false;
  std::string held_by;  // the other holder, when held_elsewhere or lease_lost
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
  std::optional<store::WatchLease> lease;    // nullopt: never leased (leases off)
  bool lease_live = false;                   // the lease has not expired nor been released
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

// "<hostname>:<pid>": the lease holder name when watch.lease.holder is not set.
std::string default_lease_holder();

class Watcher {
 public:
  // `deps` must outlive the Watcher; its config's `watch:` section and clock are used.
  // With an `outbox` that has targets, each handled run's messages are enqueued in the same
  // store transaction that marks the run (Store::mark_watched_run_and_enqueue), and run_once
  // ends with a delivery pass.
  explicit Watcher(std::shared_ptr<const runbook::Deps> deps,
                   std::shared_ptr<Outbox> outbox = nullptr);

  // One cycle over the watched environments (every one watch.environments does not disable, or
  // the one of restrict_to), then the outbox's delivery pass. Never fails as a whole: each
  // environment's errors are in its report.
  CycleReport run_once();
  // One cycle for one configured environment (enabled or not); no delivery pass. With leases:
  // acquires or renews the environment's lease first, and skips it when another watcher holds it.
  EnvReport run_env(const std::string& env);
  // The outbox's delivery pass (nullopt without an outbox with targets).
  std::optional<DeliveryReport> deliver();
  // From now on, run_once and tend_leases cover only `env` (a configured environment, enabled or
  // not): `dagmedic watch --env`.
  void restrict_to(std::string env);

  // Leases on (watch.lease.enabled).
  bool leases() const;
  // This watcher's name in the lease table (watch.lease.holder, or default_lease_holder()).
  const std::string& lease_holder() const { return holder_; }
  // How often run_loop must renew: ttl / 3 (zero when leases are off).
  std::chrono::milliseconds lease_renew_every() const;
  // Between cycles (run_loop calls it at least every lease_renew_every): renews the leases this
  // watcher holds and tries to acquire the watched environments it does not hold; each
  // environment it acquires (a takeover: its holder stopped renewing, or released it) gets its
  // cycle at once, then a delivery pass. Returns those cycles (none: envs empty). Store errors are
  // left to the next cycle, which reports them.
  CycleReport tend_leases();
  // Releases every lease this watcher holds (a clean stop: another watcher may take the
  // environments at once instead of after the ttl). The first error, after trying every lease.
  Status release_leases();

 private:
  std::vector<std::string> watched() const;
  std::shared_ptr<const runbook::Deps> deps_;
  std::shared_ptr<Outbox> outbox_;
  std::map<std::string, int64_t> freshness_at_;     // env -> when its last freshness pass ran
  std::map<std::string, DurationCache> durations_;  // env -> recent durations (stuck tasks)
  std::optional<std::string> only_;
  std::string holder_;
  std::map<std::string, int64_t, std::less<>> held_;  // env -> token of the lease held
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
// the waiter says stop. Cycles never overlap. With leases, no wait is longer than
// w.lease_renew_every(): between cycles the loop wakes to w.tend_leases(), whose report (when it
// ran an environment it took over) also goes to `on_cycle`.
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
