// Failed runs in a time window, bounded: a failed run is in the window when it ENDED inside it
// (Airflow's end_date filter, the same on both API dialects). Its run_after / logical_date is not
// used: on Airflow 2 a scheduled run's logical date is a whole interval before it ran, and a long
// run placed before the window may have failed just now. At most `cap` runs are examined.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "airflow/airflow_client.h"
#include "common/result.h"

namespace dm::runbook {

struct FailedWindowQuery {
  std::string dag_id = "~";  // "~" = every DAG
  Clock::time_point since;
  Clock::time_point until;
  std::size_t cap = 200;  // ≥ 1
};

struct FailedWindow {
  std::vector<airflow::DagRun> runs;  // in the window, newest first (by run_after)
  std::size_t examined = 0;           // runs Airflow returned and we looked at (≤ cap)
  bool capped = false;                // more failed runs existed than `cap`
};

// Errors: the client's (unchanged).
Result<FailedWindow> failed_runs_in_window(airflow::AirflowClient& client,
                                           const FailedWindowQuery& q);

}  // namespace dm::runbook
