#include "runbook/detect_window.h"

namespace dm::runbook {

Result<FailedWindow> failed_runs_in_window(airflow::AirflowClient& client,
                                           const FailedWindowQuery& q) {
  const std::size_t cap = q.cap == 0 ? 1 : q.cap;
  airflow::RunQuery rq;
  rq.dag_id = q.dag_id;
  rq.states = {"failed"};
  rq.ended_since = q.since;
  rq.ended_until = q.until;
  rq.limit = cap + 1;  // one more than we look at tells "capped"
  auto runs = client.list_dag_runs(rq);
  if (!runs) return runs.error();

  FailedWindow w;
  w.capped = runs->size() > cap;
  if (w.capped) runs->resize(cap);
  w.examined = runs->size();
  w.runs = std::move(*runs);
  return w;
}

}  // namespace dm::runbook
