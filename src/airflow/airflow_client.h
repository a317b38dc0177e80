// AirflowClient: everything the runbook needs from an Airflow deployment, over one interface.
// RestAirflowClient (rest_client.h) implements it for Airflow 3 (/api/v2, JWT) and Airflow 2
// (/api/v1, basic auth); tests use it over FakeHttpClient.
//
// Errors (never exceptions): unknown DAG / run / task -> Errc::not_found; refused / DNS /
// 5xx after retries -> unavailable; slow -> timeout; wrong or expired credentials ->
// unauthenticated; 403 -> permission_denied; 409 -> conflict; garbage JSON -> protocol;
// bad arguments -> invalid_argument. Every message names the environment and the call, e.g.
// `environment "prod": list DAG runs: Airflow at http://af:8080 refused the connection`.
//
// Thread-safety: implementations are safe to call from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airflow/types.h"
#include "common/clock.h"
#include "common/result.h"

namespace dm::airflow {

struct RunQuery {
  std::string dag_id = "~";           // "~" = all DAGs
  std::vector<std::string> states{};  // empty = any state
  // Window on the run's position in time (v2 run_after, v1 execution_date); unset = open.
  std::optional<Clock::time_point> since{};
  std::optional<Clock::time_point> until{};
  // 0 = page to the end. Otherwise stop after this many runs.
  std::size_t limit = 0;
  // Window on the run's end (end_date, both dialects); unset = open. A run that has not ended
  // never matches a set bound. "What failed in the last hour" wants this one: on Airflow 2 a
  // scheduled run's execution_date is a whole interval before it actually ran.
  std::optional<Clock::time_point> ended_since{};
  std::optional<Clock::time_point> ended_until{};
};

// list_dags: every DAG (paged to the end), or those carrying any of `tags`.
struct DagQuery {
  std::vector<std::string> tags{};  // empty = any; else DAGs with at least one of them
};

struct LogRequest {
  std::string dag_id{};
  std::string run_id{};
  std::string task_id{};
  int try_number = 1;
  int map_index = -1;
};

// One log line (no trailing newline). For v2 structured events, `text` is the rendered event
// ("timestamp [level] logger: event" plus the exception, if any) and `level` its level.
struct LogLine {
  std::string_view text;
  std::string_view level;  // may be empty (v1 text logs)
};

// Receives lines in order. Return false to stop reading (e.g. enough lines for a tail's
// purposes, or a byte cap): read_task_log then returns OK.
using LogSink = std::function<bool(const LogLine&)>;

struct LogStats {
  std::size_t lines = 0;
  std::size_t bytes = 0;  // bytes of text delivered to the sink
  std::size_t pages = 0;  // HTTP requests made for the log
  bool stopped_by_sink = false;
  // The read stopped because the next line would have taken `bytes` past the client's byte cap
  // (caps.log_read_bytes_max, `read_bytes_max`): the sink saw every line before it, none after.
  bool capped = false;
  std::uint64_t read_bytes_max = 0;  // the byte cap this read ran under (0: none)
  // read_task_log_tail only: the read started at the log's end and did not reach its first line,
  // so the delivered lines are the log's last ones but their position in the whole log is not
  // known (`lines`/`bytes` count what was delivered, not the whole log).
  bool head_skipped = false;
};

struct TriggerRequest {
  std::string dag_id{};
  std::string dag_run_id{};  // chosen by the caller (idempotency key for the approval)
  nlohmann::json conf = nlohmann::json::object();
  std::string note{};
};

struct ClearRequest {
  std::string dag_id{};
  std::string dag_run_id{};
  std::vector<std::string> task_ids{};  // only these tasks (empty = every task of the run)
  bool only_failed = true;
  bool dry_run = true;  // ALWAYS sent explicitly
  bool include_downstream = false;
};

struct ClearedTask {
  std::string dag_id{};
  std::string run_id{};
  std::string task_id{};
  int map_index = -1;
  std::string state{};
};

class AirflowClient {
 public:
  virtual ~AirflowClient() = default;

  // Name of the environment (used in every error message).
  virtual const std::string& environment() const = 0;

  // The API dialect: as configured, else detected once through the public health endpoints
  // (no credentials needed). Fails when the server is unreachable or is not Airflow.
  virtual Result<Dialect> api_dialect() = 0;
  // Detects (or confirms) the API dialect and reads the server version. Needs no credentials
  // for detection; the version call is authenticated where the server requires it.
  virtual Result<ServerInfo> server_info() = 0;
  // Obtains/validates credentials with one cheap authenticated call.
  virtual Status check_auth() = 0;

  // Runs of one DAG or all ("~"), newest first (by run_after / execution_date), paged to the end
  // (or to `limit`), deduplicated by (dag_id, run_id).
  virtual Result<std::vector<DagRun>> list_dag_runs(const RunQuery& q) = 0;
  virtual Result<DagRun> get_dag_run(const std::string& dag_id, const std::string& run_id) = 0;
  // The newest run of a DAG; nullopt if it has none.
  virtual Result<std::optional<DagRun>> latest_run(const std::string& dag_id) = 0;

  // Task instances of a run (mapped instances appear once per map index), all pages.
  // `states` empty = any state. Ordered by task_id then map_index.
  virtual Result<std::vector<TaskInstance>> list_task_instances(
      const std::string& dag_id, const std::string& run_id,
      const std::vector<std::string>& states) = 0;

  // Task instances in any of `states` (e.g. running, queued) across every DAG and run, all pages:
  // what is running now. Ordered by dag_id, run_id, task_id, map_index.
  virtual Result<std::vector<TaskInstance>> list_task_instances_in(
      const std::vector<std::string>& states) = 0;
  // Successful instances of one task of a DAG (every run) that ended since `since`, at most
  // `limit` (a page or two): its recent durations.
  virtual Result<std::vector<TaskInstance>> recent_successes(const std::string& dag_id,
                                                             const std::string& task_id,
                                                             Clock::time_point since,
                                                             std::size_t limit) = 0;

  // Streams a task try's log line by line into `sink`, following continuation tokens; never
  // holds the whole log in memory. `stats` (optional) receives counts. The read goes to the log's
  // end unless the sink stops it, the transfer's time runs out (an error), or the next line would
  // pass the client's byte cap (the production clients take caps.log_read_bytes_max): then it
  // stops there and returns OK with `stats->capped` set.
  virtual Status read_task_log(const LogRequest& req, const LogSink& sink,
                               LogStats* stats = nullptr) = 0;

  // For a tail: delivers, oldest first, a run of consecutive lines that ENDS with the log's last
  // line and holds at least its last `lines` lines (or the whole log if shorter); it may deliver
  // more — the whole log where the source cannot read from the end — so the caller keeps a ring
  // of the last `lines`. When the source reads from the end (MWAA: CloudWatch GetLogEvents
  // backwards) and stops before the log's first line, `stats->head_skipped` is set. The sink may
  // stop the read early as with read_task_log. Errors as read_task_log.
  // Default: read_task_log (Airflow REST has no range read: the whole log streams through).
  virtual Status read_task_log_tail(const LogRequest& req, std::size_t lines, const LogSink& sink,
                                    LogStats* stats = nullptr) {
    (void)lines;
    return read_task_log(req, sink, stats);
  }

  virtual Result<Dag> get_dag(const std::string& dag_id) = 0;
  // DAGs, paged to the end (one request per page_size DAGs), with their timetable facts.
  virtual Result<std::vector<Dag>> list_dags(const DagQuery& q) = 0;
  virtual Result<std::vector<ImportError>> list_import_errors() = 0;

  // Writes (never retried blindly). trigger: Errc::conflict if the run id exists.
  virtual Result<DagRun> trigger_dag_run(const TriggerRequest& req) = 0;
  virtual Result<std::vector<ClearedTask>> clear_task_instances(const ClearRequest& req) = 0;
};

}  // namespace dm::airflow
