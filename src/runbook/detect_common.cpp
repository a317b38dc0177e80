#include "runbook/detect_common.h"

#include "common/iso_time.h"

namespace dm::runbook {

std::optional<double> TaskOut::duration_s(const airflow::TaskInstance& t) {
  if (t.duration) return *t.duration;
  auto s = iso_to_ms(t.start_date), e = iso_to_ms(t.end_date);
  if (s && e && *e >= *s) return static_cast<double>(*e - *s) / 1000.0;
  return std::nullopt;
}

Error airflow_error(const Error& e) {
  std::string hint;
  switch (e.code) {
    case Errc::not_found:
      hint =
          " Check the DAG id and run id (list_recent_failures and list_failed_runs show recent "
          "failed runs).";
      break;
    case Errc::unavailable:
    case Errc::timeout:
      hint =
          " Airflow did not answer: check that it is up and reachable from dagmedic "
          "(`dagmedic doctor`), then call again.";
      break;
    case Errc::unauthenticated:
      hint = " Check the environment's credentials (`dagmedic doctor`).";
      break;
    case Errc::permission_denied:
      hint = " The configured Airflow user may not read this; ask for a read-only (Viewer) role.";
      break;
    default:
      break;
  }
  return make_error(e.code, e.message + hint);
}

}  // namespace dm::runbook
