// Postmortem stage internals (build_timeline, generate_postmortem, the incident resources):
// collecting a run's timeline from Airflow and the store, rendering the postmortem Markdown and
// the prevention actions it proposes. Private to src/runbook; the tools live in postmortem.cpp.
//
// Nothing here returns unredacted text to a client by itself: callers pass every string through
// runbook::finish (tools) or the redactor (resources, the stored Markdown).
// Functions are thread-safe (no shared state) and never throw.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "airflow/types.h"
#include "common/result.h"
#include "runbook/deps.h"
#include "store/store.h"

namespace dm::runbook::postmortem {

// One line of the timeline. `at_ms` is UTC milliseconds; `source` is "airflow", "store" or "audit".
struct Event {
  int64_t at_ms = 0;
  std::string kind;     // run_queued, task_failed, later_run_ended, incident_opened, approval_…
  std::string subject;  // run id, task id (+ "[map_index]"), approval id, incident id
  std::string detail;
  std::string source;
};

// Bounds that keep one call cheap whatever the DAG's size.
inline constexpr std::size_t kMaxLaterRuns = 20;        // later runs shown
inline constexpr std::size_t kLaterRunsQueried = 200;   // later runs read to find the earliest 20
inline constexpr std::size_t kMaxTaskEvents = 400;      // task events before successes are dropped
inline constexpr std::size_t kAuditRowsScanned = 2000;  // newest audit rows examined
inline constexpr std::size_t kApprovalsPerState = 200;

// Everything the Postmortem tools know about one run.
struct Facts {
  std::string env;
  std::string env_tier;  // dev | prod
  std::string dag_id;
  std::string run_id;
  std::string incident_id;  // store::incident_id_for(env, dag, run), even when the store is down
  airflow::DagRun run;
  std::vector<airflow::TaskInstance> tasks;
  std::vector<airflow::DagRun> later_runs;  // oldest first, at most kMaxLaterRuns
  bool later_runs_capped = false;           // more later runs exist than shown
  std::optional<airflow::Dag> dag;          // nullopt when get_dag failed
  std::optional<store::Incident> incident;  // nullopt: store down or no incident yet
  bool store_available = false;
  std::vector<Event> events;         // sorted by time, stable on ties
  std::vector<Event> action_events;  // the approval/audit subset of `events`, in time order
  std::vector<std::string> notes;    // what could not be read and why (shown to the caller)
};

// Reads the run (required: its errors are returned — unknown DAG/run, Airflow down), its task
// instances (required), later runs of the DAG (optional), the DAG (optional), the incident and the
// approvals/audit touching this run (optional; store problems become notes). `now_ms` bounds
// "up to now".
Result<Facts> collect(const Deps& deps, const Target& target, const std::string& dag_id,
                      const std::string& run_id, int64_t now_ms);

// The timeline events derivable from Airflow data alone (run, task tries, later runs), unsorted.
std::vector<Event> airflow_events(const airflow::DagRun& run,
                                  const std::vector<airflow::TaskInstance>& tasks,
                                  const std::vector<airflow::DagRun>& later_runs,
                                  std::vector<std::string>& notes);

// True when the task instance's current state was never reached by a try of the task (
// upstream_failed, removed, or no try handed out): it gets no task_started/task_finished events.
bool never_ran(const airflow::TaskInstance& t);

// Incident lifecycle events (opened, diagnosed, recovered/escalated). `diagnosed_seen_ms` is when
// the diagnosed signature was seen in this run (from the store's occurrences), if known.
std::vector<Event> incident_events(const store::Incident& inc,
                                   std::optional<int64_t> diagnosed_seen_ms);

// Approval and write events for (env, dag, run) from approval records and audit rows. Tolerant:
// audit bodies that are not JSON objects with the expected fields are skipped.
// `run_started_ms` lets trigger_dag approvals created after the failure count as this incident's.
std::vector<Event> action_events(const std::vector<store::ApprovalRecord>& approvals,
                                 const std::vector<store::AuditRow>& audit, const std::string& env,
                                 const std::string& dag_id, const std::string& run_id,
                                 int64_t run_started_ms);

// Stable sort by time.
void sort_events(std::vector<Event>& events);

// ---- prevention ----
struct PreventionAction {
  std::string kind;
  std::string title;
  std::string detail;
};
// Prevention actions for an error category ("" or unknown categories get the generic ones), from
// the shared prevention rules; `source` receives where they came from.
std::vector<PreventionAction> prevention_for(const std::string& category, std::string& source);
// The small built-in mapping used when the shared rules cannot be loaded.
std::vector<PreventionAction> builtin_prevention_for(const std::string& category);

// Redacts every free-text string of `f` that can reach the Markdown (incident fields, event
// subjects/details, notes), before escaping could hide a secret from the redactor.
void redact_facts(const logs::Redactor& redactor, Facts& f);

// ---- Markdown ----
struct Impact {
  std::string tier;  // "1", "2"… from a tier=N tag, "" if none
  bool business_critical = false;
  std::string severity;      // sev1 | sev2 | sev3
  std::string env_tier;      // dev | prod
  std::string failed_from;   // ISO
  std::string failed_until;  // ISO, "" while not recovered
  int64_t failed_ms = 0;
  bool recovered = false;
  int runs_affected = 1;
  std::vector<std::string> failed_tasks;
  std::vector<std::string> upstream_failed_tasks;
  int retries_used = 0;
  // From the failure (failed_from) to: the incident's opening (detect), its first diagnosis
  // (store diagnosed_at; diagnose), and the recovery (recover). -1 = unknown / not yet.
  int64_t time_to_detect_ms = -1;
  int64_t time_to_diagnose_ms = -1;
  int64_t time_to_recover_ms = -1;
};
Impact compute_impact(const Facts& f, int64_t now_ms);

// The incident's first failing task, else the failed task that ended first ("" if none).
std::string first_failing_task(const Facts& f);

// "1h 5m", "3m 12s", "2d 4h".
std::string human_duration(int64_t ms);

// The postmortem document (Summary, Impact, Timeline, Root cause, Actions, Prevention, Safe rerun
// playbook), at most `max_bytes` bytes (timeline lines are dropped first). Untrusted strings
// (error lines, reasons) are quoted as data. The caller redacts the result.
std::string render_markdown(const Facts& f, const Impact& impact,
                            const std::vector<PreventionAction>& prevention,
                            const std::string& prevention_source, std::size_t max_bytes);

// ---- incident JSON (resources) ----
// The incident as JSON (summary_json parsed when it is a JSON object), with its resource URIs.
nlohmann::json incident_json(const store::Incident& inc, bool full);
std::string postmortem_uri(const std::string& incident_id);
// "inc-" + 16 lowercase hex digits.
bool valid_incident_id(const std::string& id);

}  // namespace dm::runbook::postmortem
