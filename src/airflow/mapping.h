// JSON (as the v1 / v2 REST APIs send it) -> normalized structs. Missing or null fields become
// "" / defaults; a value of the wrong JSON type is an Errc::protocol error naming the field.
#pragma once

#include <nlohmann/json.hpp>

#include "airflow/types.h"
#include "common/result.h"

namespace dm::airflow {

Result<DagRun> map_dag_run(const nlohmann::json& j, Dialect d);
Result<TaskInstance> map_task_instance(const nlohmann::json& j, Dialect d);
Result<Dag> map_dag(const nlohmann::json& j, Dialect d);
Result<ImportError> map_import_error(const nlohmann::json& j, Dialect d);

}  // namespace dm::airflow
