// Line runs: whole lines a source hands over one at a time, laid out one after another in one
// buffer, so that line-level consumers can do per-run work once instead of once per line.
//
// A source that has several whole lines at hand (a chunk of a log) lays them out in one buffer,
// each followed by '\n', and opens a LineRunScope over that buffer on its thread while it hands
// the lines, one by one and in order, to line-level consumers (LineRunBatcher does both).
// RedactStream::feed_line — and so DiagnoseStream::feed_line — then looks for secret candidates
// with one vectorscan call over the run instead of one call per line (a call costs ~50–100 ns of
// set-up, more than scanning a 200-byte line): a line given as a view into the open run, bounded
// by the run's newlines, in which that scan found no candidate for any rule, is passed through as
// it is; every other line takes the per-line path. Redaction never depends on the scope: the
// output is byte-identical with or without it (differential tests), only the speed differs. So a
// consumer needs no change, and a source that cannot lay its lines out this way opens no scope.
//
// Contract: the run's bytes must not change while its scope is open; scopes nest (the innermost
// one counts) and belong to the thread that opened them; a scope must be closed on that thread
// (it is an RAII object: keep it on the stack).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dm::logs {

// The innermost open run on this thread: its bytes and an id unique per scope within the process
// (a buffer reused for the next run gets a new id). `text` is empty when no scope is open.
struct LineRun {
  std::string_view text;
  std::uint64_t id = 0;
};

class LineRunScope {
 public:
  // `run`: whole lines, each followed by '\n' (what lies between two newlines is one line).
  explicit LineRunScope(std::string_view run);
  ~LineRunScope();
  LineRunScope(const LineRunScope&) = delete;
  LineRunScope& operator=(const LineRunScope&) = delete;

  static LineRun current();

 private:
  LineRun prev_;
};

// Collects lines (text + level) into a run and hands them, in order and unchanged, to `fn`
// inside a LineRunScope: when the run holds `run_bytes` bytes, and at flush(). A line longer
// than `run_bytes` is handed on at once (after the lines before it), outside any run. The views
// `fn` receives are valid during the call. Memory: about 2 * run_bytes. Not thread-safe.
class LineRunBatcher {
 public:
  using Fn = std::function<void(std::string_view text, std::string_view level)>;
  static constexpr std::size_t kDefaultRunBytes = 16 * 1024;

  explicit LineRunBatcher(Fn fn, std::size_t run_bytes = kDefaultRunBytes);
  // Copies the line; `fn` sees it at the latest at flush().
  void push(std::string_view text, std::string_view level);
  // Hands every collected line to `fn`.
  void flush();

 private:
  struct Entry {
    std::uint32_t text_off, text_len, level_off, level_len;
  };
  Fn fn_;
  std::size_t run_bytes_;
  std::string run_;     // the lines, each followed by '\n'
  std::string levels_;  // their levels, one after another (a repeated level is stored once)
  std::vector<Entry> entries_;
  std::uint32_t last_level_off_ = 0, last_level_len_ = 0;
};

}  // namespace dm::logs
