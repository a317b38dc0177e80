#include "runbook/detect_common.h"

#include "common/iso_time.h"
#include "runbook/tool_kit.h"

namespace dm::runbook {

using json = nlohmann::json;

json task_json(const airflow::TaskInstance& t) {
  json j = {{"task_id", t.task_id},
            {"map_index", t.map_index},
            {"state", t.state},
            {"try_number", t.try_number},
            {"max_tries", t.max_tries},
            {"operator", t.operator_name},
            {"start_date", iso_utc(t.start_date)},
            {"end_date", iso_utc(t.end_date)},
            {"duration_s", nullptr},
            {"hostname", t.hostname}};
  if (t.duration) {
    j["duration_s"] = *t.duration;
  } else {
    auto s = iso_to_ms(t.start_date), e = iso_to_ms(t.end_date);
    if (s && e && *e >= *s) j["duration_s"] = static_cast<double>(*e - *s) / 1000.0;
  }
  return j;
}

namespace {
json nullable_object(json properties, json required, bool nullable) {
  json s = {{"type", nullable ? json::array({"object", "null"}) : json("object")},
            {"properties", std::move(properties)},
            {"required", std::move(required)}};
  return s;
}
}  // namespace

json run_schema(bool nullable) {
  json str = {{"type", "string"}};
  return nullable_object({{"dag_id", str},
                          {"run_id", str},
                          {"state", str},
                          {"run_type", str},
                          {"logical_date", str},
                          {"run_after", str},
                          {"start_date", str},
                          {"end_date", str}},
                         json::array({"dag_id", "run_id", "state"}), nullable);
}

json task_schema(bool nullable) {
  json str = {{"type", "string"}};
  json integer = {{"type", "integer"}};
  return nullable_object({{"task_id", str},
                          {"map_index", integer},
                          {"state", str},
                          {"try_number", integer},
                          {"max_tries", integer},
                          {"operator", str},
                          {"start_date", str},
                          {"end_date", str},
                          {"duration_s", {{"type", json::array({"number", "null"})}}},
                          {"hostname", str}},
                         json::array({"task_id", "state"}), nullable);
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
