// Internal to the extractors (not a public API): the normalized line model they all work on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "logs/extract.h"

namespace dm::logs::detail {

enum class Level : std::uint8_t { none, debug, info, warning, error, critical };

// One logical line after the record header (Airflow 2 / log4j prefix, Airflow 3 JSON envelope) is
// understood. One JSON event may become several NormLines sharing a number.
struct NormLine {
  std::uint64_t number = 0;
  std::string text;     // message content (header stripped), indentation kept
  std::string display;  // what to show a human: raw line for text logs, text for JSON events
  std::string source;   // record source ("taskinstance.py", "task.stderr", "SparkContext"), or ""
  Level level = Level::none;
  bool record_start = false;  // the line carried a record header (or is a JSON event)
  bool json = false;
};

std::vector<NormLine> normalize(const std::vector<LogLine>& lines);

// Per-extractor state shared by the passes: which lines are already explained.
struct Ctx {
  const std::vector<NormLine>& lines;
  std::vector<bool> consumed;
  const ExtractOptions& opt;
  std::vector<ExtractedError> out;
};

void find_python(Ctx& c);
void find_jvm(Ctx& c);
void find_sql(Ctx& c);
void find_dbt(Ctx& c);      // dbt error summaries
void find_k8s(Ctx& c);      // Kubernetes pod failures (reads consumed lines too: pod dumps)
void find_exits(Ctx& c);    // shell exit codes and OOM kills
void find_markers(Ctx& c);  // Airflow failure markers and error-level lines
// Context lines (what ran) and the wrapper after a shell exit, for findings in log order.
void add_context(const std::vector<NormLine>& lines, std::vector<ExtractedError>& findings);

// Helpers.
std::string_view trim(std::string_view s);
std::string_view ltrim(std::string_view s);
bool starts_with_ci(std::string_view s, std::string_view p);
bool contains_ci(std::string_view s, std::string_view p);
// Parses "Type: message" / "Type" where Type is a dotted identifier; false if the line is not one.
bool split_exception(std::string_view s, std::string& type, std::string& message);
std::string short_type(std::string_view type);  // after the last '.' or '$'
void add_line(ExtractedError& e, const NormLine& l);
void finish_lines(ExtractedError& e, std::size_t cap);  // sort by number, cap (keep head+tail)
bool is_wrapper_exception(std::string_view type, std::string_view message);
// SQLAlchemy/DBAPI wrappers: a message "(psycopg2.errors.UndefinedColumn) column …" becomes type
// "psycopg2.errors.UndefinedColumn", message "column …". False (unchanged) for other messages.
bool unwrap_dbapi(std::string& type, std::string& message);
// A line of a stack trace: a JVM frame (`at a.B.c(B.java:12)`), `... 12 more`, or a Python
// frame (`File "x.py", line 3, in f`). Leading whitespace is ignored.
bool is_stack_line(std::string_view t);
// A message that only announces its cause on the next line: ends in ':'.
bool announces_continuation(std::string_view message);
// dbt's `Database Error in model stg_orders (models/stg_orders.sql)` (Compilation, Runtime,
// Parsing, Dependency Error; in model, test, seed, snapshot, …): the cause is on the next lines.
// `t` may carry dbt's `HH:MM:SS` prefix and ANSI colour codes. Fills what is given.
struct DbtHeader {
  std::string type;  // "DbtDatabaseError", "DbtCompilationError", …
  std::string node;  // "model stg_orders"
  std::string text;  // the header without prefix and colour codes
};
bool is_dbt_header(std::string_view t, DbtHeader* out = nullptr);
// `t` without dbt's `HH:MM:SS  ` prefix and ANSI colour codes (a view into `buf` or `t`).
std::string_view strip_dbt_prefix(std::string_view t, std::string& buf);

// Strengths (see extract.h).
inline constexpr int kOom = 50, kSpecific = 40, kShell = 20, kWrapper = 10, kMarker = 5,
                     kErrorLine = 3, kWeakExit = 2;

}  // namespace dm::logs::detail
