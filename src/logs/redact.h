// Secret redaction: every log byte passes through here before anything else sees it.
//
// Rules (rules/redaction.yaml, embedded; users add files) are regexes with a marker type. A match
// is replaced by "[REDACTED:<type>]"; with a `secret_group` only that capture group is replaced,
// so e.g. "password=" stays. Engine: a vectorscan (Hyperscan) scan over 4 MiB blocks finds the
// lines that can contain a secret (each rule's keywords as literals, or the rule's own regex for
// rules without keywords or with `prefilter: pattern`); RE2 then computes exact spans on those
// lines only. Lines without a hit are copied through untouched, in whole blocks.
// Throughput: ~1.1 GB/s per core streaming (docs/benchmarks/redact.md).
//
// Semantics (identical for Redactor::redact and RedactStream, for any chunking):
//  - Matching is per line ('\n' separates lines; it is never part of a match). A rule with
//    `keywords` only applies to lines that contain one of them (case-insensitive), as gitleaks.
//  - Lines longer than kMaxLineBytes (1 MiB) are cut into segments of at most that size (at the
//    last whitespace in the final 4 KiB when there is one) and each segment is redacted as a line,
//    so memory stays bounded and no byte is ever emitted unscanned. Limit: a secret straddling
//    a forced cut (possible only inside a >4 KiB run without whitespace) may be caught in part.
//  - A value split over two lines (other than blocks below) is not matched.
//  - Text inside an existing "[REDACTED:…]" marker is never re-redacted (redact is idempotent on
//    its own output for the builtin rules; tested on the corpus).
//  - Overlapping spans of several rules merge into one marker whose type is that of the span that
//    starts first (ties: the first-declared rule); the marker covers their union. Builtin rules
//    come before user rules.
//  - A secret value made only of '*' (Airflow's own "***" masking) is left alone, as are values
//    matched by the file's global `allow` list or the rule's own `allow` list (full match).
//  - Multi-line blocks (`block_end`, used for PEM private keys): the BEGIN/END lines themselves
//    stay; everything between is redacted and the LINE COUNT IS KEPT: each inner line becomes
//    exactly "[REDACTED:private-key]". A block with no END stops after `block_max_lines` lines.
//  - Output never contains '\n' where the input had none and keeps every newline of the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dm::logs {

class RedactEngine;  // implementation detail (redact_engine.h)

// Segment size for over-long lines (see above).
inline constexpr std::size_t kMaxLineBytes = 1 << 20;

// A loaded, compiled rule set. Immutable after load; thread-safe: redact() may be called
// concurrently from many threads (each call uses its own scratch space).
class Redactor {
 public:
  // The rule set embedded at build time from rules/redaction.yaml, compiled once per process and
  // shared. Errors: internal (the embedded file is broken — a build bug).
  static dm::Result<std::shared_ptr<const Redactor>> builtin();
  // Rules from YAML text only (no builtin rules). Errors: invalid_argument with the rule id and the
  // reason (YAML syntax, missing field, a regex RE2 or vectorscan rejects, a pattern that can match
  // the empty string, bad secret_group).
  static dm::Result<std::shared_ptr<const Redactor>> from_yaml(std::string_view yaml_text);
  // Builtin rules followed by the rules of each file, in order (users extend the rules; they
  // cannot remove builtin ones). Errors: not_found (unreadable file), invalid_argument (as above).
  static dm::Result<std::shared_ptr<const Redactor>> builtin_plus_files(
      const std::vector<std::string>& paths);

  // `text` with every secret replaced by "[REDACTED:<type>]". Equal to feeding `text` through a
  // RedactStream in any chunks and calling finish(). Never fails.
  std::string redact(std::string_view text) const;
  std::size_t rule_count() const;
  // Marker types, in rule order (duplicates removed); for docs and tests.
  std::vector<std::string> rule_types() const;

  // Internal: used by RedactStream.
  static dm::Result<std::shared_ptr<const Redactor>> compile_builtin();
  const RedactEngine& engine() const { return *engine_; }
  explicit Redactor(std::shared_ptr<const RedactEngine> e) : engine_(std::move(e)) {}

 private:
  std::shared_ptr<const RedactEngine> engine_;
};

// Streaming redaction of one log. Not thread-safe (one per stream). Keeps a reference to the
// Redactor. Memory is bounded by kMaxLineBytes + the largest chunk passed to feed().
// Output (concatenation of everything passed to `out`) == Redactor::redact(all input), for any
// chunking. Bytes of an incomplete last line are held back until its newline, the segment cap or
// finish(). `out` may be called zero or more times per call; each view is valid only during the
// callback.
class RedactStream {
 public:
  explicit RedactStream(std::shared_ptr<const Redactor> r);
  ~RedactStream();
  RedactStream(const RedactStream&) = delete;
  RedactStream& operator=(const RedactStream&) = delete;

  void feed(std::string_view chunk, const std::function<void(std::string_view)>& out);
  // Flushes the held-back partial line. After finish() the stream may be reused for a new log.
  void finish(const std::function<void(std::string_view)>& out);

  // Line-level entry, for sources that already deliver whole lines (Airflow's LogLine): redacts
  // `line` as ONE line and calls `out` exactly once with the whole redacted line (the view is
  // valid only during the call). Nothing is split or joined: a '\r' anywhere stays; an embedded
  // '\n' stays in the same output line (each '\n'-separated part is matched as a line, so a secret
  // on either side is still caught). When no rule hits, `out` receives `line` itself (no copy).
  // Multi-line block state (PEM keys) carries from one line to the next, as with feed().
  // Do not interleave with feed() inside a line: a partial line held back by feed() is flushed
  // (as its own output) before `line` is processed.
  // Speed: when `line` is a view into a line run open on this thread (line_run.h), the run is
  // scanned for candidates once, by the first such line, and a line without one is handed out
  // without a vectorscan call of its own; the output is the same either way.
  void feed_line(std::string_view line, const std::function<void(std::string_view)>& out);
  // feed_line calls that took the per-line path (not passed through on their run's scan): for
  // tests and benchmarks.
  std::uint64_t lines_scanned_alone() const;

 private:
  struct State;
  std::shared_ptr<const Redactor> redactor_;
  std::unique_ptr<State> st_;
};

}  // namespace dm::logs
