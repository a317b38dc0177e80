// Incremental decoding of task-log bodies into lines, chunk by chunk (bodies can be many MB).
//  - TextLineSplitter: v1 text/plain logs.
//  - EventLogDecoder: v2 bodies, either NDJSON (one structured event per line) or the JSON page
//    form {"content": [events...], "continuation_token": ...}. Each event is rendered as text
//    ("TIMESTAMP [LEVEL] LOGGER: EVENT key=value") followed by a Python-style traceback when it
//    carries `error_detail`, so downstream error extraction sees the usual shape.
// Not thread-safe (one decoder per transfer).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "airflow/airflow_client.h"
#include "common/result.h"

namespace dm::airflow {

// Emits (text, level) per line; returns false to stop.
using LineFn = std::function<bool(std::string_view text, std::string_view level)>;

// Resets `st` and returns a LineFn that hands each line to `sink` and counts it in `st` (lines,
// bytes incl. the newline, stopped_by_sink). Both references must outlive the returned function.
LineFn counting_sink(const LogSink& sink, LogStats& st);

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

class EventLogDecoder {
 public:
  static constexpr std::size_t kMaxLine = 64u << 20;  // one JSON page / event; beyond is an error

  explicit EventLogDecoder(LineFn fn) : fn_(std::move(fn)) {}
  bool feed(std::string_view chunk);
  bool finish();
  // Set when the body was the JSON page form and named a next page.
  const std::string& continuation_token() const { return token_; }
  bool saw_page_form() const { return page_form_; }
  std::size_t events() const { return events_; }
  // A decoding problem (bad JSON, oversized line); feed() returns false when it is set.
  const std::optional<Error>& error() const { return error_; }

  // Renders one structured event into lines (exposed for tests).
  static bool render_event(const nlohmann::json& ev, const LineFn& fn);

 private:
  bool line(std::string_view l);
  LineFn fn_;
  std::string partial_;
  std::string token_;
  bool page_form_ = false;
  std::size_t events_ = 0;
  std::optional<Error> error_;
};

}  // namespace dm::airflow
