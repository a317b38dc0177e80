// Handling one failed DAG run the way the tools do, for callers that are not an MCP request (the
// watcher, src/watch/): the Triage tools' incident (get_run_summary's facts, open_incident) and
// extract_task_errors' diagnosis of the first failing task's failed try (signature, category,
// the occurrence that groups repeats by signature, the diagnosis on the incident). Same functions,
// same store rows, same incident id (store::incident_id_for(env, dag, run)), so a tool called
// later finds the incident the watcher opened and updates it.
//
// Airflow calls: a constant number per run — list_task_instances (all states), get_dag (tags →
// tier, severity), and one read of the first failing try's log. Never a listing of DAGs or runs.
// Thread-safe as Deps is.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "airflow/airflow_client.h"
#include "common/result.h"
#include "runbook/deps.h"

namespace dm::runbook {

struct HandledFailure {
  std::string incident_id;           // store::incident_id_for(env, run.dag_id, run.run_id)
  bool opened = false;               // the incident did not exist before this call
  std::string first_failing_task;    // "" when no task failed on its own
  int first_failing_map_index = -1;  // its map index when the task is mapped, else -1
  std::string severity;              // sev1 | sev2 | sev3 (from the DAG's tags)
  std::string signature;             // "" when not diagnosed (no failing task, no error found)
  std::string category;
  std::vector<std::string> notes;  // what could not be read or recorded (the run still counts)
};

// Airflow could not be asked at all or refused to answer (unavailable, timeout, unauthenticated,
// permission_denied, cancelled), as opposed to answering that something does not exist.
bool airflow_unreachable(const Error& e);

// Triages and diagnoses `run` (a FAILED run of `env`, read through `client`) and records it.
// `source` names the caller in the incident's triage facts (e.g. "watch").
// Errors — the run is NOT handled and the caller should try again later: the store's (the incident
// could not be read or written), and Airflow's when it is unreachable or refuses (unavailable,
// timeout, unauthenticated, permission_denied) while reading the run's tasks, its DAG or the log.
// Anything else (no log for the try, a DAG deleted since) is a note, and the run counts as handled.
Result<HandledFailure> handle_failed_run(const Deps& deps, const std::string& env,
                                         airflow::AirflowClient& client, const airflow::DagRun& run,
                                         std::string_view source);

}  // namespace dm::runbook
