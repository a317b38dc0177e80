#include "airflow/mapping.h"

namespace dm::airflow {
namespace {

using nlohmann::json;

struct Reader {
  const json& j;
  std::string bad;  // first field with a wrong type

  std::string str(const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number() || it->is_boolean()) return it->dump();
    if (bad.empty()) bad = key;
    return {};
  }
  long long num(const char* key, long long def) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (it->is_number_integer()) return it->get<long long>();
    if (it->is_number()) return static_cast<long long>(it->get<double>());
    if (bad.empty()) bad = key;
    return def;
  }
  std::optional<double> real(const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (it->is_number()) return it->get<double>();
    if (bad.empty()) bad = key;
    return std::nullopt;
  }
  bool boolean(const char* key, bool def) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (it->is_boolean()) return it->get<bool>();
    if (bad.empty()) bad = key;
    return def;
  }
  // Tags: v1/v2 send [{"name": "tier=1", ...}]; plain strings are accepted too.
  std::vector<std::string> names(const char* key) {
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return out;
    if (!it->is_array()) {
      if (bad.empty()) bad = key;
      return out;
    }
    for (const auto& e : *it) {
      if (e.is_string()) {
        out.push_back(e.get<std::string>());
      } else if (e.is_object() && e.contains("name") && e["name"].is_string()) {
        out.push_back(e["name"].get<std::string>());
      } else if (bad.empty()) {
        bad = key;
      }
    }
    return out;
  }
  Error error(const char* what) const {
    return make_error(Errc::protocol, std::string("unexpected JSON for ") + what + ": field \"" +
                                          bad + "\" has the wrong type");
  }
};

Error not_object(const char* what) {
  return make_error(Errc::protocol, std::string("unexpected JSON for ") + what + ": not an object");
}

}  // namespace

Result<DagRun> map_dag_run(const json& j, Dialect d) {
  if (!j.is_object()) return not_object("a DAG run");
  Reader r{j, {}};
  DagRun out;
  out.dag_id = r.str("dag_id");
  out.run_id = r.str("dag_run_id");
  if (out.run_id.empty()) out.run_id = r.str("run_id");
  out.state = r.str("state");
  out.run_type = r.str("run_type");
  out.start_date = r.str("start_date");
  out.end_date = r.str("end_date");
  out.queued_at = r.str("queued_at");
  out.note = r.str("note");
  if (d == Dialect::v2) {
    out.logical_date = r.str("logical_date");
    out.run_after = r.str("run_after");
    if (out.run_after.empty()) out.run_after = out.logical_date;
  } else {
    out.logical_date = r.str("logical_date");
    if (out.logical_date.empty()) out.logical_date = r.str("execution_date");
    out.run_after = out.logical_date;
  }
  if (auto it = j.find("conf"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) {
      r.bad = "conf";
    } else {
      out.conf = *it;
    }
  }
  if (!r.bad.empty()) return r.error("a DAG run");
  if (out.run_id.empty())
    return make_error(Errc::protocol, "unexpected JSON for a DAG run: no dag_run_id");
  return out;
}

Result<TaskInstance> map_task_instance(const json& j, Dialect) {
  if (!j.is_object()) return not_object("a task instance");
  Reader r{j, {}};
  TaskInstance t;
  t.dag_id = r.str("dag_id");
  t.run_id = r.str("dag_run_id");
  if (t.run_id.empty()) t.run_id = r.str("run_id");
  t.task_id = r.str("task_id");
  t.map_index = static_cast<int>(r.num("map_index", -1));
  t.try_number = static_cast<int>(r.num("try_number", 0));
  t.max_tries = static_cast<int>(r.num("max_tries", 0));
  t.state = r.str("state");
  t.operator_name = r.str("operator");
  if (t.operator_name.empty()) t.operator_name = r.str("operator_name");
  t.start_date = r.str("start_date");
  t.end_date = r.str("end_date");
  t.duration = r.real("duration");
  t.hostname = r.str("hostname");
  t.queued_at = r.str("queued_when");
  if (!r.bad.empty()) return r.error("a task instance");
  if (t.task_id.empty())
    return make_error(Errc::protocol, "unexpected JSON for a task instance: no task_id");
  return t;
}

Result<Dag> map_dag(const json& j, Dialect d) {
  if (!j.is_object()) return not_object("a DAG");
  Reader r{j, {}};
  Dag out;
  out.dag_id = r.str("dag_id");
  out.is_paused = r.boolean("is_paused", false);
  out.tags = r.names("tags");
  out.owners = r.names("owners");
  out.description = r.str("description");
  out.fileloc = r.str("fileloc");
  out.has_import_errors = r.boolean("has_import_errors", false);
  if (d == Dialect::v2) {
    // timetable_summary: null (or "None" on some 3.x) without a schedule.
    out.timetable = r.str("timetable_summary");
    out.scheduled = !out.timetable.empty() && out.timetable != "None";
    out.next_run_after = r.str("next_dagrun_run_after");
    out.next_logical_date = r.str("next_dagrun_logical_date");
  } else {
    // schedule_interval: null without a schedule, else a {__type: …} object.
    auto s = j.find("schedule_interval");
    out.scheduled = s != j.end() && !s->is_null();
    out.timetable = r.str("timetable_description");
    out.next_run_after = r.str("next_dagrun_create_after");
    out.next_logical_date = r.str("next_dagrun");
  }
  if (!r.bad.empty()) return r.error("a DAG");
  if (out.dag_id.empty()) return make_error(Errc::protocol, "unexpected JSON for a DAG: no dag_id");
  return out;
}

Result<ImportError> map_import_error(const json& j, Dialect) {
  if (!j.is_object()) return not_object("an import error");
  Reader r{j, {}};
  ImportError e;
  e.id = r.num("import_error_id", 0);
  e.filename = r.str("filename");
  e.timestamp = r.str("timestamp");
  e.stack_trace = r.str("stack_trace");
  if (!r.bad.empty()) return r.error("an import error");
  return e;
}

}  // namespace dm::airflow
