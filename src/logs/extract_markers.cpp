// What is left: Airflow failure markers, lone exception lines (logged without a traceback) and
// error-level records.
#include "logs/extract_internal.h"

namespace dm::logs::detail {
namespace {

bool airflow_phrase(std::string_view t) {
  for (std::string_view p : {"Task failed with exception",
                             "Failed to execute job",
                             "Marking task as FAILED",
                             "Task received SIGTERM",
                             "Received SIGTERM",
                             "timed out",
                             "Timeout",
                             "upstream_failed",
                             "was killed externally",
                             "Executor reports task instance",
                             "zombie",
                             "Process exited abnormally",
                             "Task instance is in",
                             "Dependencies not met",
                             "heartbeat timed out",
                             "without a heartbeat",
                             "missed heartbeat",
                             "lost heartbeat",
                             "reported that the task instance",
                             "externally set to",
                             "Broken DAG",
                             "could not be found; either it does not exist"}) {
    if (contains_ci(t, p)) return true;
  }
  return false;
}

bool lone_exception(std::string_view t, std::string& type, std::string& msg) {
  if (!split_exception(t, type, msg)) return false;
  std::string st = short_type(type);
  bool typed = st.ends_with("Error") || st.ends_with("Exception") || st.ends_with("Timeout") ||
               st == "KeyboardInterrupt" || st == "SystemExit";
  return typed && st.size() > 5;
}

}  // namespace

void find_markers(Ctx& c) {
  const auto& L = c.lines;
  for (std::size_t i = 0; i < L.size(); ++i) {
    if (c.consumed[i]) continue;
    const NormLine& l = L[i];
    std::string_view t = trim(l.text);
    if (t.empty()) continue;
    ExtractedError e;
    std::string type, msg;
    if ((l.level == Level::none || l.level >= Level::warning) && lone_exception(t, type, msg)) {
      e.kind = ErrorKind::python_exception;
      e.strength = is_wrapper_exception(type, msg) ? kWrapper : kSpecific - 5;
      e.chain.push_back(ChainLink{cap_utf8(type, 256), cap_utf8(msg), l.number});
      unwrap_dbapi(type, msg);
      e.exception_type = cap_utf8(type, 256);
      e.message = cap_utf8(msg);
    } else if (airflow_phrase(t) && (l.level >= Level::error || l.record_start)) {
      e.kind = ErrorKind::airflow_marker;
      e.message = cap_utf8(t);
      e.strength = l.level >= Level::error ? kMarker : kMarker - 1;
    } else if (l.level >= Level::error && (l.record_start || !l.json)) {
      // (The lines an Airflow 3 error event carries in its exception text are not records.)
      e.kind = ErrorKind::error_line;
      e.message = cap_utf8(t);
      e.strength = kErrorLine;
    } else {
      continue;
    }
    c.consumed[i] = true;
    add_line(e, l);
    e.root_cause_line = cap_utf8(t);
    e.root_cause_line_number = l.number;
    c.out.push_back(std::move(e));
  }
}

}  // namespace dm::logs::detail
