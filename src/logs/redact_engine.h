// Internal: the compiled rule set (vectorscan database + RE2 per rule) and the line processor
// shared by Redactor::redact and RedactStream. See redact.h for the semantics.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "logs/redact_rules.h"

struct hs_database;
struct hs_scratch;

namespace re2 {
class RE2;
}

namespace dm::logs {

// Receives output pieces; each view is valid only during the call.
class RedactSink {
 public:
  virtual ~RedactSink() = default;
  virtual void put(std::string_view s) = 0;
};

class RedactEngine {
 public:
  // Compiles the rules. Errors: invalid_argument naming the rule and the reason.
  // The vectorscan database is deserialized instead of compiled when one was registered for
  // exactly this set's prefilter plan (precompiled_db.h); the result is the same either way,
  // only faster (precompiled() tells which).
  static dm::Result<std::shared_ptr<const RedactEngine>> compile(RedactRuleSet set);
  // The prefilter plan text of `set` (the expressions and flags its database is compiled from)
  // and that database serialized: what register_precompiled_db takes. For the
  // build-time generator (precompiled_db_gen_main.cpp). Errors: as compile(); internal when the set
  // needs the slow path (a pattern vectorscan refuses: such a set is not precompiled).
  static dm::Result<std::pair<std::string, std::string>> precompile(const RedactRuleSet& set);
  bool precompiled() const { return precompiled_; }
  ~RedactEngine();
  RedactEngine(const RedactEngine&) = delete;
  RedactEngine& operator=(const RedactEngine&) = delete;

  std::size_t rule_count() const { return rules_.size(); }
  // Every expression's hits in a line scanned alone are also hits (at the same offsets) when the
  // line is scanned inside a run of lines: no expression uses an anchor to the start or end of the
  // scanned data (\A, \z, \Z; ^ and $ are per line, HS_FLAG_MULTILINE). Decided at compile.
  bool run_scan_ok() const { return run_scan_ok_; }
  const std::vector<RedactRule>& rules() const { return rules_; }

  // Per-stream mutable state: scratch space, hit buffers and the open multi-line block.
  class Cursor {
   public:
    explicit Cursor(const RedactEngine& e);
    ~Cursor();
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;
    // Processes `region`: whole lines, each ending with '\n', except that the last one may lack
    // it (a final line or a forced segment). No line of it may be longer than kMaxLineBytes
    // except via process_any(). Output goes to `sink`.
    void process_lines(std::string_view region, RedactSink& sink);
    // As process_lines, but `region` may contain lines of any length (over-long lines are cut
    // into segments as documented in redact.h).
    void process_any(std::string_view region, RedactSink& sink);
    // Cut point of an over-long line: at most kMaxLineBytes, at least 1.
    static std::size_t cut_point(std::string_view s);
    void reset_block() {
      block_rule_ = -1;
      block_lines_ = 0;
    }
    // A multi-line block (PEM key) is open: the next line belongs to it.
    bool in_block() const { return block_rule_ >= 0; }
    // The end offsets (exclusive, relative to `region`, ascending) of every vectorscan hit in
    // `region` (whole lines, each ending with '\n'), scanned as process_lines would scan it; at
    // most one per (expression, line). A line of `region` in which no hit ends (its newline
    // included) gets no rule's RE2 run on it alone, so it is redacted to itself — provided that
    // scanning it alone would not report more, which holds when the engine's run_scan_ok().
    // Returns false (and `ends` is not to be used) when that cannot be said: no scratch space,
    // run_scan_ok() false, or a region of 4 GiB or more.
    bool candidate_ends(std::string_view region, std::vector<std::uint32_t>& ends);

   private:
    struct Hit {
      std::uint32_t end;
      std::uint32_t entry;
    };
    static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                        unsigned int flags, void* ctx);
    void process_block(std::string_view region, RedactSink& sink);
    void emit_plain(std::string_view region, RedactSink& sink);
    // One line (no '\n'); `rules` lists the rule indexes whose prefilter hit it.
    void process_line(std::string_view line, const std::vector<std::uint32_t>& rules,
                      std::string& out);

    const RedactEngine& e_;
    hs_scratch* scratch_ = nullptr;
    static constexpr std::uint32_t kNoHit = 0xffffffffu;
    std::vector<Hit> hits_;
    std::vector<std::uint32_t> last_end_;  // per vectorscan id: end of its last hit (dedup)
    const char* scan_data_ = nullptr;
    std::vector<std::uint32_t> mark_;  // per rule: generation when last added
    std::uint32_t gen_ = 0;
    std::vector<std::uint32_t> line_rules_;
    std::string buf_;
    std::string lower_;  // lower-cased line for the keyword gate
    int block_rule_ = -1;
    int block_lines_ = 0;
    friend class RedactEngine;
  };

 private:
  RedactEngine() = default;
  struct Compiled;
  std::vector<RedactRule> rules_;
  std::vector<std::unique_ptr<Compiled>> compiled_;  // one per rule
  std::vector<std::unique_ptr<re2::RE2>> global_allow_;
  std::vector<std::vector<std::uint32_t>> entry_rules_;  // hs id -> rule indexes
  hs_database* db_ = nullptr;
  hs_scratch* proto_scratch_ = nullptr;
  bool run_scan_ok_ = true;
  bool precompiled_ = false;
  bool allowed(std::size_t rule, std::string_view secret) const;
};

}  // namespace dm::logs
