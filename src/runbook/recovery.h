// check_recovery_rules' work, for callers that are not an MCP request (the watcher resolves
// incidents with it, src/watch/): reads the incident's run and the runs after it, gives the
// verdict of verify_rules.h, and moves an existing incident to "recovered" or "escalated" as the
// tool does. The tool (verify.cpp) and the watcher call the same function, so "the watcher sent a
// resolve" and "check_recovery_rules says recovered" cannot disagree.
//
// Airflow calls: get_dag_run; list_task_instances(failed) when the run is failed; one
// list_dag_runs of the DAG after the run (at most kLaterRunCap + 1 runs); the task instances of a
// later successful run; get_dag for an escalation's owners. Thread-safe as Deps is.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "airflow/airflow_client.h"
#include "common/result.h"
#include "config/config.h"
#include "runbook/deps.h"
#include "runbook/verify_rules.h"
#include "store/store.h"

namespace dm::runbook {

struct RecoveryCheck {
  airflow::DagRun run;  // the incident's run as Airflow shows it now
  config::RecoveryRule rule;
  RecoveryVerdict verdict;
  std::optional<store::Incident> incident;  // nullopt: no incident for this run (or store down)
  std::string incident_state;               // its state after the check ("" without incident)
  bool state_changed = false;               // this check moved it to recovered / escalated
  std::size_t examined_runs = 0;
  bool capped = false;  // more later runs exist than were examined
  int64_t now_ms = 0;
  std::vector<std::string> notes;  // what could not be read or recorded
};

// Errors: Airflow's (the run cannot be read: not_found, unavailable, …; later runs or task
// instances unreadable). The store's errors are notes: the verdict stands without an incident.
Result<RecoveryCheck> check_recovery(const Deps& deps, const std::string& env,
                                     airflow::AirflowClient& client, const std::string& dag_id,
                                     const std::string& run_id);

}  // namespace dm::runbook
