#include "logs/redact_engine.h"

#include <hs/hs.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "logs/precompiled_db.h"
#include "logs/redact.h"

namespace dm::logs {

struct RedactEngine::Compiled {
  std::unique_ptr<re2::RE2> re;
  std::unique_ptr<re2::RE2> block_end;  // null for single-line rules
  std::vector<std::unique_ptr<re2::RE2>> allow;
  std::string marker;  // "[REDACTED:<type>]"
  int groups = 0;      // submatches to ask for (secret_group + 1)
};

namespace {

// Sub-block scanned at once: bigger than any line (kMaxLineBytes + '\n'), so it always ends at a
// newline; small enough to keep the hit buffer and the cache footprint small.
constexpr std::size_t kSubBlock = 4 * kMaxLineBytes;

re2::RE2::Options re2_options(bool caseless) {
  re2::RE2::Options o;
  o.set_encoding(re2::RE2::Options::EncodingLatin1);  // bytes, like vectorscan and Python bytes
  o.set_case_sensitive(!caseless);
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);
  return o;
}

dm::Error rule_error(const RedactRule& r, const std::string& what) {
  return make_error(Errc::invalid_argument,
                    "redaction rules " + r.source + ": rule '" + r.id + "': " + what);
}

std::string hs_literal(const std::string& kw) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : kw) {
    s += "\\x";
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

// Compiles one expression alone to find out whether vectorscan takes it exactly, only as a
// prefilter (a superset), or not at all.
bool hs_accepts(const std::string& expr, unsigned flags, std::string* err) {
  hs_database_t* db = nullptr;
  hs_compile_error_t* ce = nullptr;
  if (hs_compile(expr.c_str(), flags, HS_MODE_BLOCK, nullptr, &db, &ce) == HS_SUCCESS) {
    hs_free_database(db);
    return true;
  }
  if (err) *err = ce && ce->message ? ce->message : "unknown vectorscan error";
  hs_free_compile_error(ce);
  return false;
}

// What goes into the vectorscan database: per expression its flags and the rules it gates.
struct PrefilterPlan {
  std::vector<std::string> exprs;
  std::vector<unsigned> flags;
  std::vector<std::vector<std::uint32_t>> entry_rules;  // expression id -> rule indexes
  bool run_scan_ok = true;
};

// Prefilter (which lines reach RE2): the rule's keywords as case-insensitive literals (the
// fastest vectorscan database), or the rule's own regex when the rule has no keywords or asks for
// it (`prefilter: pattern`, for rules whose keywords are common words such as "://"). The regex
// goes in exactly when vectorscan supports it, else as a superset (HS_FLAG_PREFILTER), else the
// keywords; RE2 decides either way, and the keyword gate is always checked per line. Without
// `check_each` every regex is assumed to be supported exactly (compile_plan then finds out).
dm::Result<PrefilterPlan> prefilter_plan(const std::vector<RedactRule>& rules, bool check_each) {
  PrefilterPlan p;
  std::map<std::string, std::uint32_t> kw_entry;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const RedactRule& r = rules[i];
    const auto idx = static_cast<std::uint32_t>(i);
    bool use_pattern = r.keywords.empty() || r.prefilter_pattern;
    if (use_pattern) {
      unsigned f = HS_FLAG_MULTILINE | (r.caseless ? HS_FLAG_CASELESS : 0u);
      std::string err;
      bool ok = !check_each || hs_accepts(r.pattern, f, &err);
      if (!ok && hs_accepts(r.pattern, f | HS_FLAG_PREFILTER, nullptr)) {
        f |= HS_FLAG_PREFILTER;
        ok = true;
      }
      if (ok) {
        // Anchors to the scanned data's own start/end would make a line's hits depend on what
        // surrounds it: runs of lines (candidate_ends) are then not used.
        for (const char* a : {"\\A", "\\z", "\\Z"})
          if (r.pattern.find(a) != std::string::npos) p.run_scan_ok = false;
        p.exprs.push_back(r.pattern);
        p.flags.push_back(f);
        p.entry_rules.push_back({idx});
      } else if (r.keywords.empty()) {
        return rule_error(r, "vectorscan rejects the pattern: " + err +
                                 " (add keywords to the rule to avoid this)");
      } else {
        use_pattern = false;
      }
    }
    if (!use_pattern) {
      for (const auto& kw : r.keywords) {
        auto it = kw_entry.find(kw);
        if (it == kw_entry.end()) {
          it = kw_entry.emplace(kw, static_cast<std::uint32_t>(p.exprs.size())).first;
          p.exprs.push_back(hs_literal(kw));
          p.flags.push_back(HS_FLAG_CASELESS);
          p.entry_rules.emplace_back();
        }
        auto& lst = p.entry_rules[it->second];
        if (std::find(lst.begin(), lst.end(), idx) == lst.end()) lst.push_back(idx);
      }
    }
  }
  return p;
}

// The database of `p` (null when it has no expressions). The caller owns it.
dm::Result<hs_database_t*> compile_plan(const PrefilterPlan& p) {
  if (p.exprs.empty()) return static_cast<hs_database_t*>(nullptr);
  std::vector<const char*> ptrs;
  std::vector<unsigned> ids;
  for (std::size_t i = 0; i < p.exprs.size(); ++i) {
    ptrs.push_back(p.exprs[i].c_str());
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* ce = nullptr;
  if (hs_compile_multi(ptrs.data(), p.flags.data(), ids.data(), static_cast<unsigned>(ptrs.size()),
                       HS_MODE_BLOCK, nullptr, &db, &ce) != HS_SUCCESS) {
    std::string msg = ce && ce->message ? ce->message : "unknown error";
    hs_free_compile_error(ce);
    return make_error(Errc::invalid_argument, "redaction rules: vectorscan compile: " + msg);
  }
  return db;
}

std::string plan_text(const PrefilterPlan& p) {
  return hs_plan_text("redaction", p.exprs, p.flags);
}

bool all_stars(std::string_view s) {
  return !s.empty() && s.find_first_not_of('*') == std::string_view::npos;
}

struct Span {
  std::size_t b, e;
  std::uint32_t rule;
};

}  // namespace

RedactEngine::~RedactEngine() {
  if (proto_scratch_) hs_free_scratch(proto_scratch_);
  if (db_) hs_free_database(db_);
}

dm::Result<std::shared_ptr<const RedactEngine>> RedactEngine::compile(RedactRuleSet set) {
  std::shared_ptr<RedactEngine> e(new RedactEngine());
  for (const auto& a : set.allow) {
    auto re = std::make_unique<re2::RE2>(a, re2_options(false));
    if (!re->ok())
      return make_error(Errc::invalid_argument,
                        "redaction rules: bad global allow regex '" + a + "': " + re->error());
    e->global_allow_.push_back(std::move(re));
  }

  for (const RedactRule& r : set.rules) {
    auto c = std::make_unique<Compiled>();
    c->re = std::make_unique<re2::RE2>(r.pattern, re2_options(r.caseless));
    if (!c->re->ok()) return rule_error(r, "bad pattern: " + c->re->error());
    if (r.secret_group > c->re->NumberOfCapturingGroups())
      return rule_error(r, "secret_group " + std::to_string(r.secret_group) +
                               " but the pattern has " +
                               std::to_string(c->re->NumberOfCapturingGroups()) + " groups");
    if (re2::RE2::PartialMatch("", *c->re))
      return rule_error(r, "pattern matches the empty string");
    c->groups = r.secret_group + 1;
    if (!r.block_end.empty()) {
      c->block_end = std::make_unique<re2::RE2>(r.block_end, re2_options(r.caseless));
      if (!c->block_end->ok()) return rule_error(r, "bad block_end: " + c->block_end->error());
      if (re2::RE2::PartialMatch("", *c->block_end))
        return rule_error(r, "block_end matches the empty string");
    }
    for (const auto& a : r.allow) {
      auto re = std::make_unique<re2::RE2>(a, re2_options(false));
      if (!re->ok()) return rule_error(r, "bad allow regex '" + a + "': " + re->error());
      c->allow.push_back(std::move(re));
    }
    c->marker = "[REDACTED:" + r.type + "]";
    e->compiled_.push_back(std::move(c));
  }

  // Every pattern is first assumed to be one vectorscan takes exactly, which holds for the
  // built-in rules: one compile. Only when vectorscan refuses the set is each pattern compiled
  // alone to find out (a user's rule with a lookaround or a backreference), then the set again.
  auto plan = prefilter_plan(set.rules, false);
  if (!plan) return plan.error();
  hs_database_t* pre = plan->exprs.empty() ? nullptr : precompiled_db(plan_text(*plan));
  e->precompiled_ = pre != nullptr;
  auto db = pre ? dm::Result<hs_database_t*>(pre) : compile_plan(*plan);
  if (!db) {
    plan = prefilter_plan(set.rules, true);
    if (!plan) return plan.error();
    db = compile_plan(*plan);
    if (!db) return db.error();
  }
  e->db_ = *db;
  e->entry_rules_ = std::move(plan->entry_rules);
  e->run_scan_ok_ = plan->run_scan_ok;
  e->rules_ = std::move(set.rules);
  if (e->db_ && hs_alloc_scratch(e->db_, &e->proto_scratch_) != HS_SUCCESS)
    return make_error(Errc::internal, "redaction rules: vectorscan scratch allocation failed");
  return std::shared_ptr<const RedactEngine>(std::move(e));
}

dm::Result<std::pair<std::string, std::string>> RedactEngine::precompile(const RedactRuleSet& set) {
  auto plan = prefilter_plan(set.rules, false);
  if (!plan) return plan.error();
  auto db = compile_plan(*plan);
  if (!db)
    return make_error(Errc::internal,
                      "redaction rules: not precompiled (the set compiles only "
                      "with each pattern checked): " +
                          db.error().message);
  if (*db == nullptr) return make_error(Errc::internal, "redaction rules: no expression");
  auto bytes = serialize_db(*db);
  hs_free_database(*db);
  if (!bytes) return bytes.error();
  return std::pair<std::string, std::string>{plan_text(*plan), std::move(*bytes)};
}

bool RedactEngine::allowed(std::size_t rule, std::string_view secret) const {
  if (all_stars(secret)) return true;  // Airflow's own masking
  const re2::StringPiece sp(secret.data(), secret.size());
  if (rules_[rule].min_entropy > 0 && shannon_entropy(secret) < rules_[rule].min_entropy)
    return true;
  for (const auto& a : global_allow_)
    if (re2::RE2::FullMatch(sp, *a)) return true;
  for (const auto& a : compiled_[rule]->allow)
    if (re2::RE2::FullMatch(sp, *a)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Cursor

RedactEngine::Cursor::Cursor(const RedactEngine& e)
    : e_(e), last_end_(e.entry_rules_.size(), kNoHit), mark_(e.rules_.size(), 0) {
  if (e.proto_scratch_ && hs_clone_scratch(e.proto_scratch_, &scratch_) != HS_SUCCESS)
    scratch_ = nullptr;  // process_block then treats every line as a candidate (slow, exact)
}

RedactEngine::Cursor::~Cursor() {
  if (scratch_) hs_free_scratch(scratch_);
}

int RedactEngine::Cursor::on_match(unsigned int id, unsigned long long /*from*/,
                                   unsigned long long to, unsigned int /*flags*/, void* ctx) {
  auto* self = static_cast<Cursor*>(ctx);
  const auto end = static_cast<std::uint32_t>(to);
  // One hit per (pattern, line) is enough: patterns like [A-Za-z0-9]{20,} report every end
  // offset of a long run, which would make the buffer grow with the input.
  std::uint32_t& last = self->last_end_[id];
  // Same line as the previous hit iff no newline lies between their last bytes.
  if (last != kNoHit && last >= 1 && last <= end &&
      !std::memchr(self->scan_data_ + last - 1, '\n', end - last)) {
    last = end;
    return 0;
  }
  last = end;
  self->hits_.push_back(Hit{end, id});
  return 0;
}

bool RedactEngine::Cursor::candidate_ends(std::string_view region,
                                          std::vector<std::uint32_t>& ends) {
  ends.clear();
  if (!e_.run_scan_ok_ || region.size() >= 0xffffffffu) return false;
  if (!e_.db_) return true;  // no rule has an expression: nothing is ever a candidate
  if (!scratch_) return false;
  std::size_t off = 0;
  while (off < region.size()) {
    // Sub-blocks cut at a newline as process_lines cuts them (a cut without one lies inside a
    // line longer than kSubBlock, which no caller treats as clean).
    std::size_t take = region.size() - off;
    if (take > kSubBlock) {
      const void* p = memrchr(region.data() + off, '\n', kSubBlock);
      take = p ? static_cast<std::size_t>(static_cast<const char*>(p) - (region.data() + off)) + 1
               : kSubBlock;
    }
    hits_.clear();
    scan_data_ = region.data() + off;
    std::fill(last_end_.begin(), last_end_.end(), kNoHit);
    if (hs_scan(e_.db_, scan_data_, static_cast<unsigned>(take), 0, scratch_, &Cursor::on_match,
                this) != HS_SUCCESS)
      return false;
    for (const Hit& h : hits_) ends.push_back(static_cast<std::uint32_t>(off + h.end));
    off += take;
  }
  hits_.clear();
  if (!std::is_sorted(ends.begin(), ends.end())) std::sort(ends.begin(), ends.end());
  return true;
}

std::size_t RedactEngine::Cursor::cut_point(std::string_view s) {
  if (s.size() < kMaxLineBytes) return std::max<std::size_t>(s.size(), 1);
  const std::size_t n = kMaxLineBytes;
  const std::size_t lo = n - 4096;
  for (std::size_t i = n; i-- > lo;) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r') return i + 1;
  }
  return n;
}

void RedactEngine::Cursor::process_any(std::string_view region, RedactSink& sink) {
  const std::size_t n = region.size();
  const char* d = region.data();
  constexpr std::size_t H = kMaxLineBytes / 2;
  std::size_t done = 0, b = 0;
  while (b + H <= n) {
    if (std::memchr(d + b, '\n', H)) {
      b += H;
      continue;
    }
    std::size_t ls = done;
    if (b > done) {
      const void* p = memrchr(d + done, '\n', b - done);
      if (p) ls = static_cast<std::size_t>(static_cast<const char*>(p) - d) + 1;
    }
    const void* q = std::memchr(d + b + H, '\n', n - b - H);
    const std::size_t le = q ? static_cast<std::size_t>(static_cast<const char*>(q) - d) : n;
    if (le - ls <= kMaxLineBytes) {
      b += H;
      continue;
    }
    if (ls > done) process_lines(region.substr(done, ls - done), sink);
    std::string_view content = region.substr(ls, le - ls);
    std::size_t off = ls;
    while (content.size() > kMaxLineBytes) {
      const std::size_t c = cut_point(content.substr(0, kMaxLineBytes));
      process_lines(region.substr(off, c), sink);
      off += c;
      content.remove_prefix(c);
    }
    done = q ? le + 1 : n;
    process_lines(region.substr(off, done - off), sink);
    b = done;
  }
  if (done < n) process_lines(region.substr(done), sink);
}

void RedactEngine::Cursor::process_lines(std::string_view region, RedactSink& sink) {
  while (!region.empty()) {
    std::size_t take = region.size();
    if (take > kSubBlock) {
      const void* p = memrchr(region.data(), '\n', kSubBlock);
      take = p ? static_cast<std::size_t>(static_cast<const char*>(p) - region.data()) + 1
               : kSubBlock;  // cannot happen for valid input (lines <= kMaxLineBytes)
    }
    process_block(region.substr(0, take), sink);
    region.remove_prefix(take);
  }
}

void RedactEngine::Cursor::emit_plain(std::string_view region, RedactSink& sink) {
  while (!region.empty()) {
    if (block_rule_ < 0) {
      sink.put(region);
      return;
    }
    const void* p = std::memchr(region.data(), '\n', region.size());
    const std::size_t le =
        p ? static_cast<std::size_t>(static_cast<const char*>(p) - region.data()) : region.size();
    buf_.clear();
    static const std::vector<std::uint32_t> kNone;
    process_line(region.substr(0, le), kNone, buf_);
    if (p) buf_ += '\n';
    sink.put(buf_);
    region.remove_prefix(p ? le + 1 : le);
  }
}

void RedactEngine::Cursor::process_block(std::string_view region, RedactSink& sink) {
  hits_.clear();
  const char* d = region.data();
  const std::size_t n = region.size();
  if (e_.db_ && scratch_) {
    scan_data_ = d;
    std::fill(last_end_.begin(), last_end_.end(), kNoHit);
    hs_scan(e_.db_, d, static_cast<unsigned>(n), 0, scratch_, &Cursor::on_match, this);
  } else if (e_.db_) {
    // No scratch (allocation failed): every line is a candidate for every rule.
    for (std::size_t i = 0, s = 0; i <= n; ++i) {
      if (i == n || d[i] == '\n') {
        if (i > s || i < n)
          for (std::uint32_t en = 0; en < e_.entry_rules_.size(); ++en)
            hits_.push_back(Hit{static_cast<std::uint32_t>(std::max<std::size_t>(i, s + 1)), en});
        s = i + 1;
      }
    }
  }
  if (hits_.empty()) {
    emit_plain(region, sink);
    return;
  }
  if (!std::is_sorted(hits_.begin(), hits_.end(),
                      [](const Hit& a, const Hit& b) { return a.end < b.end; }))
    std::stable_sort(hits_.begin(), hits_.end(),
                     [](const Hit& a, const Hit& b) { return a.end < b.end; });
  std::size_t pos = 0, i = 0;
  while (i < hits_.size()) {
    std::size_t idx = hits_[i].end > 0 ? hits_[i].end - 1 : 0;
    if (idx >= n) idx = n - 1;
    if (idx < pos) {  // belongs to a line already done (cannot happen; be safe)
      ++i;
      continue;
    }
    std::size_t ls = pos;
    if (idx > pos) {
      const void* p = memrchr(d + pos, '\n', idx - pos);
      if (p) ls = static_cast<std::size_t>(static_cast<const char*>(p) - d) + 1;
    }
    const void* q = std::memchr(d + idx, '\n', n - idx);
    const std::size_t le = q ? static_cast<std::size_t>(static_cast<const char*>(q) - d) : n;
    ++gen_;
    line_rules_.clear();
    while (i < hits_.size() && (hits_[i].end == 0 ? 0 : hits_[i].end - 1) <= le) {
      for (std::uint32_t r : e_.entry_rules_[hits_[i].entry]) {
        if (mark_[r] != gen_) {
          mark_[r] = gen_;
          line_rules_.push_back(r);
        }
      }
      ++i;
    }
    if (ls > pos) emit_plain(region.substr(pos, ls - pos), sink);
    std::sort(line_rules_.begin(), line_rules_.end());
    buf_.clear();
    process_line(region.substr(ls, le - ls), line_rules_, buf_);
    if (q) buf_ += '\n';
    sink.put(buf_);
    pos = q ? le + 1 : n;
  }
  if (pos < n) emit_plain(region.substr(pos), sink);
}

void RedactEngine::Cursor::process_line(std::string_view line,
                                        const std::vector<std::uint32_t>& rules, std::string& out) {
  const re2::StringPiece text(line.data(), line.size());
  const std::size_t n = line.size();
  std::vector<Span> spans;
  if (block_rule_ >= 0) {
    const Compiled& c = *e_.compiled_[static_cast<std::size_t>(block_rule_)];
    re2::StringPiece m;
    if (c.block_end->Match(text, 0, n, re2::RE2::UNANCHORED, &m, 1)) {
      const auto es = static_cast<std::size_t>(m.data() - line.data());
      if (es > 0) spans.push_back(Span{0, es, static_cast<std::uint32_t>(block_rule_)});
      reset_block();
    } else if (block_lines_ < e_.rules_[static_cast<std::size_t>(block_rule_)].block_max_lines) {
      ++block_lines_;
      out += c.marker;
      if (!line.empty() && line.back() == '\r') out += '\r';
      return;
    } else {
      reset_block();  // unterminated block: stop after block_max_lines
    }
  }
  int open_block = -1;
  re2::StringPiece sub[21];
  bool lowered = false;
  for (std::uint32_t r : rules) {
    const Compiled& c = *e_.compiled_[r];
    const auto& kws = e_.rules_[r].keywords;
    if (!kws.empty()) {  // keyword gate (case-insensitive), as gitleaks
      if (!lowered) {
        lower_.assign(line);
        for (char& ch : lower_)
          if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + ('a' - 'A'));
        lowered = true;
      }
      bool any = false;
      for (const auto& k : kws) {
        if (lower_.find(k) != std::string::npos) {
          any = true;
          break;
        }
      }
      if (!any) continue;
    }
    std::size_t p = 0;
    if (c.block_end) {
      while (p < n && c.re->Match(text, p, n, re2::RE2::UNANCHORED, sub, 1)) {
        const auto be = static_cast<std::size_t>(sub[0].data() - line.data()) + sub[0].size();
        if (sub[0].empty()) {
          p = be + 1;
          continue;
        }
        re2::StringPiece m;
        if (c.block_end->Match(text, be, n, re2::RE2::UNANCHORED, &m, 1)) {
          const auto es = static_cast<std::size_t>(m.data() - line.data());
          if (es > be) spans.push_back(Span{be, es, r});
          p = es + m.size();
        } else {
          if (be < n) spans.push_back(Span{be, n, r});
          if (open_block < 0) open_block = static_cast<int>(r);
          break;
        }
      }
      continue;
    }
    while (p <= n && c.re->Match(text, p, n, re2::RE2::UNANCHORED, sub, c.groups)) {
      const auto mb = static_cast<std::size_t>(sub[0].data() - line.data());
      const auto me = mb + sub[0].size();
      if (sub[0].empty()) {
        p = mb + 1;
        continue;
      }
      const re2::StringPiece& s = sub[c.groups - 1];
      if (s.data() != nullptr && !s.empty() &&
          !e_.allowed(r, std::string_view(s.data(), s.size()))) {
        const auto sb = static_cast<std::size_t>(s.data() - line.data());
        spans.push_back(Span{sb, sb + s.size(), r});
      }
      p = me;
    }
  }
  if (open_block >= 0) {
    block_rule_ = open_block;
    block_lines_ = 0;
  }
  // Idempotence: a span inside an existing marker ("[REDACTED:type]") is not a secret.
  if (!spans.empty() && line.find("[REDACTED:") != std::string_view::npos) {
    std::vector<std::pair<std::size_t, std::size_t>> marks;
    for (std::size_t m = line.find("[REDACTED:"); m != std::string_view::npos;
         m = line.find("[REDACTED:", m + 1)) {
      const std::size_t close = line.find(']', m);
      if (close == std::string_view::npos) break;
      marks.emplace_back(m, close + 1);
    }
    spans.erase(std::remove_if(spans.begin(), spans.end(),
                               [&](const Span& sp) {
                                 for (const auto& [mb, me] : marks)
                                   if (sp.b >= mb && sp.e <= me) return true;
                                 return false;
                               }),
                spans.end());
  }
  if (spans.empty()) {
    out.append(line);
    return;
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    if (a.b != b.b) return a.b < b.b;
    if (a.rule != b.rule) return a.rule < b.rule;  // the first-declared rule names the marker
    return a.e > b.e;
  });
  std::size_t pos = 0;
  std::size_t k = 0;
  while (k < spans.size()) {
    Span cur = spans[k++];
    while (k < spans.size() && spans[k].b < cur.e) {
      cur.e = std::max(cur.e, spans[k].e);
      ++k;
    }
    out.append(line.substr(pos, cur.b - pos));
    out += e_.compiled_[cur.rule]->marker;
    pos = cur.e;
  }
  out.append(line.substr(pos));
}

}  // namespace dm::logs
