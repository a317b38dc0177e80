#include "airflow/mwaa_client.h"

#include <nlohmann/json.hpp>

#include "airflow/log_stream.h"

namespace dm::airflow {

using json = nlohmann::json;

std::string mwaa_log_stream(const LogRequest& r) {
  std::string s = "dag_id=" + r.dag_id + "/run_id=" + r.run_id + "/task_id=" + r.task_id + "/";
  if (r.map_index >= 0) s += "map_index=" + std::to_string(r.map_index) + "/";
  s += "attempt=" + std::to_string(r.try_number) + ".log";
  for (char& c : s)
    if (c == ':') c = '_';
  return s;
}

MwaaAirflowClient::MwaaAirflowClient(std::unique_ptr<AirflowClient> rest,
                                     std::shared_ptr<aws::MwaaApi> mwaa,
                                     std::shared_ptr<aws::CloudWatchLogsClient> logs,
                                     std::string log_group)
    : rest_(std::move(rest)),
      mwaa_(std::move(mwaa)),
      logs_(std::move(logs)),
      log_group_(std::move(log_group)) {}

Error MwaaAirflowClient::fail(const std::string& call, const Error& e) const {
  return make_error(e.code, "environment \"" + environment() + "\": " + call + ": " + e.message);
}

Result<std::string> MwaaAirflowClient::log_group() {
  std::lock_guard lk(mu_);
  if (!log_group_.empty()) return log_group_;
  auto g = mwaa_->task_log_group();
  if (!g) return g.error();
  log_group_ = *g;
  return log_group_;
}

Status MwaaAirflowClient::read_task_log(const LogRequest& lr, const LogSink& sink,
                                        LogStats* stats) {
  const std::string call = "read task log";
  if (lr.dag_id.empty() || lr.run_id.empty() || lr.task_id.empty())
    return fail(call,
                make_error(Errc::invalid_argument, "DAG id, run id and task id are required"));
  if (lr.try_number < 1 || lr.map_index < -1)
    return fail(call, make_error(Errc::invalid_argument,
                                 "try_number must be >= 1 and map_index >= -1 for MWAA logs"));
  if (!sink) return fail(call, make_error(Errc::invalid_argument, "no log sink"));
  auto group = log_group();
  if (!group) return fail(call, group.error());
  LogStats local;
  LogStats& st = stats ? *stats : local;
  LineFn fn = counting_sink(sink, st);
  std::string stream = mwaa_log_stream(lr);
  std::size_t events = 0;
  auto s = logs_->read_stream(
      *group, stream,
      [&](const aws::LogEvent& ev) {
        ++events;
        std::string_view m = ev.message;
        // Airflow 3 writes one structlog JSON event per CloudWatch event.
        if (!m.empty() && m.front() == '{') {
          json j = json::parse(m, nullptr, false);
          if (j.is_object()) return EventLogDecoder::render_event(j, fn);
        }
        while (!m.empty() && (m.back() == '\n' || m.back() == '\r')) m.remove_suffix(1);
        std::size_t start = 0;
        while (true) {
          auto nl = m.find('\n', start);
          std::string_view line =
              m.substr(start, nl == std::string_view::npos ? m.npos : nl - start);
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          if (!fn(line, {})) return false;
          if (nl == std::string_view::npos) return true;
          start = nl + 1;
        }
      },
      &st.pages);
  if (!s) {
    if (s.error().code == Errc::not_found)
      return fail(call, make_error(Errc::not_found, "no CloudWatch log stream \"" + stream +
                                                        "\" in log group \"" + *group + "\" (" +
                                                        s.error().message + ")"));
    return fail(call, s.error());
  }
  return Status::Ok();
}

Result<DagRun> MwaaAirflowClient::trigger_dag_run(const TriggerRequest& req) {
  const std::string call = "trigger DAG run";
  if (req.dag_run_id.empty())
    return fail(call, make_error(Errc::invalid_argument, "a run id is required"));
  json conf = req.conf;
  auto cmd = aws::dags_trigger_command(req.dag_id, req.dag_run_id, conf);
  if (!cmd) return fail(call, cmd.error());
  auto out = mwaa_->run_cli(*cmd);
  if (!out) return fail(call, out.error());
  const std::string& err = out->stderr_text;
  auto has = [&](const char* s) {
    return err.find(s) != std::string::npos || out->stdout_text.find(s) != std::string::npos;
  };
  if (has("already exists") || has("UNIQUE constraint") || has("DagRunAlreadyExists"))
    return fail(call, make_error(Errc::conflict, "run \"" + req.dag_run_id + "\" of DAG \"" +
                                                     req.dag_id + "\" already exists"));
  if (has("not found") || has("DagNotFound"))
    return fail(call, make_error(Errc::not_found, "DAG \"" + req.dag_id + "\" not found"));
  if (has("Traceback") || has("Error:"))
    return fail(call, make_error(Errc::unavailable,
                                 "the MWAA CLI reported an error: " +
                                     err.substr(err.size() > 400 ? err.size() - 400 : 0)));
  auto run = rest_->get_dag_run(req.dag_id, req.dag_run_id);
  if (run) return run;
  // Created, but not readable back (e.g. a run id too long for InvokeRestApi's Path).
  DagRun d;
  d.dag_id = req.dag_id;
  d.run_id = req.dag_run_id;
  d.state = "queued";
  d.run_type = "manual";
  d.conf = req.conf;
  d.note = req.note;
  return d;
}

}  // namespace dm::airflow
