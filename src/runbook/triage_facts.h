// Triage facts computed from Airflow data (pure; no I/O): which failed task came first, state
// counts, retries used/left, and the tier / business-critical / severity read from DAG tags.
#pragma once

#include <map>
#include <string>
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

}  // namespace dm::runbook
