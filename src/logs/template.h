// Online log template mining: Drain (He et al., ICWS 2017) with pre-masking and an exact cache.
//
// Reference behaviour is Drain as drain3 implements it: lines are split on whitespace; a
// fixed-depth parse tree routes a line by its token count and its first (depth - 3) tokens (a token
// containing a digit routes as "<*>"); in the leaf, the cluster with the highest similarity
// (equal tokens / tokens, "<*>" positions not counted; ties → more "<*>") is chosen if it reaches
// `similarity`, and positions that differ become "<*>"; otherwise a new cluster starts.
// Differences, all aimed at stable templates and speed:
//   1. pre-masking: every line first goes through mask_variables_into(MaskMode::templates)
//      (signature_mask.h, the masker signatures use too, into a raw buffer) so dates, ids,
//      numbers… are typed placeholders before clustering; a line whose shape was masked before
//      takes the stored result instead (line_shape.h: exact, same output);
//   2. an exact cache maps an already-seen masked line straight to its cluster (most lines of a
//      real log repeat a masked shape), skipping the tree;
//   3. record headers: each line's leading date/time/host/level/component tokens (Airflow's
//      "[<date>, <time> UTC] {file.py:<n>} INFO -", syslog's "Jun <n> <time> host prog[<n>]:",
//      log4j's "<date> <time> INFO [thread] a.b.C:") are found per line from token shapes
//      (template.cpp record_header; no per-format rules) and skipped for routing and similarity —
//      Drain expects them cut off beforehand, which real logs don't do. Lines are matched on the
//      message's tokens, so headers of different lengths meet (the cluster's header then shows
//      as one "<*>"); the template text keeps the header;
//   4. one field, one token (field_tokens; template.cpp canonical_token): on the tree path a
//      second, token-level masking gives a field one shape whatever its value (signed numbers,
//      hex counters, units, decimals -> "<n>", compact date-times -> "<ts>", host:port ->
//      "<host>:<n>"), the header's severity word becomes "<level>", a quoted key's value is one
//      token; routing passes over fields and place names to the message's first words, a token
//      holding a placeholder weighs masked_weight (a word 1) in the similarity, and a line that
//      every word of a cluster's template matches joins it even under `similarity`; a number
//      with a time or size unit, and a parenthesised restatement after it, is one field
//      ("451 bytes (18.4 KB)" -> "<size>", "12 ms" -> "<dur>"); a message is not generalised
//      down to fewer than two of its words ("startAnimation begin" / "… end" stay apart; a
//      key's value, a quoted token, a dotted or path name are values, not words);
//   5. bounded memory: at most max_clusters clusters (the least recently used is evicted, as
//      drain3 does with max_clusters), lines cut at max_line_bytes, cache cleared past a byte cap.
// Cluster ids are 1-based, in order of creation, never reused.
// Not thread-safe (one miner per stream). Never throws except std::bad_alloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "logs/line_shape.h"

namespace dm::logs {

struct TemplateOptions {
  std::size_t depth = 4;    // drain3 default; ≥ 3
  double similarity = 0.4;  // drain3 default sim_th
  std::size_t max_clusters = 5000;
  std::size_t max_line_bytes = 4096;
  std::size_t cache_bytes = 32u << 20;
  bool premask = true;
  // Detect each line's record header (timestamp, host, level, component…; template.cpp
  // record_header) and leave it out of routing and similarity. Off: only leading masked
  // timestamps are (as before header detection).
  bool record_header = true;
  // One field, one token (template.cpp canonical_token): on the tree path, tokens are masked a
  // second time so that a field keeps one shape whatever its value (signed numbers, hex
  // counters, numbers with units, decimals, compact date-times -> "<n>"/"<ts>", host:port ->
  // "<host>:<n>", a number and its unit word -> "<dur>"/"<size>"), the header's severity word
  // becomes "<level>", and a double-quoted value is one token even with blanks inside. Off:
  // tokens as the masker left them.
  bool field_tokens = true;
  // Weight, in the similarity of a line to a cluster, of a token holding a placeholder ("<n>",
  // "<ip>", "<host>:<n>"…) where a word weighs 1. 1.0 is Drain's count.
  double masked_weight = 0.5;
  // Shape memo in front of the masker (line_shape.h), per MaskedBatch: skeleton -> masked line.
  // Same output with or without it (exact; only speed changes). 0 turns it off.
  std::size_t shape_memo_bytes = 32u << 20;
};

// Lines masked and hashed ahead of mining: the pure, per-line part of TemplateMiner::add, so the
// lines of a block can be prepared on several threads (one batch each) and then mined in order on
// one thread with TemplateMiner::add_prepared, with the same result as add() line by line.
// Uses only opt.premask, opt.max_line_bytes and opt.shape_memo_bytes: with premask, a line whose
// skeleton (digits -> '0') is in the batch's ShapeMemo takes the stored masked line instead of
// going through the masker. The memo outlives clear(). Not thread-safe itself; never throws
// except std::bad_alloc.
class MaskedBatch {
 public:
  explicit MaskedBatch(const TemplateOptions& opt = {});
  void clear();                     // keeps the buffers' capacity
  void add(std::string_view line);  // one line, no trailing '\n'
  std::size_t size() const { return count_; }
  // Line k masked; valid until the next add() or clear(). A memo hit is not copied: the view is
  // into the memo's arena, which is held (never cleared) until clear().
  std::string_view masked(std::size_t k) const {
    const Span& s = spans_[k];
    return {(s.seq == kOwn ? buf_.data() : memo_.arena()) + s.off, s.len};
  }
  std::uint64_t hash(std::size_t k) const { return spans_[k].hash; }
  // The route slot of line k's memo entry (MemoRoute), null if line k did not come from the
  // memo. For the miner; valid until clear().
  MemoRoute* route(std::size_t k) const {
    return spans_[k].seq == kOwn ? nullptr : memo_.route(spans_[k].seq);
  }
  const ShapeMemo& memo() const { return memo_; }

 private:
  static constexpr std::uint32_t kOwn = 0xffffffffu;
  struct Span {
    std::size_t off;  // into buf_, or into the memo's arena if seq != kOwn
    std::size_t len;
    std::uint64_t hash;
    std::uint32_t seq;  // the memo entry (ShapeMemo::route), or kOwn
  };
  bool premask_;
  std::size_t max_line_;
  std::vector<char> buf_;  // masked lines back to back; size() is capacity, used_ is filled
  std::size_t used_ = 0;
  // spans_[0, count_) are the lines; spans_ only grows (a push is a store, not a vector call).
  std::vector<Span> spans_;
  std::size_t count_ = 0;
  void push(const Span& s) {
    if (count_ == spans_.size()) spans_.resize(count_ ? 2 * count_ : 1024);
    spans_[count_++] = s;
  }
  bool use_memo_;
  // Input where shapes do not repeat (every line a fresh hex id) makes the memo pure cost (a
  // cold lookup and insert per line): after a window of kWindow lookups with under a quarter
  // hits, lines skip the memo for the next kPause lines, then it is tried again. Speed only.
  static constexpr std::uint32_t kWindow = 4096, kPause = 65536;
  std::uint32_t win_lookups_ = 0, win_hits_ = 0, pause_ = 0;
  ShapeMemo memo_;
  std::vector<char> skel_;           // skeleton scratch
  std::vector<std::uint32_t> dash_;  // '-' bitmap scratch (line_shape_key)
};

// Hash of a masked line (8 bytes per step, multiply-xorshift mixing). Deterministic.
std::uint64_t template_hash(std::string_view s);

class TemplateMiner {
 public:
  explicit TemplateMiner(TemplateOptions opt = {});
  ~TemplateMiner();
  TemplateMiner(const TemplateMiner&) = delete;
  TemplateMiner& operator=(const TemplateMiner&) = delete;

  // Adds one line (no trailing '\n'); returns the id of its cluster.
  std::uint64_t add(std::string_view line);
  // Adds line k of a batch prepared with the same options; same result as add() of that line.
  // Requires k < b.size().
  std::uint64_t add_prepared(const MaskedBatch& b, std::size_t k);
  // Current template of a live cluster ("" if unknown or evicted). Valid until the next add().
  std::string_view template_of(std::uint64_t id) const;

  struct Cluster {
    std::uint64_t id;
    std::uint64_t count;
    std::string text;  // tokens joined by one space; "<*>" where lines differ
  };
  // Live clusters, most frequent first (ties: lower id first).
  std::vector<Cluster> clusters() const;
  std::uint64_t lines() const;
  std::uint64_t evicted() const;  // clusters dropped to respect max_clusters

 private:
  struct Impl;
  std::unique_ptr<Impl> p_;
};

}  // namespace dm::logs
