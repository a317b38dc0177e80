#include "airflow/log_stream.h"

#include <algorithm>
#include <cstring>
#include <set>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace dm::airflow {

LineFn counting_sink(const LogSink& sink, LogStats& st, std::uint64_t max_bytes) {
  st = LogStats{};
  st.read_bytes_max = max_bytes;
  return [&sink, &st, max_bytes](std::string_view text, std::string_view level) {
    if (max_bytes > 0 && st.bytes + text.size() + 1 > max_bytes) {
      st.capped = true;
      st.stopped_by_sink = true;
      return false;
    }
    ++st.lines;
    st.bytes += text.size() + 1;
    if (!sink(LogLine{text, level})) {
      st.stopped_by_sink = true;
      return false;
    }
    return true;
  };
}

using nlohmann::json;

namespace {

// Calls fn for each line of s (split on '\n', '\r' stripped).
bool each_line(std::string_view s, std::string_view level, const LineFn& fn) {
  std::size_t start = 0;
  while (start <= s.size()) {
    auto nl = s.find('\n', start);
    auto l = s.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (!fn(l, level)) return false;
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return true;
}

std::string scalar_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// structlog "dict_tracebacks" form: [{exc_type, exc_value, frames:[{filename, lineno, name}]}...]
bool render_exception(const json& detail, std::string_view level, const LineFn& fn) {
  if (detail.is_string()) return each_line(detail.get<std::string>(), level, fn);
  if (!detail.is_array()) return fn(detail.dump(), level);
  bool first = true;
  for (const auto& exc : detail) {
    if (!exc.is_object()) {
      if (!fn(exc.dump(), level)) return false;
      continue;
    }
    if (!first) {
      if (!fn("", level)) return false;
      bool cause = exc.value("is_cause", false);
      if (!fn(cause ? "The above exception was the direct cause of the following exception:"
                    : "During handling of the above exception, another exception occurred:",
              level))
        return false;
      if (!fn("", level)) return false;
    }
    first = false;
    if (!fn("Traceback (most recent call last):", level)) return false;
    if (auto fr = exc.find("frames"); fr != exc.end() && fr->is_array()) {
      for (const auto& f : *fr) {
        if (!f.is_object()) continue;
        std::string line = "  File \"" + scalar_text(f.value("filename", json(""))) + "\", line " +
                           scalar_text(f.value("lineno", json(0))) + ", in " +
                           scalar_text(f.value("name", json("?")));
        if (!fn(line, level)) return false;
      }
    }
    std::string type = exc.contains("exc_type") ? scalar_text(exc["exc_type"]) : "Exception";
    std::string value = exc.contains("exc_value") ? scalar_text(exc["exc_value"]) : "";
    if (!each_line(value.empty() ? type : type + ": " + value, level, fn)) return false;
  }
  return true;
}

const std::set<std::string> kKnownKeys = {"timestamp",    "level",     "logger", "event",
                                          "error_detail", "exception", "chan"};

}  // namespace

// ---- FastEventDecoder --------------------------------------------------------------------------

namespace {

inline bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
inline void skip_ws(const char*& p, const char* end) {
  while (p < end && is_ws(*p)) ++p;
}

// Index of the first byte in [p, end) that is '"', '\\', a control character (< 0x20) or
// non-ASCII (>= 0x80), or end - p.
inline std::size_t plain_run(const char* p, const char* end) {
  const char* q = p;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i bslash = _mm_set1_epi8('\\');
  const __m128i ctl = _mm_set1_epi8(0x1f);
  while (end - q >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    // Signed compare: bytes >= 0x80 are negative, so "v <= 0x1f" also catches them.
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                             _mm_cmplt_epi8(v, _mm_add_epi8(ctl, _mm_set1_epi8(1))));
    int bits = _mm_movemask_epi8(m);
    if (bits != 0) return static_cast<std::size_t>(q - p) + __builtin_ctz(bits);
    q += 16;
  }
#endif
  for (; q < end; ++q) {
    auto c = static_cast<unsigned char>(*q);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
  }
  return static_cast<std::size_t>(q - p);
}

// Length of the valid UTF-8 sequence at p (ranges as RFC 3629 and nlohmann's lexer), 0 if none.
inline std::size_t utf8_seq(const char* p, const char* end) {
  auto b = [&](std::size_t i) { return static_cast<unsigned char>(p[i]); };
  auto in = [&](std::size_t i, unsigned lo, unsigned hi) {
    return p + i < end && b(i) >= lo && b(i) <= hi;
  };
  unsigned c = b(0);
  if (c >= 0xC2 && c <= 0xDF) return in(1, 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
    return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xED) return in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xF0) return in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3)
    return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  if (c == 0xF4) return in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  return 0;
}

inline int hex4(const char* p, const char* end) {
  if (end - p < 4) return -1;
  int v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = p[i];
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v * 16 + d;
  }
  return v;
}

void append_utf8(std::string& s, unsigned cp) {
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// each_line for a view, without allocating: first line prefixed with `head`.
bool each_line_head(std::string_view s, std::string_view level, std::string& buf,
                    std::size_t head_len, const LineFn& fn) {
  std::size_t start = 0;
  bool first = true;
  while (true) {
    auto nl = s.find('\n', start);
    auto l = s.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    bool go;
    if (first) {
      buf.resize(head_len);
      buf.append(l);
      go = fn(buf, level);
      first = false;
    } else {
      go = fn(l, level);
    }
    if (!go) return false;
    if (nl == std::string_view::npos) return true;
    start = nl + 1;
  }
}

}  // namespace

std::string& FastEventDecoder::scratch() {
  if (pool_used_ == pool_.size()) pool_.emplace_back();
  std::string& s = pool_[pool_used_++];
  s.clear();
  return s;
}

inline bool FastEventDecoder::parse_string(const char*& p, const char* end, std::string_view& out,
                                           bool& plain) {
  const char* start = p + 1;
  const char* q = start + plain_run(start, end);
  if (q < end && *q == '"') {
    out = std::string_view(start, static_cast<std::size_t>(q - start));
    p = q + 1;
    plain = true;
    return true;
  }
  plain = false;
  p = q;
  // Through a local: `out` (the caller's) then never has its address taken, so the common case
  // keeps it in registers (a 16-byte reload of two 8-byte stores stalls store forwarding).
  std::string_view escaped;
  const bool ok = parse_escaped(p, end, start, escaped);
  out = escaped;
  return ok;
}

// `p` at the first byte of the string `start` that plain_run stopped at (or `end`).
bool FastEventDecoder::parse_escaped(const char*& p, const char* end, const char* start,
                                     std::string_view& out) {
  std::string* buf = nullptr;  // set once an escape forces a copy
  while (true) {
    std::size_t n = plain_run(p, end);
    if (buf) buf->append(p, n);
    p += n;
    if (p >= end) return false;
    auto c = static_cast<unsigned char>(*p);
    if (c == '"') {
      out = buf ? std::string_view(*buf)
                : std::string_view(start, static_cast<std::size_t>(p - start));
      ++p;
      return true;
    }
    if (c < 0x20) return false;
    if (c >= 0x80) {
      std::size_t k = utf8_seq(p, end);
      if (k == 0) return false;
      if (buf) buf->append(p, k);
      p += k;
      continue;
    }
    // Backslash.
    if (!buf) {
      buf = &scratch();
      buf->assign(start, p);
    }
    if (end - p < 2) return false;
    char e = p[1];
    p += 2;
    switch (e) {
      case '"':
        buf->push_back('"');
        break;
      case '\\':
        buf->push_back('\\');
        break;
      case '/':
        buf->push_back('/');
        break;
      case 'b':
        buf->push_back('\b');
        break;
      case 'f':
        buf->push_back('\f');
        break;
      case 'n':
        buf->push_back('\n');
        break;
      case 'r':
        buf->push_back('\r');
        break;
      case 't':
        buf->push_back('\t');
        break;
      case 'u': {
        int u = hex4(p, end);
        if (u < 0) return false;
        p += 4;
        unsigned cp = static_cast<unsigned>(u);
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // lone low surrogate
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return false;
          int lo = hex4(p + 2, end);
          if (lo < 0xDC00 || lo > 0xDFFF) return false;
          p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<unsigned>(lo) - 0xDC00);
        }
        append_utf8(*buf, cp);
        break;
      }
      default:
        return false;
    }
  }
}

bool FastEventDecoder::parse(std::string_view line) {
  present_ = 0;
  extras_.clear();
  pool_used_ = 0;
  const char* p = line.data();
  const char* end = p + line.size();
  skip_ws(p, end);
  if (p >= end || *p != '{') return false;
  ++p;
  skip_ws(p, end);
  if (p < end && *p == '}') {
    ++p;
  } else {
    while (true) {
      if (p >= end || *p != '"') return false;
      std::string_view key;
      bool key_plain;
      if (!parse_string(p, end, key, key_plain)) return false;
      skip_ws(p, end);
      if (p >= end || *p != ':') return false;
      ++p;
      skip_ws(p, end);
      if (p >= end) return false;
      // Which slot the key fills, before its value: a page form or a duplicate declines now.
      int slot = -1;
      switch (key.size()) {
        case 4:
          if (key == "chan") slot = kChan;
          break;
        case 5:
          if (key == "level")
            slot = kLevel;
          else if (key == "event")
            slot = kEvent;
          break;
        case 6:
          if (key == "logger") slot = kLogger;
          break;
        case 7:
          if (key == "content") return false;  // page / content forms
          break;
        case 9:
          if (key == "timestamp")
            slot = kTimestamp;
          else if (key == "exception")
            slot = kException;
          break;
        case 12:
          if (key == "error_detail") slot = kErrorDetail;
          break;
        default:
          break;
      }
      if (slot >= 0) {
        const unsigned bit = 1u << slot;
        if (present_ & bit) return false;  // duplicate key
        present_ |= bit;
      }
      std::string_view text;
      Kind kind = kString;
      bool plain = true;
      if (*p == '"') {
        if (!parse_string(p, end, text, plain)) return false;
      } else {
        if (*p == 't')
          text = "true";
        else if (*p == 'f')
          text = "false";
        else if (*p == 'n')
          text = "null";
        else
          return false;  // number, object, array: the reference decoder renders those
        if (static_cast<std::size_t>(end - p) < text.size() ||
            std::memcmp(p, text.data(), text.size()) != 0)
          return false;
        p += text.size();
        kind = *text.data() == 'n' ? kNull : kLiteral;
      }
      if (slot >= 0) {
        slots_[slot].text = text;
        slots_[slot].kind = kind;
        slots_[slot].plain = plain;
      } else {
        extras_.emplace_back(key, text);
      }
      skip_ws(p, end);
      if (p >= end) return false;
      if (*p == ',') {
        ++p;
        skip_ws(p, end);
        continue;
      }
      if (*p != '}') return false;
      ++p;
      break;
    }
  }
  skip_ws(p, end);
  if (p != end) return false;
  // The reference renders extra keys in the json object's (std::map) order; duplicates decline.
  if (extras_.size() > 1) {
    std::sort(extras_.begin(), extras_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 1; i < extras_.size(); ++i)
      if (extras_[i].first == extras_[i - 1].first) return false;
  }
  // Exceptions other than a string are structured tracebacks: the reference renders those.
  for (Slot d : {kErrorDetail, kException})
    if (has(d) && slots_[d].kind == kLiteral) return false;
  return true;
}

std::size_t FastEventDecoder::write_head(std::string_view level, std::string_view rest) {
  const bool ts = has_value(kTimestamp), lg = has_value(kLogger);
  const std::string_view t = ts ? slots_[kTimestamp].text : std::string_view{};
  const std::string_view l = lg ? slots_[kLogger].text : std::string_view{};
  const std::size_t head_len =
      (ts ? t.size() + 1 : 0) + (level.empty() ? 0 : level.size() + 3) + (lg ? l.size() + 2 : 0);
  // Resized, not cleared: head_ keeps about the previous line's size, so this rarely fills.
  head_.resize(head_len + rest.size());
  char* o = head_.data();
  auto put = [&o](std::string_view v) {
    if (!v.empty()) std::memcpy(o, v.data(), v.size());
    o += v.size();
  };
  if (ts) {
    put(t);
    *o++ = ' ';
  }
  if (!level.empty()) {
    *o++ = '[';
    put(level);
    put("] ");
  }
  if (lg) {
    put(l);
    put(": ");
  }
  put(rest);
  return head_len;
}

FastEventDecoder::Outcome FastEventDecoder::decode(std::string_view line, const LineFn& fn) {
  if (!parse(line)) return Outcome::declined;
  // As render_event: level is scalar_text(level) when present (null renders "null").
  const std::string_view level = has(kLevel) ? slots_[kLevel].text : std::string_view{};
  const std::string_view event = has_value(kEvent) ? slots_[kEvent].text : std::string_view{};
  bool go;
  if (extras_.empty() && (event.empty() || slots_[kEvent].plain)) {
    // One line (a plain string holds no '\n' or '\r'): the head and the event, written at once.
    write_head(level, event);
    go = fn(head_, level);
  } else if (extras_.empty()) {
    go = each_line_head(event, level, head_, write_head(level, {}), fn);
  } else {
    std::string& ev = scratch();
    ev.assign(event);
    for (const auto& [k, v] : extras_) {
      ev.push_back(' ');
      ev.append(k);
      ev.push_back('=');
      ev.append(v);
    }
    go = each_line_head(ev, level, head_, write_head(level, {}), fn);
  }
  if (!go) return Outcome::stopped;
  for (Slot d : {kErrorDetail, kException}) {
    if (has_value(d)) {
      if (!each_line(slots_[d].text, level, fn)) return Outcome::stopped;
    }
  }
  return Outcome::rendered;
}

bool TextLineSplitter::feed(std::string_view chunk) {
  std::size_t start = 0;
  while (true) {
    auto nl = chunk.find('\n', start);
    if (nl == std::string_view::npos) {
      partial_.append(chunk.substr(start));
      return true;
    }
    std::string_view l;
    if (partial_.empty()) {
      l = chunk.substr(start, nl - start);
    } else {
      partial_.append(chunk.substr(start, nl - start));
      l = partial_;
    }
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    bool go = fn_(l, {});
    partial_.clear();
    if (!go) return false;
    start = nl + 1;
  }
}

bool TextLineSplitter::finish() {
  if (partial_.empty()) return true;
  std::string last = std::move(partial_);
  partial_.clear();
  if (!last.empty() && last.back() == '\r') last.pop_back();
  return fn_(last, {});
}

bool EventLogDecoder::render_event(const json& ev, const LineFn& fn) {
  if (!ev.is_object()) return fn(ev.is_string() ? ev.get<std::string>() : ev.dump(), {});
  std::string level = ev.contains("level") ? scalar_text(ev["level"]) : "";
  std::string head;
  if (auto t = ev.find("timestamp"); t != ev.end() && !t->is_null()) head += scalar_text(*t) + " ";
  if (!level.empty()) head += "[" + level + "] ";
  if (auto l = ev.find("logger"); l != ev.end() && !l->is_null()) head += scalar_text(*l) + ": ";
  std::string event;
  if (auto e = ev.find("event"); e != ev.end() && !e->is_null()) event = scalar_text(*e);
  for (const auto& [k, v] : ev.items()) {
    if (kKnownKeys.count(k)) continue;
    event += " " + k + "=" + scalar_text(v);
  }
  // Multi-line events (e.g. a printed traceback) become several lines, the first with the head.
  bool first = true;
  bool go = each_line(event, level, [&](std::string_view l, std::string_view lv) {
    if (first) {
      first = false;
      return fn(head + std::string(l), lv);
    }
    return fn(l, lv);
  });
  if (!go) return false;
  for (const char* key : {"error_detail", "exception"}) {
    if (auto d = ev.find(key); d != ev.end() && !d->is_null()) {
      if (!render_exception(*d, level, fn)) return false;
    }
  }
  return true;
}

bool EventLogDecoder::line(std::string_view l) {
  while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.remove_suffix(1);
  if (l.empty()) return true;
  if (mode_ == Mode::fast) {
    switch (fast_.decode(l, fn_)) {
      case FastEventDecoder::Outcome::rendered:
        ++events_;
        ++fast_events_;
        return true;
      case FastEventDecoder::Outcome::stopped:
        ++events_;
        ++fast_events_;
        return false;
      case FastEventDecoder::Outcome::declined:
        break;
    }
  }
  json j = json::parse(l, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    std::string head(l.substr(0, 60));
    for (auto& c : head)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    error_ = make_error(Errc::protocol, "log stream is not JSON (starts with \"" + head + "\")");
    return false;
  }
  if (j.is_object() && j.contains("content") &&
      (j["content"].is_array() || j.contains("continuation_token"))) {
    // JSON page form.
    page_form_ = true;
    if (auto t = j.find("continuation_token"); t != j.end() && t->is_string())
      token_ = t->get<std::string>();
    const auto& c = j["content"];
    if (c.is_string()) {
      ++events_;
      return each_line(c.get<std::string>(), {}, fn_);
    }
    if (!c.is_array()) {
      error_ = make_error(Errc::protocol, "log page has no content array");
      return false;
    }
    for (const auto& ev : c) {
      ++events_;
      if (!render_event(ev, fn_)) return false;
    }
    return true;
  }
  if (j.is_object() && j.contains("content") && j["content"].is_string() && !j.contains("event")) {
    ++events_;
    return each_line(j["content"].get<std::string>(), {}, fn_);
  }
  ++events_;
  return render_event(j, fn_);
}

bool EventLogDecoder::feed(std::string_view chunk) {
  if (error_) return false;
  std::size_t start = 0;
  while (true) {
    auto nl = chunk.find('\n', start);
    if (nl == std::string_view::npos) {
      partial_.append(chunk.substr(start));
      if (partial_.size() > kMaxLine) {
        error_ = make_error(Errc::too_large, "a single log event/page exceeds 64 MiB");
        return false;
      }
      return true;
    }
    bool go;
    if (partial_.empty()) {
      go = line(chunk.substr(start, nl - start));
    } else {
      partial_.append(chunk.substr(start, nl - start));
      std::string l = std::move(partial_);
      partial_.clear();
      go = line(l);
    }
    if (!go) return false;
    start = nl + 1;
  }
}

bool EventLogDecoder::finish() {
  if (error_) return false;
  if (partial_.empty()) return true;
  std::string l = std::move(partial_);
  partial_.clear();
  return line(l);
}

}  // namespace dm::airflow
