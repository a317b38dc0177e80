// The parts of a watch cycle that come after the new failed runs (docs/watch.md "Recovery and
// resolves", "Import errors"), per environment:
//  - check_recoveries: the open and escalated incidents of failed runs whose DAG ran again —
//    a success that ended since `since_ms` (one listing of successful runs), or a failure this
//    cycle handled — or whose recheck time came (a quiet period ending, a check left for later),
//    checked with check_recovery_rules' own logic (runbook/recovery.h), oldest first, at most
//    watch.recovery_checks_per_cycle of them; the rest get a recheck time of now on the incident
//    (summary_json "watch.recheck_after"), so nothing depends on this process's memory.
//  - watch_streaks: a DAG whose last N finished runs all failed is an incident of its own.
//  - watch_freshness: a scheduled DAG whose next run was not made in time is late.
//  - watch_stuck: a task running or queued far longer than usual is stuck.
//  - watch_import_errors: one list_import_errors; a DAG file that fails to import opens an
//    incident of kind import_error (and its trigger messages); one that imports again moves its
//    incident to recovered.
//  - enqueue_resolves: every incident of the environment that is recovered and was updated since
//    `since_ms` (the watcher's check, check_recovery_rules called by someone, an import error
//    gone) gets one resolve message per target. The idempotency key (incident, resolve:<its
//    failure>, target) makes this safe to repeat every cycle.
// Errors are in the report (notes), never thrown; Airflow or the store failing here never moves
// the cursor of the failed-run listing, nor loses a message (a later cycle does it again).
// Not thread-safe: called by one Watcher's cycle.
#pragma once

#include <cstdint>
#include <string>

#include "airflow/airflow_client.h"
#include "runbook/deps.h"
#include "store/store.h"
#include "watch/outbox.h"
#include "watch/watch.h"

namespace dm::watch {

// The summary_json "kind" of the incidents the watcher opens that are not a failed run's: an
// import error, a DAG whose last watch.failed_runs_in_a_row finished runs all failed.
inline constexpr const char* kImportErrorKind = "import_error";
inline constexpr const char* kNotSucceedingKind = "not_succeeding";
inline constexpr const char* kLateKind = "late";
inline constexpr const char* kStuckKind = "stuck";

// Incidents already in rep.handled (opened or updated earlier in this cycle) are not checked:
// nothing ran after them. rep.handled's DAGs count as having run.
void check_recoveries(const runbook::Deps& deps, const std::string& env,
                      airflow::AirflowClient& client, store::Store& s, int64_t since_ms,
                      EnvReport& rep);

// `outbox` may be null or have no targets: then no message is enqueued.
void watch_import_errors(const runbook::Deps& deps, const std::string& env,
                         airflow::AirflowClient& client, store::Store& s, const Outbox* outbox,
                         EnvReport& rep);

// For each DAG with a failure this cycle handled: one listing of its newest runs; when its last
// watch.failed_runs_in_a_row finished runs all failed, an incident of kind not_succeeding (id
// incident_id_for(env, dag, "not_succeeding"); one open at a time per DAG) and its trigger
// messages. check_recoveries resolves it when a run of the DAG succeeds.
void watch_streaks(const runbook::Deps& deps, const std::string& env,
                   airflow::AirflowClient& client, store::Store& s, const Outbox* outbox,
                   EnvReport& rep);

// One listing of DAGs (only those carrying a rule's tag when every rule names one). A scheduled
// DAG that a watch.freshness rule selects is late when the scheduler should have made its next
// run (next_run_after) more than the rule's grace ago: an incident of kind late, id
// incident_id_for(env, dag, "late:" + expected time), one per expected run, and its trigger
// messages. Resolved when the DAG's next expected run moves past it (the run was made), or the DAG
// is no longer listed. The caller runs it every watch.freshness.interval_seconds.
void watch_freshness(const runbook::Deps& deps, const std::string& env,
                     airflow::AirflowClient& client, store::Store& s, const Outbox* outbox,
                     EnvReport& rep);

// One listing of running and queued task instances (every DAG). A running try is stuck when it
// ran at least watch.stuck.min_seconds and longer than factor × the p95 of its task's recent
// successful durations (one read per task, kept an hour in `durations`), or longer than
// max_seconds; a queued one when queued longer than queued_seconds. Each stuck try is an incident
// of kind stuck (one per dag, run, task, map index and try), announced once; it is resolved once
// the try is no longer running or queued.
void watch_stuck(const runbook::Deps& deps, const std::string& env, airflow::AirflowClient& client,
                 store::Store& s, const Outbox* outbox, DurationCache& durations, EnvReport& rep);

void enqueue_resolves(const std::string& env, store::Store& s, const Outbox& outbox,
                      int64_t since_ms, EnvReport& rep);

}  // namespace dm::watch
