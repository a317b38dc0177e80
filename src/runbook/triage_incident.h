// Incidents as the Triage and Verify tools keep them. A read never fails because of the store:
// callers get the store's error back and answer anyway (incident_id "" plus a note).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "airflow/types.h"
#include "common/result.h"
#include "runbook/deps.h"

namespace dm::runbook {

// Opens (or updates) the incident of a FAILED run: id store::incident_id_for(env, dag, run); a new
// incident is "open"; an existing one keeps its state and diagnosis. `first_failing_task` replaces
// the stored one when non-empty. `facts` (an object) is redacted and merged into the object under
// summary_json's "triage" key (other keys, e.g. a diagnosis, stay). Returns the incident id.
// Errors: the store's (unavailable, not supported, …).
Result<std::string> open_incident(const Deps& deps, const std::string& env,
                                  const airflow::DagRun& run, const std::string& first_failing_task,
                                  nlohmann::json facts);

// The stored incident for (env, dag, run). Errors: not_found when there is none; the store's.
Result<store::Incident> find_incident(const Deps& deps, const std::string& env,
                                      const std::string& dag_id, const std::string& run_id);

// Sets the state ("recovered" | "escalated" | "open") of an existing incident and merges
// `facts` into summary_json's "verify" object. Errors: not_found when there is no incident; the
// store's.
Status set_incident_state(const Deps& deps, store::Incident incident, const std::string& state,
                          nlohmann::json facts);

}  // namespace dm::runbook
