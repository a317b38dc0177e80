#include "logs/redact.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "logs/line_run.h"
#include "logs/redact_engine.h"
#include "logs/rules_embed.h"

namespace dm::logs {
namespace {

class StringSink final : public RedactSink {
 public:
  explicit StringSink(std::string& s) : s_(s) {}
  void put(std::string_view v) override { s_.append(v); }

 private:
  std::string& s_;
};

class FnSink final : public RedactSink {
 public:
  explicit FnSink(const std::function<void(std::string_view)>& f) : f_(f) {}
  void put(std::string_view v) override {
    if (!v.empty()) f_(v);
  }

 private:
  const std::function<void(std::string_view)>& f_;
};

dm::Result<std::shared_ptr<const Redactor>> make(RedactRuleSet set) {
  auto e = RedactEngine::compile(std::move(set));
  if (!e) return e.error();
  return std::make_shared<const Redactor>(std::move(*e));
}

dm::Result<RedactRuleSet> builtin_set() {
  auto text = embedded_rules("redaction.yaml");
  if (!text) return make_error(Errc::internal, "redaction.yaml was not embedded at build time");
  auto set = parse_redaction_rules(*text, "builtin:redaction.yaml");
  if (!set) return make_error(Errc::internal, set.error().message);
  return set;
}

// The core shared by Redactor::redact and RedactStream: a partial line is held in `pending`
// (starting at `off`) until its newline, the segment cap or finish().
struct Core {
  explicit Core(const RedactEngine& e) : cursor(e) {}
  RedactEngine::Cursor cursor;
  std::string pending;
  std::size_t off = 0;

  std::string_view held() const { return std::string_view(pending).substr(off); }

  void cut_long(RedactSink& sink) {
    while (held().size() > kMaxLineBytes) {
      const std::size_t c = RedactEngine::Cursor::cut_point(held().substr(0, kMaxLineBytes));
      cursor.process_lines(held().substr(0, c), sink);
      off += c;
    }
    if (off > 0) {
      pending.erase(0, off);
      off = 0;
    }
  }

  void feed(std::string_view chunk, RedactSink& sink) {
    while (!chunk.empty()) {
      if (held().empty()) {
        pending.clear();
        off = 0;
        const void* p = memrchr(chunk.data(), '\n', chunk.size());
        if (p) {
          const auto k = static_cast<std::size_t>(static_cast<const char*>(p) - chunk.data()) + 1;
          cursor.process_any(chunk.substr(0, k), sink);
          chunk.remove_prefix(k);
        }
        pending.append(chunk);
        chunk = {};
        cut_long(sink);
      } else {
        const void* p = std::memchr(chunk.data(), '\n', chunk.size());
        if (p) {
          const auto k = static_cast<std::size_t>(static_cast<const char*>(p) - chunk.data()) + 1;
          pending.append(chunk.substr(0, k));
          chunk.remove_prefix(k);
          cursor.process_any(held(), sink);
          pending.clear();
          off = 0;
        } else {
          pending.append(chunk);
          chunk = {};
          cut_long(sink);
        }
      }
    }
  }

  void finish(RedactSink& sink) {
    if (!held().empty()) cursor.process_any(held(), sink);
    pending.clear();
    off = 0;
    cursor.reset_block();
  }

  // Emits a held-back partial line (as finish(), but the block state is kept).
  void finish_partial(RedactSink& sink) {
    if (!held().empty()) cursor.process_any(held(), sink);
    pending.clear();
    off = 0;
  }

  // One whole line (see RedactStream::feed_line).
  void line(std::string_view l, RedactSink& sink) { cursor.process_any(l, sink); }
};

// Collects the pieces of one redacted line: the first piece is kept as a view (the common case,
// a line without a hit, arrives as one piece: the caller's own bytes); later pieces are copied.
class LineSink final : public RedactSink {
 public:
  void put(std::string_view v) override {
    if (v.empty()) return;
    if (pieces_ == 0) {
      first_ = v;
    } else {
      if (pieces_ == 1) buf_.assign(first_);
      buf_.append(v);
    }
    ++pieces_;
  }
  std::string_view line() const { return pieces_ <= 1 ? first_ : std::string_view(buf_); }
  void reset() {
    pieces_ = 0;
    first_ = {};
  }

 private:
  std::size_t pieces_ = 0;
  std::string_view first_;
  std::string buf_;
};

}  // namespace

dm::Result<std::shared_ptr<const Redactor>> Redactor::builtin() {
  // Compiled once per process (immutable, shared): compiling the database costs milliseconds.
  static const dm::Result<std::shared_ptr<const Redactor>> kBuiltin = [] {
    return compile_builtin();
  }();
  return kBuiltin;
}

dm::Result<std::shared_ptr<const Redactor>> Redactor::compile_builtin() {
  auto set = builtin_set();
  if (!set) return set.error();
  auto r = make(std::move(*set));
  if (!r) return make_error(Errc::internal, "builtin redaction rules: " + r.error().message);
  return r;
}

dm::Result<std::shared_ptr<const Redactor>> Redactor::from_yaml(std::string_view yaml_text) {
  auto set = parse_redaction_rules(yaml_text, "<yaml>");
  if (!set) return set.error();
  return make(std::move(*set));
}

dm::Result<std::shared_ptr<const Redactor>> Redactor::builtin_plus_files(
    const std::vector<std::string>& paths) {
  auto set = builtin_set();
  if (!set) return set.error();
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(Errc::not_found, "cannot read redaction rules file " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    auto more = parse_redaction_rules(ss.str(), path);
    if (!more) return more.error();
    auto st = merge_rule_sets(*set, std::move(*more));
    if (!st) return st.error();
  }
  return make(std::move(*set));
}

std::string Redactor::redact(std::string_view text) const {
  std::string out;
  out.reserve(text.size() + 64);
  StringSink sink(out);
  Core core(*engine_);
  core.feed(text, sink);
  core.finish(sink);
  return out;
}

std::size_t Redactor::rule_count() const { return engine_->rule_count(); }

std::vector<std::string> Redactor::rule_types() const {
  std::vector<std::string> v;
  for (const auto& r : engine_->rules()) {
    bool seen = false;
    for (const auto& t : v) seen = seen || t == r.type;
    if (!seen) v.push_back(r.type);
  }
  return v;
}

struct RedactStream::State {
  explicit State(const RedactEngine& e) : core(e) {}
  Core core;
  LineSink line;
  // The open line run (line_run.h) this stream has scanned: its id, the part scanned (from the
  // first line asked about to the run's end) and the hit ends found there, relative to scan_b.
  std::uint64_t run_id = 0;
  bool run_ok = false;
  const char* scan_b = nullptr;
  const char* scan_e = nullptr;
  std::vector<std::uint32_t> ends;
  std::uint64_t alone = 0;  // lines_scanned_alone()

  // True when `l` is a line of the open run in which the run's one scan found no candidate and
  // no multi-line block is open: the per-line path would then hand out `l` unchanged.
  bool clean_in_run(std::string_view l) {
    if (core.cursor.in_block() || l.size() > kMaxLineBytes) return false;
    const LineRun run = LineRunScope::current();
    if (run.text.empty()) return false;
    const char* rb = run.text.data();
    const char* re = rb + run.text.size();
    const char* b = l.data();
    const char* e = b + l.size();
    // A view into the run bounded by its newlines (then a match inside it is a match inside the
    // run at the same place).
    if (b < rb || e >= re || *e != '\n' || (b != rb && b[-1] != '\n')) return false;
    if (run.id != run_id || (run_ok && (b < scan_b || e >= scan_e))) {
      run_id = run.id;
      scan_b = b;
      scan_e = re;
      run_ok =
          core.cursor.candidate_ends(std::string_view(b, static_cast<std::size_t>(re - b)), ends);
    }
    if (!run_ok) return false;
    // A hit ending anywhere in [b, e] (the newline included) sends the line the per-line way.
    const auto lo = static_cast<std::uint32_t>(b - scan_b);
    const auto hi = static_cast<std::uint32_t>(e - scan_b);
    auto it = std::lower_bound(ends.begin(), ends.end(), lo + 1);
    return it == ends.end() || *it > hi + 1;
  }
};

RedactStream::RedactStream(std::shared_ptr<const Redactor> r)
    : redactor_(std::move(r)), st_(std::make_unique<State>(redactor_->engine())) {}

RedactStream::~RedactStream() = default;

void RedactStream::feed(std::string_view chunk, const std::function<void(std::string_view)>& out) {
  FnSink sink(out);
  st_->core.feed(chunk, sink);
}

void RedactStream::finish(const std::function<void(std::string_view)>& out) {
  FnSink sink(out);
  st_->core.finish(sink);
}

std::uint64_t RedactStream::lines_scanned_alone() const { return st_->alone; }

void RedactStream::feed_line(std::string_view line,
                             const std::function<void(std::string_view)>& out) {
  if (!st_->core.held().empty()) {
    FnSink flush(out);
    st_->core.finish_partial(flush);
  }
  if (st_->clean_in_run(line)) {
    out(line);
    return;
  }
  ++st_->alone;
  st_->line.reset();
  // An empty line goes through as "\n" so that it counts as a line inside a multi-line block
  // (where it becomes a marker), exactly as with feed(); the newline is taken off again.
  st_->core.line(line.empty() ? std::string_view("\n") : line, st_->line);
  std::string_view r = st_->line.line();
  if (line.empty() && !r.empty() && r.back() == '\n') r.remove_suffix(1);
  out(r);
}

}  // namespace dm::logs
