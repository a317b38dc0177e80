// Error extraction: finds the failure in a (redacted) task log and says which line matters.
//
// Input is a sequence of numbered lines (or a text that is split into lines numbered from 1).
// Understood formats, mixed freely in one log:
//   * Airflow 2 records  `[2026-01-01, 00:00:00 UTC] {taskinstance.py:3311} ERROR - msg`
//     (and `[...] {subprocess.py:93} INFO - <program output>`), raw continuation lines;
//   * Airflow 3 structured events, one JSON object per line with `event`, `level`, `timestamp`,
//     optionally `error_detail` (structlog dict traceback: list of {exc_type, exc_value, is_cause,
//     frames:[{filename, lineno, name}]}, outermost exception first) or `exception` (text);
//   * Spark/log4j records `26/01/01 00:00:00 ERROR SparkContext: msg`, plain program output;
//   * KubernetesPodOperator container output `[base] msg` (the container-name prefix is dropped).
// Extractors: Python tracebacks (with chains "During handling…" / "The above exception was the
// direct cause…"), JVM stack traces (`Exception in thread…`, `Caused by:`, `\tat …`, Spark's
// `Driver stacktrace:`), SQL engine errors (Postgres `ERROR:`, MySQL `ERROR 1146 (42S02)`,
// Snowflake `002003 (42S02):`, BigQuery `Final error was:`), dbt error summaries (`Database Error
// in model X (path)` + the cause on the lines under it), Kubernetes pod failures (OOMKilled / exit
// 137, ImagePullBackOff, Evicted, a pod pending past its start timeout with FailedScheduling
// events), shell exit codes, OOM kills (SIGKILL, -9/137, `Killed`), Airflow failure markers
// (error/critical records, SIGTERM, zombies, "finished although queued", …) and, as a last
// resort, the last error-level line.
//
// Choosing the primary error: every finding gets a strength (OOM kill > specific exception, SQL,
// dbt or pod error > non-zero shell exit > generic wrapper exceptions such as "Bash command
// failed", "Pod … returned a failure" or Py4JJavaError > Airflow failure markers > error-level
// lines); the strongest wins, the latest on ties. Within a Python chain the root cause is the
// first exception (the original one), and a SQLAlchemy/DBAPI wrapper message `(driver.Type) msg`
// is unwrapped to the driver's error; within a JVM trace it is the last `Caused by:`, and for
// Spark's "Job aborted due to stage failure" the executor's exception named in it.
// A message whose first line only announces the cause (ends in ':', or is a dbt "… Error in model
// X (path)" header) takes the next line too.
//
// Context: `lines` also carries, before the error, the last line of the log that names what ran
// (the bash command, the Spark submit command, the SQL's first line, the HTTP URL or wget's, the
// poke target), after a shell exit or pod failure the wrapper exception, under a PySpark driver's
// Py4JJavaError its line and the Java exception below. A shell exit with no output before it is
// named by its command ("wget … (exit code 8)"). A timeout while waiting for data gets the poke
// target appended ("… (waiting for: s3://b/p/_SUCCESS)"), so the signature names what is missing.
// Past max_findings the latest findings are kept, and the strongest one wherever it is.
//
// Pure functions: no I/O, no globals, thread-safe. Never throws; malformed input gives fewer or
// no findings. Work is linear in input size; every string copied out is capped (kMaxFieldBytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dm::logs {

inline constexpr std::size_t kMaxFieldBytes = 1024;  // cap on any message/line copied out

struct LogLine {
  std::uint64_t number = 0;  // 1-based line number in the whole log
  std::string text;          // without the trailing newline
};

enum class ErrorKind {
  python_exception,  // Python traceback (or Airflow 3 error_detail)
  jvm_exception,     // Java/Scala/Spark stack trace
  sql_error,         // database engine error outside a traceback
  shell_exit,        // non-zero exit code of a command
  oom_kill,          // killed by SIGKILL / out of memory
  pod_failure,       // Kubernetes pod failure (exception_type: ImagePullBackOff, Evicted, …)
  airflow_marker,    // Airflow failure record without a recognizable exception
  error_line,        // last resort: an error-level line
};
const char* error_kind_name(ErrorKind k) noexcept;

struct Frame {
  std::string file;  // Python file path or JVM class.method
  std::uint64_t lineno = 0;
  std::string function;  // Python function name (JVM: method)
  std::string code;      // Python source line shown under the frame, if any
  bool user = false;     // user code (not site-packages / stdlib / airflow / JVM runtime)
  template <class V>     // its JSON shape (common/json_shape.h)
  void fields(V& v) const {
    v.field("file", file, "Python file path or JVM class");
    v.field("line", lineno, "Line in that file (0: unknown)");
    v.field("function", function, "Function or method");
    v.field("user", user, "User code rather than a library or the runtime");
    v.maybe("code", code.empty() ? std::nullopt : std::optional(code), "Source line shown");
  }
};

struct ChainLink {  // one exception of a chain, in the order they happened (root cause first)
  std::string type;
  std::string message;
  std::uint64_t line = 0;
  template <class V>
  void fields(V& v) const {
    v.field("type", type, "Exception type");
    v.field("message", message, "Its message");
    v.field("line", line, "Log line number");
  }
};

struct RelevantLine {
  std::uint64_t number = 0;  // several lines may share a number (one JSON event → many lines)
  std::string text;          // capped at kMaxFieldBytes
  template <class V>
  void fields(V& v) const {
    v.field("n", number, "Log line number");
    v.field("text", text, "The line, redacted");
  }
};

struct ExtractedError {
  ErrorKind kind = ErrorKind::error_line;
  std::string exception_type;   // as written, e.g. "psycopg2.errors.UndefinedTable"
  std::string message;          // root-cause message (first line, joined when it ends in ':')
  std::string root_cause_line;  // the log line that states the root cause
  std::uint64_t root_cause_line_number = 0;
  std::uint64_t first_line = 0, last_line = 0;  // span of the finding
  std::vector<Frame> frames;        // user frames first (innermost first), then the failing one
  std::vector<ChainLink> chain;     // whole chain for Python/JVM, root cause first
  std::vector<RelevantLine> lines;  // the lines that explain it, in log order, capped
  int exit_code = 0;                // shell_exit / oom_kill when known
  int strength = 0;                 // ranking used to pick the primary finding
};

struct ExtractOptions {
  std::size_t max_frames = 5;
  std::size_t max_relevant_lines = 40;
  std::size_t max_findings = 32;  // keeps the latest ones
};

struct Extraction {
  std::vector<ExtractedError> errors;  // in log order
  // Index into errors of the primary finding, or -1 when nothing was found.
  int primary = -1;
  const ExtractedError* primary_error() const {
    return primary < 0 ? nullptr : &errors[static_cast<std::size_t>(primary)];
  }
};

Extraction extract_errors(const std::vector<LogLine>& lines, const ExtractOptions& opt = {});
// Splits on '\n' (a trailing '\r' is dropped) numbering from first_line.
Extraction extract_errors(std::string_view text, const ExtractOptions& opt = {},
                          std::uint64_t first_line = 1);

// Cuts s to at most max bytes on a UTF-8 boundary, appending "…" when cut.
std::string cap_utf8(std::string_view s, std::size_t max = kMaxFieldBytes);

}  // namespace dm::logs
