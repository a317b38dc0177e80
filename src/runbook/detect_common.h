// Shapes and error wording shared by the Detect, Triage and Verify tools (docs/runbook.md "Common
// shapes"): the contract's task object (its run object is airflow::DagRun's shape) and Airflow
// errors turned into messages that say what to check next. Pure functions; none throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "airflow/types.h"
#include "common/iso_time.h"
#include "common/result.h"

namespace dm::runbook {

// The contract's task (a shape, common/json_shape.h): {task_id, map_index, state, try_number,
// max_tries, operator, start_date, end_date, duration_s, hostname}; duration_s from Airflow, else
// end − start, else null. (The contract's run is airflow::DagRun's own shape.)
struct TaskOut {
  airflow::TaskInstance t{};
  template <class V>
  void fields(V& v) const {
    v.field("task_id", t.task_id, "Task id");
    v.field("map_index", t.map_index, "Index of a mapped task instance (-1: not mapped)");
    v.field("state", t.state, "Airflow's state (\"\" when none)");
    v.field("try_number", t.try_number, "The try this instance is on");
    v.field("max_tries", t.max_tries, "Retries allowed after the first try");
    v.field("operator", t.operator_name, "Operator class");
    v.field("start_date", iso_utc(t.start_date), "UTC (\"\" before it started)");
    v.field("end_date", iso_utc(t.end_date), "UTC (\"\" while it runs)");
    v.field("duration_s", duration_s(t), "Seconds (null when unknown)");
    v.field("hostname", t.hostname, "Worker host");
  }
  static std::optional<double> duration_s(const airflow::TaskInstance& t);
};

// The run an answer is about: {environment, dag_id, run_id}, flattened into answers.
struct RunRefOut {
  std::string environment{}, dag_id{}, run_id{};
  template <class V>
  void fields(V& v) const {
    v.field("environment", environment, "Environment name");
    v.field("dag_id", dag_id, "DAG id");
    v.field("run_id", run_id, "DAG run id");
  }
};

// An Airflow client error with a next step appended (same code): not_found points at the ids,
// unavailable/timeout at reachability, unauthenticated/permission_denied at the credentials
// (`dagmedic doctor`).
Error airflow_error(const Error& e);

}  // namespace dm::runbook
