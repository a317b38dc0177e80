// MwaaAirflowClient: AirflowClient for an Amazon MWAA environment (docs/mwaa.md).
//  - Runs, tasks, DAGs, clears: the wrapped RestAirflowClient over InvokeRestApi
//    (aws::InvokeRestApiHttpClient), unchanged.
//  - read_task_log: CloudWatch Logs, stream
//    dag_id={d}/run_id={r}/task_id={t}/[map_index={i}/]attempt={n}.log (":" → "_") in the task
//    log group (config mwaa.log_group, else GetEnvironment's TaskLogs.CloudWatchLogGroupArn,
//    looked up once). Read oldest first, one page in memory; Airflow 3 JSON events are rendered
//    like the REST log endpoint's (EventLogDecoder::render_event), plain lines pass as they are.
//  - read_task_log_tail: the same stream read from its end (GetLogEvents startFromHead=false).
//  - trigger_dag_run: the MWAA CLI (CreateCliToken + /aws_mwaa/cli) with
//    `dags trigger` whose arguments are single-quoted (aws::dags_trigger_command), then the run
//    is read back through the REST API.
// Thread-safe: the log group cache is guarded by a mutex; the rest is immutable or thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "airflow/airflow_client.h"
#include "airflow/log_stream.h"
#include "aws/cloudwatch_logs.h"
#include "aws/mwaa.h"
#include "config/config.h"

namespace dm::airflow {

// The CloudWatch stream name MWAA uses for a task try.
std::string mwaa_log_stream(const LogRequest& r);
// One CloudWatch event as log lines: an Airflow 3 JSON event rendered as the REST log endpoint's
// (EventLogDecoder::render_event, with its level), else the message split on '\n' (a trailing
// '\r' dropped per line). Returns false when `fn` asked to stop.
bool render_cloudwatch_event(const aws::LogEvent& ev, const LineFn& fn);

class MwaaAirflowClient final : public AirflowClient {
 public:
  // `log_group` empty = ask GetEnvironment on first use. All pointers non-null.
  // `log_read_bytes_max`: most bytes of log text one log read delivers (LogStats::capped beyond;
  // caps.log_read_bytes_max); 0: no cap.
  MwaaAirflowClient(std::unique_ptr<AirflowClient> rest, std::shared_ptr<aws::MwaaApi> mwaa,
                    std::shared_ptr<aws::CloudWatchLogsClient> logs, std::string log_group,
                    std::uint64_t log_read_bytes_max =
                        static_cast<std::uint64_t>(config::Caps{}.log_read_bytes_max));

  const std::string& environment() const override { return rest_->environment(); }
  Result<Dialect> api_dialect() override { return rest_->api_dialect(); }
  Result<ServerInfo> server_info() override { return rest_->server_info(); }
  Status check_auth() override { return rest_->check_auth(); }
  Result<std::vector<DagRun>> list_dag_runs(const RunQuery& q) override {
    return rest_->list_dag_runs(q);
  }
  Result<DagRun> get_dag_run(const std::string& dag_id, const std::string& run_id) override {
    return rest_->get_dag_run(dag_id, run_id);
  }
  Result<std::optional<DagRun>> latest_run(const std::string& dag_id) override {
    return rest_->latest_run(dag_id);
  }
  Result<std::vector<TaskInstance>> list_task_instances(
      const std::string& dag_id, const std::string& run_id,
      const std::vector<std::string>& states) override {
    return rest_->list_task_instances(dag_id, run_id, states);
  }
  Status read_task_log(const LogRequest& req, const LogSink& sink,
                       LogStats* stats = nullptr) override;
  // The tail from the stream's end backwards (aws::CloudWatchLogsClient::read_backward): pages
  // until `lines` lines are rendered, then one more page only to learn whether the stream's
  // start was reached (2 GetLogEvents calls for any tail that fits one page, whatever the
  // stream's size). Delivers exactly the last `lines` lines when the start was not reached
  // (stats->head_skipped), else the whole (short) log so that line numbers are the real ones.
  // Memory: the pages read.
  Status read_task_log_tail(const LogRequest& req, std::size_t lines, const LogSink& sink,
                            LogStats* stats = nullptr) override;
  Result<std::vector<TaskInstance>> list_task_instances_in(
      const std::vector<std::string>& states) override {
    return rest_->list_task_instances_in(states);
  }
  Result<std::vector<TaskInstance>> recent_successes(const std::string& dag_id,
                                                     const std::string& task_id,
                                                     Clock::time_point since,
                                                     std::size_t limit) override {
    return rest_->recent_successes(dag_id, task_id, since, limit);
  }
  Result<Dag> get_dag(const std::string& dag_id) override { return rest_->get_dag(dag_id); }
  Result<std::vector<Dag>> list_dags(const DagQuery& q) override { return rest_->list_dags(q); }
  Result<std::vector<ImportError>> list_import_errors() override {
    return rest_->list_import_errors();
  }
  Result<DagRun> trigger_dag_run(const TriggerRequest& req) override;
  Result<std::vector<ClearedTask>> clear_task_instances(const ClearRequest& req) override {
    return rest_->clear_task_instances(req);
  }

  // The task log group (configured or looked up). Errors as aws::MwaaApi::task_log_group().
  Result<std::string> log_group();

 private:
  Error fail(const std::string& call, const Error& e) const;
  Error stream_error(const std::string& call, const std::string& group, const std::string& stream,
                     const Error& e) const;
  // Checks a log request (ids, try, map index, sink) and returns the task log group to read it
  // from; errors (invalid_argument, or log_group's) are already wrapped by fail(call, …).
  Result<std::string> log_group_for(const std::string& call, const LogRequest& lr,
                                    const LogSink& sink);

  std::unique_ptr<AirflowClient> rest_;
  std::shared_ptr<aws::MwaaApi> mwaa_;
  std::shared_ptr<aws::CloudWatchLogsClient> logs_;
  std::mutex mu_;
  std::string log_group_;
  std::uint64_t log_read_bytes_max_;
};

}  // namespace dm::airflow
