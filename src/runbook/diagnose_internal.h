// Diagnose stage internals shared by its tools (task_log, extract_task_errors, failure_frequency,
// summarize_root_cause, suggest_prevention_actions): finding the try to read, streaming its log
// through the redaction + tail pipeline with bounded memory, and keeping the signature history
// (occurrences) and the incident's diagnosis in the store.
//
// Log text is untrusted: it is redacted as it streams in, before anything keeps a byte of it.
// Functions here never throw and are thread-safe (no shared mutable state).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "airflow/airflow_client.h"
#include "common/result.h"
#include "logs/pipeline.h"
#include "mcp/server.h"
#include "runbook/deps.h"
#include "store/store.h"

namespace dm::runbook::diagnose {

// ONE output byte cap for the diagnose tools (task_log, extract_task_errors, extract_errors,
// failure_frequency): output_cap(deps, kOutputCap) (tool_kit.h: the smaller of this default and
// the config's caps.output_bytes_max), computed once per call by log_output_cap(). finish()
// (tool_kit.h) enforces it on the final answer; nothing else caps the output. What runs before
// finish() only chooses WHAT to keep within that same number, by priority — task_log keeps the
// error's lines before the newest ones, logs::diagnose_redacted_lines keeps the root-cause line
// before relevant lines, chain and frames — and both get log_content_budget(cap), never a
// constant of their own. (A line's own cut, kMaxLineBytes, bounds one line, not the answer.)
inline constexpr std::size_t kOutputCap = 16 * 1024;
// Bytes of an answer set aside for the fields a tool adds around the log-derived part (ids,
// counts, notes, history).
inline constexpr std::size_t kFixedFieldsBytes = 2048;
std::size_t log_output_cap(const Deps& deps);
// The part of `cap` the log-derived content (task_log's lines, a Diagnosis) may fill.
constexpr std::size_t log_content_budget(std::size_t cap) {
  return cap > kFixedFieldsBytes * 4 ? cap - kFixedFieldsBytes * 2 : cap / 2;
}
// Longest line kept by task_log (longer ones are cut with a marker).
inline constexpr std::size_t kMaxLineBytes = 2048;

// One task try.
struct TryRef {
  std::string dag_id;
  std::string run_id;
  std::string task_id;
  int map_index = -1;
  int try_number = 0;
  bool latest = true;    // try_number is the task instance's latest try
  std::string end_date;  // the task instance's end (Airflow ISO) when `latest`, else ""
  std::string state;     // the task instance's state
  int latest_try = 0;    // the task instance's latest try (0: unknown)
};

// The latest try of a task instance (try_number may be 0: it never ran, and has no log).
inline TryRef latest_try_of(const airflow::TaskInstance& ti) {
  return TryRef{ti.dag_id, ti.run_id,   ti.task_id, ti.map_index, ti.try_number,
                true,      ti.end_date, ti.state,   ti.try_number};
}

// A failed try that a later try of the same task recovered (the task instance, at its latest
// try, succeeded): history worth keeping, not an open incident, nothing to rerun.
inline bool recovered_by_later_try(const TryRef& t) { return !t.latest && t.state == "success"; }

// The task instance (dag, run, task, map_index) with one list_task_instances call; the try is
// `try_number` when given, else the latest. Errors: not_found naming the task (with the known
// map indexes for a mapped task), failed_precondition when the task never ran (no try, no log),
// invalid_argument for a try beyond the latest, and Airflow's errors (with a next step).
Result<TryRef> resolve_try(airflow::AirflowClient& client, const std::string& dag_id,
                           const std::string& run_id, const std::string& task_id, int map_index,
                           std::optional<int> try_number);

// How a log read went.
struct LogRead {
  airflow::LogStats stats;  // stats.head_skipped: a tail read did not reach the log's start
  // Stopped at the environment's byte cap (caps.log_read_bytes_max, stats.read_bytes_max bytes):
  // the lines before it were used, the rest of the log was not read.
  bool capped = false;
  bool cancelled = false;  // stopped because the request was cancelled
};

// Hands each of the try's log lines, as the Airflow layer delivers it (text + level, views valid
// during the call), to `line` — once, in order, never split again: the lines are copied into runs
// of ~16 KiB and handed on from there inside a logs::LineRunScope (logs/line_run.h), so that the
// consumer's RedactStream::feed_line scans a run at once; the last run is handed on before
// stream_log returns (lines of a failed read may not all be). The read goes to
// the log's end (Airflow REST has no range read; callers keep a ring of lines, so memory stays
// flat), bounded by time — the environment's request timeout covers the transfer, and the read
// stops when `ctx` (may be null) is cancelled — and by the client's byte cap
// (caps.log_read_bytes_max, enforced by the Airflow layer: `capped`). Never holds the log.
// `tail_lines` 0 reads the whole log from its start; otherwise only what a tail of that many lines
// needs (AirflowClient::read_task_log_tail: the whole log over REST, the stream's last pages on
// MWAA), so `line` may see fewer lines than the log has — keep a ring.
// Errors: Airflow's (not_found when the log is missing, …), with a next step.
Result<LogRead> stream_log(airflow::AirflowClient& client, const TryRef& t,
                           const std::function<void(const airflow::LogLine&)>& line,
                           const mcp::ToolContext* ctx, std::size_t tail_lines = 0);

// The try's whole log, line by line, through logs::DiagnoseStream::feed_line (redact → tail of
// `tail_lines`, as the caller's declaration bounded it → extract → signature → category); the
// Diagnosis fits
// log_content_budget(log_output_cap(deps)). `read` (may be null) receives the read statistics.
Result<logs::Diagnosis> diagnose_try(const Deps& deps, airflow::AirflowClient& client,
                                     const TryRef& t, std::size_t tail_lines,
                                     const mcp::ToolContext* ctx, LogRead* read);

// When the failure happened: the try's end (latest try only), else `now_ms`.
int64_t seen_at_ms(const TryRef& t, int64_t now_ms);

// What record_sighting managed to write; `note` says what failed (empty when all went well).
struct Recorded {
  std::string incident_id;  // "" when the incident could not be written
  bool occurrence = false;
  std::string note;
};

// Records a found diagnosis: the occurrence (signature, env, dag, run, task, seen_at) and the
// run's incident (signature, category, redacted error set; state kept; a new one is "open";
// summary_json gains "diagnose" (latest) and "diagnoses"[signature] entries). Store failures are
// reported in `note`, never as an error. A diagnosis that found nothing records nothing. A try
// recovered by a later one (recovered_by_later_try) records the occurrence only: no incident is
// opened or changed for it.
Recorded record_sighting(const Deps& deps, const std::string& env, const TryRef& t,
                         const logs::Diagnosis& d, int64_t seen_at_ms);

// What the store knows about a signature's error (from the incidents of its latest sightings).
struct SignatureInfo {
  bool found = false;  // an incident carries this signature's diagnosis
  std::string category;
  std::string exception_type;
  std::string error;
  std::string action;
  std::string reason;
};
// Looks at the incidents of the newest sightings of `signature` (at most a few), optionally only
// in `dag_id`. Errors: the store's.
Result<SignatureInfo> signature_info(store::Store& s, const std::string& signature,
                                     const std::string& dag_id = "");

// Registration of each tool (called by register_diagnose_tools).
Status register_task_log(mcp::Server& server, const std::shared_ptr<const Deps>& deps);
Status register_extract_task_errors(mcp::Server& server, const std::shared_ptr<const Deps>& deps);
Status register_failure_frequency(mcp::Server& server, const std::shared_ptr<const Deps>& deps);
Status register_summarize_root_cause(mcp::Server& server, const std::shared_ptr<const Deps>& deps);
Status register_suggest_prevention(mcp::Server& server, const std::shared_ptr<const Deps>& deps);

}  // namespace dm::runbook::diagnose
