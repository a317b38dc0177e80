// Triage facts computed from Airflow data (pure; no I/O): which failed task came first, state
// counts, retries used/left, and the tier / business-critical / severity read from DAG tags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "airflow/types.h"

namespace dm::runbook {

// What a run's task instances say. Pointers point into the vector given to task_facts, which must
// outlive the result.
struct TaskFacts {
  std::map<std::string, int> counts;  // state → number of task instances ("none" = no state)
  // state failed, first failing first: earliest end_date (no end_date last), then earliest
  // start_date, then task_id, then map_index.
  std::vector<const airflow::TaskInstance*> failed;
  // state upstream_failed, by task_id then map_index. Never "first failing".
  std::vector<const airflow::TaskInstance*> upstream_failed;
  const airflow::TaskInstance* first_failing = nullptr;  // failed.front(), or null
  int retries_used = 0;  // Σ over failed task instances of max(0, try_number − 1)
};
TaskFacts task_facts(const std::vector<airflow::TaskInstance>& tis);

// The first failing task's id among `tis` ("" if none failed).
// A task as dagmedic names it: "task", or "task[i]" for map index i of a mapped task.
std::string task_label(const std::string& task_id, int map_index);

std::string first_failing_task_id(const std::vector<airflow::TaskInstance>& tis);

// Tries still allowed: max(0, max_tries − max(0, try_number − 1)).
int retries_left(const airflow::TaskInstance& t);

// "1", "2", … from a tag "tier=N" (also "tier:N"; case-insensitive, spaces ignored); "" if none.
// The first such tag wins.
std::string tier_from_tags(const std::vector<std::string>& tags);
// A tag "business_critical" (case-insensitive; also "business-critical", "business_critical=true").
bool business_critical_from_tags(const std::vector<std::string>& tags);
// "sev1" for tier 1 or business critical, "sev2" for tier 2, "sev3" otherwise.
std::string severity_for(const std::string& tier, bool business_critical);

// Distinct task ids of `tis`, in order, at most `cap`.
std::vector<std::string> task_ids_of(const std::vector<const airflow::TaskInstance*>& tis,
                                     std::size_t cap = SIZE_MAX);

// Task ids kept in an incident's summary.
inline constexpr std::size_t kIncidentFactsListCap = 20;

// The facts a failed run's triage records on its incident (summary_json "triage"; open_incident):
// {source, state, end_date, severity, tier, business_critical, first_failing_task, failed_tasks
// (≤ kIncidentFactsListCap), upstream_failed (a count), retries_used}, tier and severity from the
// DAG's tags. Used by get_run_summary and the watcher (runbook/failure.h), so both record the same.
nlohmann::json run_triage_facts(std::string_view source, const airflow::DagRun& run,
                                const TaskFacts& facts, const std::vector<std::string>& dag_tags);

}  // namespace dm::runbook
