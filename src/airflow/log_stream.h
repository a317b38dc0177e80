// Incremental decoding of task-log bodies into lines, chunk by chunk (bodies can be many MB).
//  - TextLineSplitter: v1 text/plain logs.
//  - EventLogDecoder: v2 bodies, either NDJSON (one structured event per line) or the JSON page
//    form {"content": [events...], "continuation_token": ...}. Each event is rendered as text
//    ("TIMESTAMP [LEVEL] LOGGER: EVENT key=value") followed by a Python-style traceback when it
//    carries `error_detail`, so downstream error extraction sees the usual shape. NDJSON lines of
//    the flat Airflow 3 shape are rendered by FastEventDecoder (no JSON tree); everything else,
//    and anything it is unsure of, by the nlohmann path, with identical output either way.
// Not thread-safe (one decoder per transfer).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airflow/airflow_client.h"
#include "common/result.h"

namespace dm::airflow {

// Emits (text, level) per line; returns false to stop.
using LineFn = std::function<bool(std::string_view text, std::string_view level)>;

// Resets `st` and returns a LineFn that hands each line to `sink` and counts it in `st` (lines,
// bytes incl. the newline, stopped_by_sink). With `max_bytes` > 0 it stops (returns false, sets
// st.capped and st.stopped_by_sink) instead of handing over a line that would take st.bytes past
// max_bytes; st.read_bytes_max records the cap. Both references must outlive the returned function.
LineFn counting_sink(const LogSink& sink, LogStats& st, std::uint64_t max_bytes = 0);

class TextLineSplitter {
 public:
  explicit TextLineSplitter(LineFn fn) : fn_(std::move(fn)) {}
  // Returns false once the consumer asked to stop.
  bool feed(std::string_view chunk);
  bool finish();  // flushes a last line without a newline

 private:
  LineFn fn_;
  std::string partial_;
};

// Single-pass renderer for the flat event shape Airflow 3 emits on one NDJSON line
// ({"timestamp":"…","level":"…","event":"…","logger":"…",…}), without building a JSON tree.
// Promise: when decode() returns rendered or stopped, the (text, level) lines it handed to `fn`
// are byte-identical to EventLogDecoder::render_event(json::parse(line), fn), and the line is JSON
// nlohmann accepts. It declines (returns declined, having called `fn` for nothing) anything it is
// not sure about: not an object, invalid JSON/UTF-8/escapes, lone surrogates, duplicate keys, a
// "content" key (page forms), numbers, nested objects/arrays as values, a non-string
// error_detail/exception; the caller then uses the reference decoder. Values it accepts: strings,
// true, false, null. Not thread-safe (holds scratch buffers reused across lines).
class FastEventDecoder {
 public:
  enum class Outcome { rendered, stopped, declined };
  // `line` is one NDJSON line without its newline.
  Outcome decode(std::string_view line, const LineFn& fn);

 private:
  // The keys render_event treats apart, and what a line gave for each.
  enum Slot : unsigned { kTimestamp, kLevel, kLogger, kEvent, kErrorDetail, kException, kChan };
  static constexpr unsigned kSlots = 7;
  enum Kind : std::uint8_t { kString, kLiteral, kNull };  // kLiteral: true / false
  struct Value {
    std::string_view text;  // unescaped string, or the literal ("true"/"false"/"null")
    Kind kind;
    bool plain;  // only bytes plain_run passes (no escape): no '\n' or '\r' in the text
  };
  bool parse(std::string_view line);
  // `p` at the opening quote; on success past the closing one, `out` the unescaped string and
  // `plain` whether it had no escape. parse_string is the common case inline; the rest is in
  // parse_escaped (from the first byte that needs a look).
  bool parse_string(const char*& p, const char* end, std::string_view& out, bool& plain);
  bool parse_escaped(const char*& p, const char* end, const char* start, std::string_view& out);
  std::string& scratch();
  // head_ = the rendered head of the parsed line ("TIMESTAMP [LEVEL] LOGGER: ", as far as the
  // line has them) followed by `rest`; returns the head's length.
  std::size_t write_head(std::string_view level, std::string_view rest);
  // The line has the key (`present_` is reset per line; slots_ is only read where it is set).
  bool has(Slot s) const { return (present_ >> s) & 1u; }
  // The line has the key with a value other than null.
  bool has_value(Slot s) const { return has(s) && slots_[s].kind != kNull; }

  unsigned present_ = 0;  // one bit per Slot
  Value slots_[kSlots];
  std::vector<std::pair<std::string_view, std::string_view>> extras_;
  std::deque<std::string> pool_;  // unescaped strings of the current line (stable addresses)
  std::size_t pool_used_ = 0;
  std::string head_;
};

class EventLogDecoder {
 public:
  static constexpr std::size_t kMaxLine = 64u << 20;  // one JSON page / event; beyond is an error
  // fast: lines go through FastEventDecoder first, the nlohmann path only when it declines;
  // reference: always the nlohmann path (kept for differential tests and benchmarks).
  enum class Mode { fast, reference };

  explicit EventLogDecoder(LineFn fn, Mode mode = Mode::fast) : fn_(std::move(fn)), mode_(mode) {}
  bool feed(std::string_view chunk);
  bool finish();
  // Set when the body was the JSON page form and named a next page.
  const std::string& continuation_token() const { return token_; }
  bool saw_page_form() const { return page_form_; }
  std::size_t events() const { return events_; }
  // Events rendered by the fast path (<= events()).
  std::size_t fast_events() const { return fast_events_; }
  // A decoding problem (bad JSON, oversized line); feed() returns false when it is set.
  const std::optional<Error>& error() const { return error_; }

  // Renders one structured event into lines (exposed for tests).
  static bool render_event(const nlohmann::json& ev, const LineFn& fn);

 private:
  bool line(std::string_view l);
  LineFn fn_;
  Mode mode_;
  FastEventDecoder fast_;
  std::size_t fast_events_ = 0;
  std::string partial_;
  std::string token_;
  bool page_form_ = false;
  std::size_t events_ = 0;
  std::optional<Error> error_;
};

}  // namespace dm::airflow
