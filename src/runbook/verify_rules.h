// The recovery verdict of check_recovery_rules (docs/runbook.md, Verify), as a function of what
// Airflow shows now. No I/O of its own: task instances of the runs it needs are fetched through
// the callback, so tests drive every path with plain data.
//
// Runs are walked newest first; queued/running runs are skipped (they decide nothing yet). With
// F = the failed runs met before the first success (the failures "since the incident, with no
// success in between"):
// The incident's own run counts as one of F when it was cleared, re-ran and failed again
// (`incident_failed_again`); the reasons then say so.
//   - F ≥ escalate_after_failures                         → escalate
//   - F ≥ 1 and the newest failed run's first failing task is the incident's → escalate
//   - F ≥ 1 otherwise                                     → not_yet (a new failure to diagnose)
//   - a success S (a later run, or the incident's run cleared and now success):
//       a critical task of S not success                 → not_yet
//         (critical = rule.critical_tasks; none listed = every task of S, where "skipped" also
//          counts as done: a branch not taken is not a failure)
//       a failed run ended after S ended                  → not_yet
//       now < S.end + quiet_minutes                       → not_yet (quiet period)
//       otherwise                                         → recovered
//   - only unfinished runs                                → not_yet (still running)
//   - nothing after the incident                          → not_yet (no new run yet)
// The advice never suggests a blind retry: it points at diagnosing, waiting, or escalating.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "airflow/types.h"
#include "common/result.h"
#include "config/config.h"

namespace dm::runbook {

struct RecoveryInput {
  airflow::DagRun incident;            // the incident's run as Airflow shows it now
  std::string incident_first_failing;  // its first failing task ("" if unknown)
  std::vector<airflow::DagRun> later;  // runs with run_after after the incident's, newest first
  config::RecoveryRule rule;
  int64_t now_ms = 0;
  // Non-empty when the incident's run (state failed) was cleared and its new try failed again:
  // what shows it (e.g. "task load is in try 4, the incident recorded try 3"). Empty: the run's
  // failure is the incident itself.
  std::string incident_failed_again{};
};

// Task instances of one run. Errors are passed through by evaluate_recovery.
using RunTasks =
    std::function<Result<std::vector<airflow::TaskInstance>>(const airflow::DagRun& run)>;

struct RecoveryVerdict {
  std::string verdict;  // "recovered" | "not_yet" | "escalate"
  std::string reason;
  std::string advice;
  std::optional<airflow::DagRun> recovering_run;
  std::vector<std::pair<std::string, std::string>> critical_tasks;  // (task_id, state)
  int failures_since = 0;
  int64_t quiet_until_ms = 0;  // 0 = not applicable
};

Result<RecoveryVerdict> evaluate_recovery(const RecoveryInput& in, const RunTasks& tasks);

}  // namespace dm::runbook
