#include "airflow/types.h"

#include "common/iso_time.h"
#include "common/json_shape.h"

namespace dm::airflow {

const char* dialect_name(Dialect d) noexcept { return d == Dialect::v1 ? "v1" : "v2"; }

nlohmann::json to_json(const DagRun& r) { return shape::to_json(r); }

nlohmann::json to_json(const TaskInstance& t) {
  nlohmann::json j = {
      {"dag_id", t.dag_id},       {"run_id", t.run_id},          {"task_id", t.task_id},
      {"map_index", t.map_index}, {"try_number", t.try_number},  {"max_tries", t.max_tries},
      {"state", t.state},         {"operator", t.operator_name}, {"start_date", t.start_date},
      {"end_date", t.end_date},   {"hostname", t.hostname}};
  j["duration"] = t.duration ? nlohmann::json(*t.duration) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json to_json(const Dag& d) {
  return {{"dag_id", d.dag_id},
          {"is_paused", d.is_paused},
          {"tags", d.tags},
          {"owners", d.owners},
          {"description", d.description},
          {"fileloc", d.fileloc},
          {"has_import_errors", d.has_import_errors},
          {"scheduled", d.scheduled},
          {"timetable", d.timetable},
          {"next_run_after", d.next_run_after},
          {"next_logical_date", d.next_logical_date}};
}

nlohmann::json to_json(const ImportError& e) {
  return {{"id", e.id},
          {"filename", e.filename},
          {"timestamp", e.timestamp},
          {"stack_trace", e.stack_trace}};
}

}  // namespace dm::airflow
