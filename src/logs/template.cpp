#include "logs/template.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <unordered_map>

#include "logs/signature_mask.h"

namespace dm::logs {
namespace {

constexpr std::string_view kWild = "<*>";
constexpr std::uint32_t kNone = 0xffffffffu;

// Exact cache of masked lines: open addressing, linear probing, keys in one arena. The cache only
// skips the tree for a masked line seen before; its fill rule (cleared past cache_bytes, counted
// as line bytes + 64 per insert, an existing key never replaced) is what the miner defines.
class LineCache {
 public:
  struct Val {
    std::uint32_t slot;
    std::uint64_t id;
  };
  // Changes whenever a key once found could stop being found (clear, or grow, which may drop an
  // entry past kMaxProbe); unique across all caches of the process, so a route remembered for one
  // miner never matches another's. While it stays, find() of a key that was found returns the
  // same Val (entries are never replaced, moved or removed in between).
  std::uint64_t epoch() const { return epoch_; }
  const Val* find(std::string_view key, std::uint64_t h) const {
    if (table_.empty()) return nullptr;
    std::size_t i = h & mask_;
    for (std::size_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
      const Entry& e = table_[i];
      if (e.val.id == 0) return nullptr;
      if (e.hash == h && e.len == key.size() &&
          std::memcmp(keys_.data() + e.off, key.data(), key.size()) == 0) {
        return &e.val;
      }
    }
    return nullptr;
  }
  // Inserts key -> v unless key is there. Gives up silently past kMaxProbe (a lookup then
  // misses and the line goes through the tree: slower, same clusters).
  void insert(std::string_view key, std::uint64_t h, Val v) {
    if ((count_ + 1) * 2 > table_.size()) grow();
    std::size_t i = h & mask_;
    for (std::size_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
      Entry& e = table_[i];
      if (e.val.id == 0) {
        e = Entry{h, keys_.size(), key.size(), v};
        keys_.append(key);
        ++count_;
        return;
      }
      if (e.hash == h && e.len == key.size() &&
          std::memcmp(keys_.data() + e.off, key.data(), key.size()) == 0) {
        return;
      }
    }
  }
  void clear() {
    std::fill(table_.begin(), table_.end(), Entry{});
    keys_.clear();
    count_ = 0;
    epoch_ = next_epoch();
  }

 private:
  static constexpr std::size_t kMaxProbe = 128;
  struct Entry {
    std::uint64_t hash = 0;
    std::size_t off = 0, len = 0;
    Val val{0, 0};  // val.id == 0: empty (cluster ids start at 1)
  };
  static std::uint64_t next_epoch() {
    static std::atomic<std::uint64_t> n{0};
    return n.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  void grow() {
    epoch_ = next_epoch();
    std::vector<Entry> old = std::move(table_);
    table_.assign(old.empty() ? 1024 : old.size() * 2, Entry{});
    mask_ = table_.size() - 1;
    for (const Entry& e : old) {
      if (e.val.id == 0) continue;
      std::size_t i = e.hash & mask_;
      for (std::size_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
        if (table_[i].val.id == 0) {
          table_[i] = e;
          break;
        }
      }
    }
  }
  std::vector<Entry> table_;
  std::size_t mask_ = 0, count_ = 0;
  std::string keys_;
  std::uint64_t epoch_ = next_epoch();
};

// A record-header token once masked: only placeholders ("<date>", "<time>"…), punctuation and a
// time zone word, e.g. "[<date>," "<time>" "UTC]" of an Airflow 2 line or "<n>/<n>/<n>" of log4j.
// Not an IPv4 address ("<n>.<n>.<n>.<n>:<n>", three dots): that is a place, which may as well
// begin a message (Proxifier's "203.205.151.204:80 close, …") as a header.
bool header_token(std::string_view t) {
  if (std::count(t.begin(), t.end(), '.') >= 3) return false;
  std::size_t letters = 0, i = 0;
  std::string_view word;
  bool placeholder = false;
  while (i < t.size()) {
    char c = t[i];
    if (c == '<') {
      std::size_t e = t.find('>', i);
      if (e == std::string_view::npos) return false;
      placeholder = true;
      i = e + 1;
      continue;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      if (letters == 0) word = t.substr(i);
      ++letters;
    } else if (c >= '0' && c <= '9') {
      return false;
    }
    ++i;
  }
  if (letters == 0) return placeholder;
  return letters == 3 && (word.starts_with("UTC") || word.starts_with("GMT"));
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The token without leading/trailing punctuation ("[notice]" -> "notice", "<time>," -> "<time>").
std::string_view trim_punct(std::string_view t) {
  auto punct = [](char c) {
    return c == '[' || c == ']' || c == '(' || c == ')' || c == '{' || c == '}' || c == ',' ||
           c == ':' || c == ';' || c == '|' || c == '"' || c == '\'';
  };
  while (!t.empty() && punct(t.front())) t.remove_prefix(1);
  while (!t.empty() && punct(t.back())) t.remove_suffix(1);
  return t;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    char x = a[k], y = b[k];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A severity word as loggers print it: upper case ("INFO"), capitalised ("Info"), or in
// brackets/angle form in any case ("[notice]"). A single letter (logcat "D", "W") only when
// `letter_ok`. Returns the level's index into kLevels + 1, 0 if none.
constexpr std::string_view kLevels[] = {"TRACE",   "DEBUG",  "INFO",  "NOTICE",   "WARN",
                                        "WARNING", "ERROR",  "ERR",   "CRITICAL", "CRIT",
                                        "FATAL",   "SEVERE", "ALERT", "EMERG",    "VERBOSE"};
int level_word(std::string_view t, bool letter_ok) {
  const bool bracketed = !t.empty() && (t.front() == '[' || t.front() == '<');
  std::string_view w = trim_punct(t);
  if (w.empty() || !std::all_of(w.begin(), w.end(), is_alpha)) return 0;
  if (w.size() == 1) {
    static constexpr std::string_view kLetters = "VDIWEF";
    return letter_ok && kLetters.find(w[0]) != std::string_view::npos ? 100 : 0;
  }
  const bool upper = std::all_of(w.begin(), w.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  const bool capital = w[0] >= 'A' && w[0] <= 'Z' &&
                       std::all_of(w.begin() + 1, w.end(), [](char c) { return c >= 'a'; });
  if (!upper && !capital && !bracketed) return 0;
  for (std::size_t k = 0; k < std::size(kLevels); ++k) {
    if (iequals(w, kLevels[k])) return static_cast<int>(k) + 1;
  }
  return 0;
}

// Month and weekday names (syslog's "Jun 14", Apache's "[Sun Dec 04 …]").
bool calendar_word(std::string_view t) {
  std::string_view w = trim_punct(t);
  if (w.size() != 3) return false;
  static constexpr std::string_view kNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                                "Aug", "Sep", "Oct", "Nov", "Dec", "Mon", "Tue",
                                                "Wed", "Thu", "Fri", "Sat", "Sun"};
  return std::find(std::begin(kNames), std::end(kNames), w) != std::end(kNames);
}

// A token that names a place rather than says something: it holds a placeholder or a digit, or
// is an identifier with a path/host separator ("node-12", "dn228/dn228", "unix.hw",
// "local@tbird-admin1"). Plain words and quoted text are not.
bool place_token(std::string_view t) {
  bool sep = false;
  for (char c : t) {
    if (c == '<' || (c >= '0' && c <= '9')) return true;
    if (c == '"' || c == '\'' || c == '=') return false;
    if (c == '.' || c == '-' || c == '/' || c == '@' || c == '_' || c == '#' || c == '$')
      sep = true;
  }
  return sep;
}

// "key=a" and "key=b", "key:a" and "key:b": the same non-empty key before the first '=' or ':',
// with a value after it.
bool same_key(std::string_view a, std::string_view b) {
  const std::size_t e = a.find_first_of("=:");
  return e != std::string_view::npos && e > 0 && e + 1 < a.size() && b.size() > e + 1 &&
         b[e] == a[e] && a.compare(0, e, b, 0, e) == 0;
}

bool has_digit(std::string_view t) {
  return std::any_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Leading masked-timestamp tokens, at most 4 (Airflow's "[<date>, <time> UTC]").
std::size_t timestamp_run(const std::vector<std::string_view>& toks) {
  std::size_t h = 0;
  while (h < toks.size() && h < 4 && h + 1 < toks.size() && header_token(toks[h])) ++h;
  return h;
}

// Index past the bracketed span ("[...]" or "{...}", possibly over several tokens) that starts
// at toks[k]; k if it does not close before `limit`.
std::size_t span_end(const std::vector<std::string_view>& toks, std::size_t k, std::size_t limit) {
  const char open = toks[k][0], close = open == '[' ? ']' : '}';
  int depth = 0;
  for (std::size_t j = k; j < limit; ++j) {
    for (char c : toks[j]) {
      if (c == open) ++depth;
      if (c == close) --depth;
    }
    if (depth <= 0) return j + 1;
  }
  return k;
}

bool opens_span(std::string_view t) { return !t.empty() && (t[0] == '[' || t[0] == '{'); }

// Past a severity word at toks[j]: the bracketed thread/logger spans, then a component token
// ending in ':' (or a component followed by a bracketed context span), then a lone '-'.
std::size_t past_level(const std::vector<std::string_view>& toks, std::size_t j,
                       std::size_t limit) {
  std::size_t e = j + 1;
  while (e < limit && opens_span(toks[e])) {
    std::size_t f = span_end(toks, e, limit);
    if (f == e) break;
    e = f;
  }
  if (e < limit && toks[e].size() > 1 && toks[e].back() == ':') {
    ++e;
  } else if (e + 1 < limit && place_token(toks[e]) && opens_span(toks[e + 1])) {
    std::size_t f = span_end(toks, e + 1, limit);
    if (f > e + 1) e = f;
  }
  if (e < limit && toks[e] == "-") ++e;
  return e;
}

// Record header of a log line: the leading tokens that say when, where and how severe rather
// than what happened. Found per line from token shapes only (no rule names a product):
//   1. a leading run of header tokens: masked timestamps/dates/numbers, month and weekday
//      names, place tokens (hosts, node ids, paths); it must hold a timestamp-like or calendar
//      token to count ("anchored");
//   2. after it, within a short window: a severity word ends the header together with the
//      thread/logger spans, the "component:" and the '-' after it; without one, a token ending
//      in ':' reached through at most one plain word (syslog's "host program[pid]:") or a lone
//      '-' ends it, and so does a run of two or more masked fields after one or two plain words
//      (columns "<n> node-<n> action start <n> <n>" before the message);
//   3. otherwise the anchored run itself, or the leading masked-timestamp tokens.
// Always < toks.size(): a line keeps at least one token of message.
std::size_t record_header_of(const std::vector<std::string_view>& toks, std::size_t* level);

// A header of one bare number alone is no header: "15 floating point alignment exceptions" counts
// something (a message without its header, as message-only input has it); a real header that
// starts with an epoch or a sequence number has more header tokens after it.
std::size_t record_header(const std::vector<std::string_view>& toks, std::size_t* level) {
  const std::size_t h = record_header_of(toks, level);
  return h == 1 && toks[0] == "<n>" ? 0 : h;
}

std::size_t record_header_of(const std::vector<std::string_view>& toks, std::size_t* level) {
  const std::size_t n = toks.size();
  const std::size_t legacy = timestamp_run(toks);
  if (n < 2) return legacy;
  const std::size_t limit = std::min<std::size_t>(n - 1, 20);
  std::size_t i = 0;
  bool anchored = false;
  while (i < limit) {
    std::string_view t = toks[i];
    if (t == "-" && i > 0) {
      if (i + 1 < limit && level_word(toks[i + 1], false) != 0) {
        ++i;
        continue;
      }
      return anchored ? i + 1 : legacy;
    }
    if (header_token(t) || calendar_word(t)) {
      anchored = true;
    } else if (!(t == "-" || (place_token(t) && t.back() != ':' && level_word(t, false) == 0))) {
      break;
    }
    ++i;
  }
  if (!anchored) return legacy;
  std::size_t plain = 0;
  for (std::size_t j = i; j < std::min(limit, i + 10);) {
    std::string_view t = toks[j];
    if (level_word(t, j > 0 && header_token(toks[j - 1])) != 0) {
      const std::size_t e = std::min(past_level(toks, j, limit), n - 1);
      if (j < e) *level = j;
      return e;
    }
    if (t.find_first_of("\"=") != std::string_view::npos) break;  // quoted text, key=value
    if (t.size() > 1 && t.back() == ':') return plain <= 1 ? j + 1 : std::max(legacy, i);
    if (t == "-") return plain <= 1 ? j + 1 : std::max(legacy, i);
    if (opens_span(t)) {
      std::size_t f = span_end(toks, j, limit);
      if (f == j) break;
      j = f;
      continue;
    }
    if (plain >= 1 && plain <= 2 && header_token(t) && j + 1 < limit && header_token(toks[j + 1])) {
      // Header columns in words ("action start") then a run of masked fields (an epoch time
      // and a flag): the header ends after that run.
      std::size_t e = j;
      while (e < limit && header_token(toks[e])) ++e;
      return e;
    }
    if (!place_token(t) && !calendar_word(t) && !header_token(t) && ++plain > 3) break;
    ++j;
  }
  return std::max(legacy, i);
}

// Token-level masking: the masker (signature_mask.h) works on characters and shapes one field
// differently depending on its value; the miner needs one field to give one token. On the tree
// path only (a line the exact cache knows never gets here), each token's core (the token without
// surrounding brackets/quotes/trailing punctuation and past a "key=") is rewritten:
//   a signed number          -<n>, +<n>.<n>                        -> <n>
//   a hex counter, an id      <id>, <n>d, <n>ab                     -> <n>
//   a number with a unit      <n>ms, <n>.<n>s, <n>MB, 3m20s (<id>)  -> <n>
//   a decimal                 <n>.<n>, <n>,<n>                      -> <n>
//   a compact date-time       <n>-<time>:<n>, <n>:<n>:<n>:<n>, <date>T<n>… (placeholders joined
//                             by - : . / , T only, holding a date/time or two ':')  -> <ts>
//   host:port                 a.b.c:<n>, <n>.<n>.<n>.<n>:<n>       -> <host>:<n>
//                             (two dots at least: "task.py:<n>" is a file and a line)
// Everything else is kept. Writes the token to `out`.
bool placeholder_at(std::string_view t, std::size_t i, std::size_t& end) {
  if (i >= t.size() || t[i] != '<') return false;
  std::size_t e = i + 1;
  while (e < t.size() && e - i <= 8 && ((t[e] >= 'a' && t[e] <= 'z') || t[e] == '_')) ++e;
  if (e >= t.size() || t[e] != '>' || e == i + 1) return false;
  end = e + 1;
  return true;
}

// NUM ( [.,] NUM )? letters{0,3}, NUM a "<n>" or "<id>"; or a bare "<id>".
bool numeric_core(std::string_view c) {
  std::size_t e = 0, k = 0;
  auto num = [&](std::size_t at, std::size_t& to) {
    if (!placeholder_at(c, at, to)) return false;
    std::string_view ph = c.substr(at, to - at);
    return ph == "<n>" || ph == "<id>";
  };
  if (!num(0, e)) return false;
  k = e;
  if (k + 1 < c.size() && (c[k] == '.' || c[k] == ',') && num(k + 1, e)) k = e;
  std::size_t letters = 0;
  while (k < c.size() && is_alpha(c[k])) ++k, ++letters;
  return k == c.size() && letters <= 3;
}

bool datetime_core(std::string_view c) {
  std::size_t i = 0, colons = 0, parts = 0;
  bool dated = false;
  while (i < c.size()) {
    std::size_t e;
    if (placeholder_at(c, i, e)) {
      std::string_view ph = c.substr(i, e - i);
      if (ph == "<time>" || ph == "<date>" || ph == "<ts>") {
        dated = true;
      } else if (ph != "<n>") {
        return false;
      }
      ++parts;
      i = e;
      continue;
    }
    const char ch = c[i];
    if (ch == ':') {
      ++colons;
    } else if (ch != '-' && ch != '.' && ch != '/' && ch != ',' && ch != 'T') {
      return false;
    }
    ++i;
  }
  return parts >= 2 && (dated || colons >= 2);
}

bool host_port_core(std::string_view c) {
  const std::size_t colon = c.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || c.substr(colon + 1) != "<n>") return false;
  std::string_view host = c.substr(0, colon);
  // Two dots at least: "www.example.com", an IPv4 address; "file.py:<n>" is a file and line.
  if (std::count(host.begin(), host.end(), '.') < 2) return false;
  bool dot = false, letter_or_num = false;
  for (std::size_t i = 0; i < host.size();) {
    std::size_t e;
    if (placeholder_at(host, i, e)) {
      if (host.substr(i, e - i) != "<n>" && host.substr(i, e - i) != "<id>") return false;
      letter_or_num = true;
      i = e;
      continue;
    }
    const char ch = host[i];
    if (ch == '.') {
      dot = true;
    } else if (is_alpha(ch) || (ch >= '0' && ch <= '9')) {
      letter_or_num = true;
    } else if (ch != '-' && ch != '_') {
      return false;
    }
    ++i;
  }
  return dot && letter_or_num && host.front() != '.' && host.back() != '.';
}

void canonical_token(std::string_view t, std::string& out) {
  if (t.find('<') == std::string_view::npos) {
    out.append(t);
    return;
  }
  auto open = [](char c) { return c == '(' || c == '[' || c == '{' || c == '"' || c == '\''; };
  auto close = [](char c) {
    return c == ')' || c == ']' || c == '}' || c == '"' || c == '\'' || c == ',' || c == ';' ||
           c == '.' || c == ':';
  };
  std::size_t b = 0, e = t.size();
  if (std::size_t eq = t.rfind('='); eq != std::string_view::npos) b = eq + 1;
  while (b < e && open(t[b])) ++b;
  while (e > b && close(t[e - 1])) --e;
  std::string_view core = t.substr(b, e - b);
  // A sign or a bound: "-<n>", "+<n>", "<<n>" (Proxifier's "lifetime <1 sec"), "~<n>".
  if (core.size() > 1 &&
      (core[0] == '-' || core[0] == '+' || core[0] == '<' || core[0] == '>' || core[0] == '~') &&
      core[1] == '<')
    core.remove_prefix(1);
  std::string_view repl;
  if (numeric_core(core)) {
    repl = "<n>";
  } else if (datetime_core(core)) {
    repl = "<ts>";
  } else if (host_port_core(core)) {
    repl = "<host>:<n>";
  } else {
    out.append(t);
    return;
  }
  out.append(t.substr(0, b));
  out.append(repl);
  out.append(t.substr(e));
}

// A unit word after a number: 1 for time ("12 ms", "3 sec"), 2 for data size ("451 bytes",
// "2.4 GiB"), 0 for anything else.
int unit_class(std::string_view w) {
  static constexpr std::string_view kTime[] = {
      "ns",     "us",      "ms", "sec", "secs", "second", "seconds", "min", "mins",
      "minute", "minutes", "hr", "hrs", "hour", "hours",  "day",     "days"};
  static constexpr std::string_view kSize[] = {"B",  "byte", "bytes", "KB",  "kB", "KiB",
                                               "MB", "MiB",  "GB",    "GiB", "TB", "TiB"};
  for (std::string_view u : kTime)
    if (w == u) return 1;
  for (std::string_view u : kSize)
    if (w == u) return 2;
  return 0;
}

// The token without trailing closing punctuation, and that punctuation.
std::string_view strip_close(std::string_view t, std::string_view* tail) {
  std::size_t e = t.size();
  while (e > 0 && (t[e - 1] == ')' || t[e - 1] == ']' || t[e - 1] == ',' || t[e - 1] == ';' ||
                   t[e - 1] == '.' || t[e - 1] == ':'))
    --e;
  if (tail) *tail = t.substr(e);
  return t.substr(0, e);
}

// A token that reads as a value rather than a word of the message: quoted ("'amount'"), or a
// dotted or path-like name ("nginx.service", "/var/lib/x").
bool value_like(std::string_view t) {
  if (!t.empty() && (t[0] == '\'' || t[0] == '"')) return true;
  t = strip_close(t, nullptr);
  return t.find_first_of("./\\@") != std::string_view::npos;
}

// The measured value that starts at toks[k] (canonicalised): how many tokens it takes (1 when
// there is none), its field ("<dur>" or "<size>") and the punctuation after it:
//   "<n>" then a time or size unit word     "12 ms", "451 bytes", "3 KB,"
//   then a parenthesised restatement        "18846 bytes (18.4 KB)", "5 sec (<n>)"
// The unit changes with the magnitude ("5.2 KB", "413.9 MB") and some loggers add the
// restatement only past a size ("(18.4 KB)" after 1 KB): neither may split an event.
std::size_t measure_run(const std::vector<std::string_view>& toks, std::size_t k,
                        std::string_view* field, std::string_view* tail) {
  if (toks[k] != "<n>" || k + 1 >= toks.size()) return 1;
  std::size_t j = k + 1;
  const int unit = unit_class(strip_close(toks[j], tail));
  if (unit == 0) return 1;
  *field = unit == 1 ? "<dur>" : "<size>";
  ++j;
  if (!tail->empty() || j >= toks.size()) return j - k;
  // "(<n>" "KB)", "(<n>KB)" or "(<n>)", with punctuation after the ')'.
  std::string_view a = toks[j];
  if (a.size() < 2 || a[0] != '(') return j - k;
  a.remove_prefix(1);
  std::string_view atail;
  const std::string_view acore = strip_close(a, &atail);
  if (acore == "<n>" && !atail.empty() && atail[0] == ')') {
    *tail = atail.substr(1);
    return j + 1 - k;
  }
  if (acore != "<n>" || !atail.empty() || j + 1 >= toks.size()) return j - k;
  std::string_view btail;
  if (unit_class(strip_close(toks[j + 1], &btail)) != 0 && !btail.empty() && btail[0] == ')') {
    *tail = btail.substr(1);
    return j + 2 - k;
  }
  return j - k;
}

// A token that can be an item of a list of values: holds a digit or a placeholder, is no
// "key=value" and no "word:value" (keys are words of the message, not items).
bool list_item(std::string_view t) {
  if (t.empty() || t.find('=') != std::string_view::npos) return false;
  const std::size_t colon = t.find(':');
  if (colon != std::string_view::npos &&
      std::all_of(t.begin(), t.begin() + colon, [](char c) { return is_alpha(c); }))
    return false;
  return t.find('<') != std::string_view::npos || has_digit(t);
}

// Two list items of one shape: equal after every run of letters and every run of digits is
// taken as one ("an270" and "bn14", "<ip>:<n>" and "<ip>:<n>"); placeholders and other bytes
// must be equal.
bool same_item_shape(std::string_view a, std::string_view b) {
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const char x = a[i], y = b[j];
    if (is_alpha(x) || is_digit(x)) {
      const bool letters = is_alpha(x);
      if (letters ? !is_alpha(y) : !is_digit(y)) return false;
      while (i < a.size() && (letters ? is_alpha(a[i]) : is_digit(a[i]))) ++i;
      while (j < b.size() && (letters ? is_alpha(b[j]) : is_digit(b[j]))) ++j;
      continue;
    }
    if (x != y) return false;
    if (x == '<') {  // a placeholder: its name must be equal too
      const std::size_t ea = a.find('>', i), eb = b.find('>', j);
      if (ea == std::string_view::npos || eb == std::string_view::npos ||
          a.substr(i, ea - i) != b.substr(j, eb - j))
        return false;
      i = ea + 1;
      j = eb + 1;
      continue;
    }
    ++i;
    ++j;
  }
  return i == a.size() && j == b.size();
}

// A list of values at toks[k]: three tokens or more, list items of one shape, separated by
// blanks or commas ("an270 an271 an272 …", "<ip>:<n> <ip>:<n> <ip>:<n>"). Its length changes
// from line to line of one event, which would otherwise split it. Returns the tokens it takes
// (1 when there is none) and the punctuation after its last item.
std::size_t list_run(const std::vector<std::string_view>& toks, std::size_t k,
                     std::string_view* tail) {
  std::string_view t0;
  const std::string_view first = strip_close(toks[k], &t0);
  if (!list_item(first)) return 1;
  std::size_t j = k + 1;
  std::string_view prev_tail = t0, t;
  while (j < toks.size() && (prev_tail.empty() || prev_tail == ",")) {
    const std::string_view c = strip_close(toks[j], &t);
    if (!list_item(c) || !same_item_shape(first, c)) break;
    prev_tail = t;
    ++j;
  }
  if (j - k < 3) return 1;
  *tail = prev_tail;
  return j - k;
}

// The field that starts at toks[k] in the message: a measured value (measure_run) or a list of
// values (list_run). Returns the tokens it takes, 1 when there is none.
std::size_t field_run(const std::vector<std::string_view>& toks, std::size_t k,
                      std::string_view* field, std::string_view* tail) {
  const std::size_t m = measure_run(toks, k, field, tail);
  if (m > 1) return m;
  const std::size_t l = list_run(toks, k, tail);
  if (l > 1) *field = "<list>";
  return l;
}

}  // namespace

std::uint64_t template_hash(std::string_view s) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = 0x243F6A8885A308D3ull ^ (s.size() * kMul);
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    h = (h ^ v) * kMul;
    h ^= h >> 29;
  }
  if (i < s.size()) {
    std::uint64_t v = 0;
    std::memcpy(&v, s.data() + i, s.size() - i);
    h = (h ^ v) * kMul;
    h ^= h >> 29;
  }
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

MaskedBatch::MaskedBatch(const TemplateOptions& opt)
    : premask_(opt.premask),
      max_line_(opt.max_line_bytes),
      use_memo_(opt.premask && opt.shape_memo_bytes > 0),
      memo_(opt.shape_memo_bytes) {
  memo_.hold();  // spans point into the memo's arena until clear()
}

void MaskedBatch::clear() {
  used_ = 0;
  count_ = 0;
  memo_.release();  // a clear the memo deferred while spans pointed into it happens now
  memo_.hold();
}

void MaskedBatch::add(std::string_view line) {
  if (line.size() > max_line_) line = line.substr(0, max_line_);
  const std::size_t need = used_ + (premask_ ? mask_bound(line.size()) : line.size());
  if (buf_.size() < need) buf_.resize(std::max(need, buf_.size() * 2));
  char* out = buf_.data() + used_;
  std::size_t len;
  if (use_memo_ && pause_ > 0) {
    --pause_;
  } else if (use_memo_) {
    if (++win_lookups_ == kWindow) {
      if (win_hits_ * 4 < kWindow) pause_ = kPause;
      win_lookups_ = win_hits_ = 0;
    }
    if (skel_.size() < skeleton_bound(line.size())) {
      skel_.resize(skeleton_bound(max_line_));
      dash_.resize(dash_words(max_line_));
    }
    std::uint64_t sh = 0;
    std::uint16_t spans[MaskDigitUse::kMaxRanges];
    const int nspans =
        line_shape_key(line, skel_.data(), dash_.data(), spans, MaskDigitUse::kMaxRanges, sh);
    const std::string_view skel(skel_.data(), line.size());
    ShapeMemo::Found f;
    if (nspans >= 0 && memo_.find(skel, sh, line, spans, nspans, f)) {
      ++win_hits_;
      push(Span{f.masked_off, f.masked.size(), f.masked_hash, f.seq});
      return;
    }
    MaskDigitUse use;
    len = mask_variables_into(line, MaskMode::templates, out, use);
    const std::uint64_t h = template_hash(std::string_view(out, len));
    memo_.insert(skel, sh, line, spans, nspans, use, std::string_view(out, len), h);
    push(Span{used_, len, h, kOwn});
    used_ += len;
    return;
  }
  if (premask_) {
    len = mask_variables_into(line, MaskMode::templates, out);
  } else {
    if (!line.empty()) std::memcpy(out, line.data(), line.size());
    len = line.size();
  }
  push(Span{used_, len, template_hash(std::string_view(out, len)), kOwn});
  used_ += len;
}

struct TemplateMiner::Impl {
  struct Cl {
    std::uint64_t id = 0;  // 0: free slot
    std::uint64_t count = 0;
    std::vector<std::string> tokens;
    std::string text;
    std::uint64_t leaf = 0;
    std::size_t hdr = 0;                       // record-header tokens at the front of `tokens`
    std::uint32_t prev = kNone, next = kNone;  // LRU list, most recent at head
  };

  TemplateOptions opt;
  std::vector<Cl> cls;
  std::vector<std::uint32_t> free_slots;
  std::uint32_t head = kNone, tail = kNone;
  std::size_t live = 0;
  std::uint64_t next_id = 1, nlines = 0, nevicted = 0;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> leaves;
  LineCache cache;
  std::size_t cache_used = 0;
  MaskedBatch one;                     // add(): a batch of one line
  std::string_view masked;             // the current masked line
  std::vector<std::string_view> toks;  // scratch

  void unlink(std::uint32_t s) {
    Cl& c = cls[s];
    if (c.prev != kNone)
      cls[c.prev].next = c.next;
    else
      head = c.next;
    if (c.next != kNone)
      cls[c.next].prev = c.prev;
    else
      tail = c.prev;
    c.prev = c.next = kNone;
  }
  void push_front(std::uint32_t s) {
    cls[s].prev = kNone;
    cls[s].next = head;
    if (head != kNone) cls[head].prev = s;
    head = s;
    if (tail == kNone) tail = s;
  }
  void touch(std::uint32_t s) {
    if (head == s) return;
    unlink(s);
    push_front(s);
  }

  // Leading record-header tokens (timestamps) are routed past and left out of the similarity:
  // Drain assumes the header was cut off beforehand; here it stays in the template text.
  std::size_t header = 0;

  std::uint64_t leaf_key() const {
    // By the message's token count: lines whose headers differ in length (a thread name of
    // several words, an optional "[pid]") still meet.
    std::uint64_t h = 1469598103934665603ull ^ (toks.size() - header);
    h *= 1099511628211ull;
    // drain3: max_node_depth = depth - 2 counts the length level, so depth - 3 token levels; a
    // line is never routed by all of its tokens.
    std::size_t levels = opt.depth - 3;
    if (opt.field_tokens) {
      // By the first words: tokens holding a placeholder are fields (as drain3 routes a token
      // with a digit as "<*>") and are passed over, so "<ip> GET …" and "<ip> POST …" take
      // different routes as "GET …" and "POST …" do. So are names of places (dotted names,
      // paths, hosts: place_token), which vary as fields do ("com.apple.x.heartbeat:" and
      // "com.apple.Safari.Update:" before one message). A "key=value" token routes by its key.
      for (std::size_t k = header; levels > 0 && k + 1 < toks.size(); ++k) {
        std::string_view t = toks[k];
        // "key=value": routed by its key, the value being a field.
        if (std::size_t eq = t.find('='); eq != std::string_view::npos) t = t.substr(0, eq + 1);
        if (has_digit(t) || t.find('<') != std::string_view::npos || place_token(t)) continue;
        for (unsigned char c : t) h = (h ^ c) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
        --levels;
      }
      return h;
    }
    for (std::size_t k = header; k < header + levels && k + 1 < toks.size(); ++k) {
      std::string_view t = has_digit(toks[k]) ? kWild : toks[k];
      for (unsigned char c : t) h = (h ^ c) * 1099511628211ull;
      h = (h ^ 0xff) * 1099511628211ull;
    }
    return h;
  }

  void rebuild_text(Cl& c) {
    c.text.clear();
    for (std::size_t k = 0; k < c.tokens.size(); ++k) {
      if (k) c.text.push_back(' ');
      c.text += c.tokens[k];
    }
  }

  void evict_one() {
    std::uint32_t s = tail;
    if (s == kNone) return;
    unlink(s);
    Cl& c = cls[s];
    auto it = leaves.find(c.leaf);
    if (it != leaves.end()) {
      auto& v = it->second;
      v.erase(std::remove(v.begin(), v.end(), s), v.end());
      if (v.empty()) leaves.erase(it);
    }
    c = Cl{};
    free_slots.push_back(s);
    --live;
    ++nevicted;
  }

  std::uint32_t create(std::uint64_t leaf) {
    if (live >= std::max<std::size_t>(opt.max_clusters, 1)) evict_one();
    std::uint32_t s;
    if (!free_slots.empty()) {
      s = free_slots.back();
      free_slots.pop_back();
    } else {
      s = static_cast<std::uint32_t>(cls.size());
      cls.emplace_back();
    }
    Cl& c = cls[s];
    c.id = next_id++;
    c.count = 0;
    c.tokens.assign(toks.begin(), toks.end());
    c.hdr = header;
    c.leaf = leaf;
    rebuild_text(c);
    leaves[leaf].push_back(s);
    push_front(s);
    ++live;
    return s;
  }

  std::uint32_t tree_match(std::uint64_t leaf) {
    auto it = leaves.find(leaf);
    if (it == leaves.end()) return kNone;
    std::uint32_t best = kNone;
    double best_sim = -1, fit_sim = -1;
    std::size_t best_params = 0;
    std::uint32_t fit = kNone;
    for (std::uint32_t s : it->second) {
      const Cl& c = cls[s];
      if (c.tokens.size() - c.hdr != toks.size() - header) continue;
      // Drain's similarity (equal tokens / tokens, "<*>" positions not equal), except that a
      // token holding a placeholder weighs masked_weight where a word weighs 1: two lines that
      // share only masked fields ("<n>", "<ip>") are not alike, and the words decide.
      double same = 0, body = 0;
      std::size_t params = 0, kept_words = 0;
      bool fits = true, word_lost = false;
      for (std::size_t k = header; k < toks.size(); ++k) {
        const std::string& ct = c.tokens[k - header + c.hdr];
        const double w = weight(toks[k]);
        body += w;
        if (ct == kWild) {
          ++params;
        } else if (ct == toks[k]) {
          same += w;
          if (is_word(ct)) ++kept_words;
        } else {
          fits = false;
          if (same_key(ct, toks[k]))
            ++kept_words;  // "tag=X" and "tag=Y": the value differs, the key stays
          else if (is_word(ct) && is_word(toks[k]) && !value_like(ct) && !value_like(toks[k]))
            word_lost = true;
        }
      }
      double sim = body == 0 ? 1.0 : same / body;
      // A message of few words is not generalised down to under kMinWords of them: in
      // "startAnimation begin" / "startAnimation end" the word that differs is the event.
      if (word_lost && kept_words < kMinWords) sim = -1;
      if (sim > best_sim || (sim == best_sim && params > best_params)) {
        best_sim = sim;
        best_params = params;
        best = s;
      }
      if (fits && sim > fit_sim) {
        fit_sim = sim;
        fit = s;
      }
    }
    if (best_sim >= opt.similarity) return best;
    // A line the template already describes (every word of the template equal, the rest "<*>")
    // belongs to it even when its "<*>" positions leave the similarity under the threshold: a
    // cluster that generalised past the threshold still takes the lines it was made of, so
    // mining a line again gives the cluster it got the first time, as the line cache does.
    return fit;
  }

  explicit Impl(const TemplateOptions& o) : opt(o), one(o) {}
  static constexpr std::size_t kMinWords = 2;

  static bool is_word(std::string_view t) { return t.find('<') == std::string_view::npos; }
  double weight(std::string_view t) const { return is_word(t) ? 1.0 : opt.masked_weight; }

  // Splits the masked line on blanks; with `quoted`, a double-quoted value after '=' stays one
  // token when it closes within 64 bytes, so a value of one or several words is one field
  // (tag="View Lock", and tag="X",). A quoted string elsewhere (a request line) is split as usual.
  static void tokenize(std::string_view m, bool quoted, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t i = 0;
    const std::size_t n = m.size();
    while (i < n) {
      while (i < n && (m[i] == ' ' || m[i] == '\t')) ++i;
      std::size_t j = i;
      bool in_quote = false;
      while (j < n) {
        const char c = m[j];
        if (c == ' ' || c == '\t') {
          if (!in_quote) break;
          const std::size_t q = m.find('"', j);
          if (q == std::string_view::npos || q - j > 64) break;
          j = q;
          continue;
        }
        if (quoted && c == '"') {
          if (in_quote) {
            in_quote = false;
          } else if (j > i && m[j - 1] == '=') {
            in_quote = true;
          }
        }
        ++j;
      }
      if (j > i) out.emplace_back(m.data() + i, j - i);
      i = j;
    }
  }

  // Token-level masking (canonical_token) of toks, and the header's severity word (toks[level])
  // as the field "<level>": neither splits an event. toks then point into canon_.
  std::string canon_;
  std::vector<std::size_t> canon_off_;
  void canonicalise(std::size_t level) {
    canon_.clear();
    canon_off_.clear();
    for (std::size_t k = 0; k < toks.size(); ++k) {
      canon_off_.push_back(canon_.size());
      if (k == level) {
        std::string_view t = toks[k], w = trim_punct(t);
        const std::size_t at = static_cast<std::size_t>(w.data() - t.data());
        canon_.append(t.substr(0, at));
        canon_.append("<level>");
        canon_.append(t.substr(at + w.size()));
      } else {
        canonical_token(toks[k], canon_);
      }
    }
    canon_off_.push_back(canon_.size());
    for (std::size_t k = 0; k < toks.size(); ++k) {
      toks[k] = std::string_view(canon_.data() + canon_off_[k], canon_off_[k + 1] - canon_off_[k]);
    }
    fold_fields();
  }

  // A field of several tokens in the message (field_run: a measured value "451 bytes (18.4 KB)",
  // a list "an270 an271 an272") becomes one token ("<size>", "<list>"). toks then point into
  // fold_.
  std::string fold_;
  std::vector<std::size_t> fold_off_;  // per token: begin, end
  void fold_fields() {
    std::string_view field, tail;
    std::size_t k = header;
    std::size_t run = 1;
    while (k < toks.size() && (run = field_run(toks, k, &field, &tail)) == 1) ++k;
    if (k == toks.size()) return;  // the common case: nothing to fold, no copy
    fold_.clear();
    fold_off_.clear();
    auto put = [&](std::string_view a, std::string_view b) {
      if (!fold_.empty()) fold_ += ' ';
      fold_off_.push_back(fold_.size());
      fold_.append(a);
      fold_.append(b);
      fold_off_.push_back(fold_.size());
    };
    for (std::size_t i = 0; i < k; ++i) put(toks[i], {});  // before the first field: as they are
    bool open_list = false;  // the last token written is a "<list>" without punctuation
    while (k < toks.size()) {
      if (run > 1 && open_list && field == "<list>") {
        // A list of items of two shapes ("… bn99 dadmin2 dadmin3 dadmin4") is one list.
        fold_.append(tail);
        fold_off_.back() = fold_.size();
      } else if (run == 1) {
        put(toks[k], {});
      } else {
        put(field, tail);
      }
      open_list = run > 1 && field == "<list>" && tail.empty();
      k += run;
      if (k < toks.size()) run = field_run(toks, k, &field, &tail);
    }
    toks.resize(fold_off_.size() / 2);
    for (k = 0; k < toks.size(); ++k)
      toks[k] = std::string_view(fold_.data() + fold_off_[2 * k],
                                 fold_off_[2 * k + 1] - fold_off_[2 * k]);
  }

  // r: the route slot of m's memo entry, or null. A set route whose epoch is the cache's stands
  // for cache.find(m), which it remembers (exact: see LineCache::epoch).
  std::uint64_t add(std::string_view m, std::uint64_t hash, MemoRoute* r) {
    ++nlines;
    masked = m;
    const LineCache::Val* v;
    LineCache::Val remembered;
    if (r != nullptr && r->epoch == cache.epoch()) {
      remembered = LineCache::Val{r->slot, r->id};
      v = &remembered;
    } else {
      v = cache.find(masked, hash);
      if (v != nullptr && r != nullptr) *r = MemoRoute{cache.epoch(), v->id, v->slot};
    }
    if (v != nullptr) {
      Cl& c = cls[v->slot];
      if (c.id == v->id) {
        ++c.count;
        touch(v->slot);
        return c.id;
      }
    }
    tokenize(masked, opt.field_tokens, toks);
    std::size_t level = kNone;
    header = opt.record_header ? record_header(toks, &level) : timestamp_run(toks);
    if (opt.field_tokens) canonicalise(level);
    std::uint64_t leaf = leaf_key();
    std::uint32_t s = tree_match(leaf);
    if (s == kNone) {
      s = create(leaf);
    } else {
      Cl& c = cls[s];
      bool changed = false;
      if (c.hdr != header) {
        // Headers of different lengths: the cluster's header becomes one "<*>".
        c.tokens.erase(c.tokens.begin(), c.tokens.begin() + static_cast<std::ptrdiff_t>(c.hdr));
        c.tokens.insert(c.tokens.begin(), std::string(kWild));
        c.hdr = 1;
        changed = true;
        for (std::size_t k = header; k < toks.size(); ++k) {
          std::string& ct = c.tokens[k - header + 1];
          if (ct != toks[k] && ct != kWild) ct.assign(kWild);
        }
      } else {
        for (std::size_t k = 0; k < toks.size(); ++k) {
          if (c.tokens[k] != toks[k] && c.tokens[k] != kWild) {
            c.tokens[k].assign(kWild);
            changed = true;
          }
        }
      }
      if (changed) rebuild_text(c);
      touch(s);
    }
    Cl& c = cls[s];
    ++c.count;
    if (cache_used + masked.size() + 64 > opt.cache_bytes) {
      cache.clear();
      cache_used = 0;
    }
    cache.insert(masked, hash, LineCache::Val{s, c.id});
    cache_used += masked.size() + 64;
    return c.id;
  }
};

namespace {
TemplateOptions checked(TemplateOptions opt) {
  if (opt.depth < 3) opt.depth = 3;
  return opt;
}
}  // namespace

TemplateMiner::TemplateMiner(TemplateOptions opt) : p_(std::make_unique<Impl>(checked(opt))) {}
TemplateMiner::~TemplateMiner() = default;

std::uint64_t TemplateMiner::add(std::string_view line) {
  p_->one.clear();
  p_->one.add(line);
  return p_->add(p_->one.masked(0), p_->one.hash(0), p_->one.route(0));
}

std::uint64_t TemplateMiner::add_prepared(const MaskedBatch& b, std::size_t k) {
  return p_->add(b.masked(k), b.hash(k), b.route(k));
}

std::string_view TemplateMiner::template_of(std::uint64_t id) const {
  // Fast path: the most recently used cluster is the one add() just returned.
  if (p_->head != kNone && p_->cls[p_->head].id == id) return p_->cls[p_->head].text;
  for (const auto& c : p_->cls) {
    if (c.id == id) return c.text;
  }
  return {};
}

std::vector<TemplateMiner::Cluster> TemplateMiner::clusters() const {
  std::vector<Cluster> r;
  r.reserve(p_->live);
  for (const auto& c : p_->cls) {
    if (c.id != 0) r.push_back(Cluster{c.id, c.count, c.text});
  }
  std::sort(r.begin(), r.end(), [](const Cluster& a, const Cluster& b) {
    return a.count != b.count ? a.count > b.count : a.id < b.id;
  });
  return r;
}

std::uint64_t TemplateMiner::lines() const { return p_->nlines; }
std::uint64_t TemplateMiner::evicted() const { return p_->nevicted; }

}  // namespace dm::logs
