// Plain data returned by AirflowClient, normalized across the v1 (Airflow 2) and v2 (Airflow 3)
// REST dialects. Timestamps are ISO-8601 UTC strings as Airflow sent them ("" when null);
// states are Airflow's lower-case state strings ("" when null, e.g. a task never scheduled).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/iso_time.h"

namespace dm::airflow {

enum class Dialect { v1, v2 };
const char* dialect_name(Dialect d) noexcept;  // "v1" / "v2"

struct ServerInfo {
  Dialect dialect = Dialect::v2;
  std::string version{};  // e.g. "3.3.2"
};

struct DagRun {
  std::string dag_id{};
  std::string run_id{};
  std::string state{};     // queued | running | success | failed
  std::string run_type{};  // manual | scheduled | backfill | dataset_triggered | asset_triggered
  std::string logical_date{};  // v1 execution_date/logical_date; v2 logical_date (may be "")
  std::string run_after{};     // v2 run_after; v1: logical_date (the run's position in time)
  std::string start_date{};
  std::string end_date{};
  std::string queued_at{};
  nlohmann::json conf = nlohmann::json::object();
  std::string note{};

  // The one JSON form of a run, as the MCP tools return it (docs/runbook.md "Common shapes"),
  // declared for common/json_shape.h: the times as "YYYY-MM-DDTHH:MM:SSZ" (UTC; "" stays "", an
  // unparseable time is kept as Airflow sent it). Never carries conf (its values may hold
  // secrets), nor note or queued_at.
  template <class V>
  void fields(V& v) const {
    v.field("dag_id", dag_id, "DAG id");
    v.field("run_id", run_id, "DAG run id");
    v.field("state", state, "queued, running, success or failed (\"\" when Airflow gave none)");
    v.field("run_type", run_type, "manual, scheduled, backfill, asset_triggered, …");
    v.field("logical_date", iso_utc(logical_date), "Logical date, UTC (\"\" when none)");
    v.field("run_after", iso_utc(run_after), "The run's position in time, UTC");
    v.field("start_date", iso_utc(start_date), "UTC (\"\" before it started)");
    v.field("end_date", iso_utc(end_date), "UTC (\"\" while it runs)");
  }
};

struct TaskInstance {
  std::string dag_id{};
  std::string run_id{};
  std::string task_id{};
  int map_index = -1;
  int try_number = 0;
  int max_tries = 0;
  std::string state{};  // failed | upstream_failed | success | ... | "" (none)
  std::string operator_name{};
  std::string start_date{};
  std::string end_date{};
  std::optional<double> duration{};
  std::string hostname{};
  std::string queued_at{};  // queued_when ("" when never queued)
};

struct Dag {
  std::string dag_id{};
  bool is_paused = false;
  std::vector<std::string> tags{};
  std::vector<std::string> owners{};
  std::string description{};
  std::string fileloc{};
  bool has_import_errors = false;
  // The timetable's facts (both dialects): whether the DAG has a schedule, its summary, and when
  // the scheduler expects to create the next run (v2 next_dagrun_run_after; v1
  // next_dagrun_create_after) for which logical date (v2 next_dagrun_logical_date; v1
  // next_dagrun). "" when Airflow gives none (no schedule, or not computed yet).
  bool scheduled = false;
  std::string timetable{};
  std::string next_run_after{};
  std::string next_logical_date{};
};

struct ImportError {
  long long id = 0;
  std::string filename{};
  std::string timestamp{};
  std::string stack_trace{};
};

// DagRun::fields as JSON (shape::to_json).
nlohmann::json to_json(const DagRun& r);
// JSON views of the rest (stable field names, used by the probe).
nlohmann::json to_json(const TaskInstance& t);
nlohmann::json to_json(const Dag& d);
nlohmann::json to_json(const ImportError& e);

}  // namespace dm::airflow
