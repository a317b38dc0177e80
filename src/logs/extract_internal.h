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
void find_exits(Ctx& c);    // shell exit codes and OOM kills
void find_markers(Ctx& c);  // Airflow failure markers and error-level lines

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

// Strengths (see extract.h).
inline constexpr int kOom = 50, kSpecific = 40, kShell = 20, kWrapper = 10, kMarker = 5,
                     kErrorLine = 3, kWeakExit = 2;

}  // namespace dm::logs::detail
