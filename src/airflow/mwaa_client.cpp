#include "airflow/mwaa_client.h"

#include <algorithm>
#include <deque>
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
                                     std::string log_group, std::uint64_t log_read_bytes_max)
    : rest_(std::move(rest)),
      mwaa_(std::move(mwaa)),
      logs_(std::move(logs)),
      log_group_(std::move(log_group)),
      log_read_bytes_max_(log_read_bytes_max) {}

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

bool render_cloudwatch_event(const aws::LogEvent& ev, const LineFn& fn) {
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
    std::string_view line = m.substr(start, nl == std::string_view::npos ? m.npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!fn(line, {})) return false;
    if (nl == std::string_view::npos) return true;
    start = nl + 1;
  }
}

Error MwaaAirflowClient::stream_error(const std::string& call, const std::string& group,
                                      const std::string& stream, const Error& e) const {
  if (e.code == Errc::not_found)
    return fail(call, make_error(Errc::not_found, "no CloudWatch log stream \"" + stream +
                                                      "\" in log group \"" + group + "\" (" +
                                                      e.message + ")"));
  return fail(call, e);
}

Result<std::string> MwaaAirflowClient::log_group_for(const std::string& call, const LogRequest& lr,
                                                     const LogSink& sink) {
  if (lr.dag_id.empty() || lr.run_id.empty() || lr.task_id.empty())
    return fail(call,
                make_error(Errc::invalid_argument, "DAG id, run id and task id are required"));
  if (lr.try_number < 1 || lr.map_index < -1)
    return fail(call, make_error(Errc::invalid_argument,
                                 "try_number must be >= 1 and map_index >= -1 for MWAA logs"));
  if (!sink) return fail(call, make_error(Errc::invalid_argument, "no log sink"));
  auto group = log_group();
  if (!group) return fail(call, group.error());
  return group;
}

Status MwaaAirflowClient::read_task_log_tail(const LogRequest& lr, std::size_t lines,
                                             const LogSink& sink, LogStats* stats) {
  const std::string call = "read task log";
  auto group = log_group_for(call, lr, sink);
  if (!group) return group.error();
  LogStats local;
  LogStats& st = stats ? *stats : local;
  LineFn fn = counting_sink(sink, st,
                            log_read_bytes_max_);  // resets st; read_backward then counts the pages
  const std::string stream = mwaa_log_stream(lr);
  // Pages come newest first; each is rendered into owned lines (a page is at most 1 MB / 10 000
  // events), kept until the tail is complete, then delivered oldest first.
  struct Owned {
    std::string text, level;
  };
  std::deque<std::vector<Owned>> got;
  std::size_t have = 0;
  bool probing = false;  // enough lines: this page only tells whether the start was reached
  auto r = logs_->read_backward(
      *group, stream,
      [&](std::vector<aws::LogEvent>& events) {
        if (probing) return false;  // more events before the tail: the start is not reached
        std::vector<Owned> page;
        for (const auto& ev : events)
          render_cloudwatch_event(ev, [&](std::string_view t, std::string_view l) {
            page.push_back({std::string(t), std::string(l)});
            return true;
          });
        have += page.size();
        got.push_front(std::move(page));
        if (have >= std::max<std::size_t>(lines, 1)) probing = true;
        return true;
      },
      &st.pages);
  if (!r) return stream_error(call, *group, stream, r.error());
  st.head_skipped = !*r;
  // Deliver only what a ring of `lines` would keep anyway (plus nothing older when the start was
  // not reached): whole pages were rendered, the surplus is dropped here.
  std::size_t skip = !*r && have > lines ? have - lines : 0;
  for (const auto& page : got)
    for (const auto& l : page) {
      if (skip > 0) {
        --skip;
        continue;
      }
      if (!fn(l.text, l.level)) return Status::Ok();
    }
  return Status::Ok();
}

Status MwaaAirflowClient::read_task_log(const LogRequest& lr, const LogSink& sink,
                                        LogStats* stats) {
  const std::string call = "read task log";
  auto group = log_group_for(call, lr, sink);
  if (!group) return group.error();
  LogStats local;
  LogStats& st = stats ? *stats : local;
  LineFn fn = counting_sink(sink, st, log_read_bytes_max_);
  std::string stream = mwaa_log_stream(lr);
  auto s = logs_->read_stream(
      *group, stream, [&](const aws::LogEvent& ev) { return render_cloudwatch_event(ev, fn); },
      &st.pages);
  if (!s) return stream_error(call, *group, stream, s.error());
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
