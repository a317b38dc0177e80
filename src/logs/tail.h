// Bounded tail of a log stream: the last N lines, each cut at a byte cap, with a total byte cap on
// the joined text. Memory stays flat however large the input is: at most
// min(max_lines, hard_max_lines) * (max_line_bytes + 40) bytes plus a constant.
// Feed it REDACTED text (Redactor/RedactStream come first in the pipeline).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dm::logs {

struct TailOptions {
  std::size_t max_lines = 200;        // lines kept; clamped to hard_max_lines
  std::size_t hard_max_lines = 5000;  // upper bound whatever a caller asks
  std::size_t max_bytes = 16 * 1024;  // cap of text() (and of anything built from lines())
  std::size_t max_line_bytes = 1024;  // longer lines are cut (marker appended)
};

// Not thread-safe (one per stream).
// Lines: '\n' ends a line; a trailing '\r' is dropped; a last line without '\n' counts after
// finish(). Line numbers are 1-based over the whole input.
class Tail {
 public:
  explicit Tail(TailOptions opt = {});

  void feed(std::string_view chunk);
  // Line-level entry: `line` is ONE whole line, kept as given (no '\n' search, no '\r' dropped:
  // an embedded '\n' or '\r' stays inside the line), cut at max_line_bytes like any other.
  // `level` (e.g. "error" from a structured Airflow 3 event; may be empty) is kept with it, cut
  // at 32 bytes. total_bytes() counts line.size() + 1, as if the line had ended with '\n'. A
  // partial line pending from feed() is ended first. Memory bound as for feed().
  void push(std::string_view line, std::string_view level = {});
  // Ends the input: a pending line without '\n' becomes the last line. Further feed() calls after
  // finish() start a new line (numbering continues).
  void finish();

  struct Line {
    std::uint64_t number;  // 1-based line number in the whole input
    std::string text;      // at most max_line_bytes bytes of the line (never splitting a UTF-8
                           // sequence), then "…[cut N bytes]" if the line was longer (N = bytes
                           // dropped)
    bool cut;              // the line was longer than max_line_bytes
    std::string level{};   // the source's level (push() only); "" when it gave none
  };
  // The kept lines (at most max_lines), oldest first. Lines already complete; call finish() to
  // include a last line without '\n'.
  std::vector<Line> lines() const;
  // The kept lines joined with '\n', at most max_bytes bytes: when they do not fit, the oldest
  // lines are dropped first and the text starts with the line "…[N earlier lines omitted]".
  // If even the newest line does not fit, it is cut (UTF-8 safe) to fit.
  std::string text() const;

  std::uint64_t total_lines() const { return total_lines_; }  // complete lines seen
  std::uint64_t total_bytes() const { return total_bytes_; }  // all bytes fed
  // True if lines() is not the whole input: earlier lines dropped or a kept line cut. (text() may
  // additionally omit lines to fit max_bytes; it says so in its first line.)
  bool truncated() const;

  const TailOptions& options() const { return opt_; }

 private:
  void push_line(std::string_view level = {});
  void keep_line(std::string_view v, std::uint64_t len, std::string_view level);
  TailOptions opt_;
  // The kept lines as a ring: oldest at ring_[first_] once it is full (max_lines), else at 0.
  // A full ring overwrites its oldest slot in place (its buffers are reused: no allocation).
  const Line& at(std::size_t i) const { return ring_[(first_ + i) % ring_.size()]; }
  std::vector<Line> ring_;
  std::size_t first_ = 0;
  std::string cur_;              // first max_line_bytes bytes of the current line
  std::uint64_t cur_bytes_ = 0;  // full length of the current line so far
  std::uint64_t total_lines_ = 0;
  std::uint64_t total_bytes_ = 0;
};

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence. Exposed for reuse.
std::string_view utf8_prefix(std::string_view s, std::size_t max);

}  // namespace dm::logs
