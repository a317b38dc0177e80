// Shapes and error wording shared by the Detect, Triage and Verify tools (docs/runbook.md "Common
// shapes"): the contract's task object (its run object is airflow::to_json(DagRun)), the schemas
// of both, and Airflow errors turned into messages that say what to check next. Pure functions;
// none throws.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "airflow/types.h"
#include "common/result.h"

namespace dm::runbook {

// The contract's task: {task_id, map_index, state, try_number, max_tries, operator, start_date,
// end_date, duration_s, hostname}; duration_s from Airflow, else end − start, else null.
nlohmann::json task_json(const airflow::TaskInstance& t);

// JSON schemas of the two shapes (for outputSchema); `nullable` also allows null.
nlohmann::json run_schema(bool nullable = false);
nlohmann::json task_schema(bool nullable = false);

// An Airflow client error with a next step appended (same code): not_found points at the ids,
// unavailable/timeout at reachability, unauthenticated/permission_denied at the credentials
// (`dagmedic doctor`).
Error airflow_error(const Error& e);

}  // namespace dm::runbook
