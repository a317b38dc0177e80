#include "logs/signature_mask.h"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#define DM_MASK_SIMD 1
#include <emmintrin.h>
#else
#define DM_MASK_SIMD 0
#endif

namespace dm::logs {
namespace {

// Character classes by table: this loop runs over every byte of every mined line (it is ~90 % of
// the CPU of `dagmedic logs templates`), so it writes into a buffer sized once (mask_bound) with
// no per-piece capacity checks.
constexpr unsigned char kDigit = 1, kAlpha = 2;
struct ClassTable {
  unsigned char t[256] = {};
  constexpr ClassTable() {
    for (int c = '0'; c <= '9'; ++c) t[c] = kDigit;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = kAlpha;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = kAlpha;
  }
};
constexpr ClassTable kClass;
inline unsigned char cls(char c) { return kClass.t[static_cast<unsigned char>(c)]; }
inline bool is_digit(char c) { return cls(c) == kDigit; }
inline bool is_alpha(char c) { return cls(c) == kAlpha; }
inline bool is_alnum(char c) { return cls(c) != 0; }
inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

inline bool digits_at(std::string_view in, std::size_t p, std::size_t n) {
  if (p + n > in.size()) return false;
  for (std::size_t k = 0; k < n; ++k) {
    if (!is_digit(in[p + k])) return false;
  }
  return true;
}

inline bool run_stop(char c) {
  return c == ' ' || c == '\t' || c == '\'' || c == '"' || c == '/' || c == ',' || c == ';' ||
         c == ')' || c == ']' || c == '}' || c == '(' || c == '[' || c == '{' || c == '`';
}

// The run-id prefixes (manual__, scheduled__, backfill__, dataset_triggered__,
// asset_triggered__, rerun__) start with distinct letters.
inline std::string_view run_prefix(char c) {
  switch (c) {
    case 'm':
      return "manual__";
    case 's':
      return "scheduled__";
    case 'b':
      return "backfill__";
    case 'd':
      return "dataset_triggered__";
    case 'a':
      return "asset_triggered__";
    case 'r':
      return "rerun__";
    default:
      return {};
  }
}

bool uuid_at(std::string_view in, std::size_t i) {
  if (i + 36 > in.size()) return false;
  for (std::size_t k = 0; k < 36; ++k) {
    char c = in[i + k];
    if (k == 8 || k == 13 || k == 18 || k == 23) {
      if (c != '-') return false;
    } else if (!is_hex(c)) {
      return false;
    }
  }
  return i + 36 == in.size() || !is_alnum(in[i + 36]);
}

std::size_t consume_time(std::string_view in, std::size_t p, bool& found) {
  found = false;
  if (!(digits_at(in, p, 2) && p + 5 <= in.size() && in[p + 2] == ':' && digits_at(in, p + 3, 2))) {
    return p;
  }
  found = true;
  p += 5;
  if (p + 3 <= in.size() && in[p] == ':' && digits_at(in, p + 1, 2)) p += 3;
  if (p + 1 < in.size() && (in[p] == '.' || in[p] == ',') && is_digit(in[p + 1])) {
    ++p;
    while (p < in.size() && is_digit(in[p])) ++p;
  }
  if (p < in.size() && in[p] == 'Z' && (p + 1 == in.size() || !is_alnum(in[p + 1]))) {
    ++p;
  } else if (p + 3 <= in.size() && (in[p] == '+' || in[p] == '-') && digits_at(in, p + 1, 2)) {
    std::size_t q = p + 3;
    if (q + 3 <= in.size() && in[q] == ':' && digits_at(in, q + 1, 2)) {
      q += 3;
    } else if (digits_at(in, q, 2)) {
      q += 2;
    }
    p = q;
  }
  return p;
}

// Appends without capacity checks: the caller sized the buffer (mask_bound).
// Padded: the source is readable 15 bytes past any piece and the destination writable as well
// (output never exceeds 3x the input consumed, mask_bound gives 4n + 16), so pieces are copied in
// whole 16-byte steps instead of an exact-length memcpy call.
template <bool Padded>
struct W {
  char* p;
  void put(const char* s, std::size_t n) {
    if constexpr (Padded) {
      for (std::size_t k = 0; k < n; k += 16) std::memcpy(p + k, s + k, 16);
    } else {
      std::memcpy(p, s, n);
    }
    p += n;
  }
  template <std::size_t N>
  void lit(const char (&s)[N]) {
    std::memcpy(p, s, N - 1);
    p += N - 1;
  }
};

// Longest word the label checks below compare (longer words are cut and then match nothing).
constexpr std::size_t kWordMax = 16;

// The lowercased letters of the word ending just before in[i], past up to 3 characters of
// `seps`, written into `buf`; "" when there is none.
std::string_view word_before(std::string_view in, std::size_t i, std::string_view seps,
                             char (&buf)[kWordMax]) {
  std::size_t k = i;
  for (int skipped = 0; k > 0 && skipped < 3 && seps.find(in[k - 1]) != std::string_view::npos;
       ++skipped)
    --k;
  const std::size_t e = k;
  while (k > 0 && is_alpha(in[k - 1]) && e - k < kWordMax) --k;
  for (std::size_t q = k; q < e; ++q) buf[q - k] = lower(in[q]);
  return {buf, e - k};
}

// The lowercased letters of the word starting at in[from], written into `buf`.
std::string_view word_after(std::string_view in, std::size_t from, char (&buf)[kWordMax]) {
  std::size_t n = 0;
  while (from + n < in.size() && is_alpha(in[from + n]) && n < kWordMax) {
    buf[n] = lower(in[from + n]);
    ++n;
  }
  return {buf, n};
}

// Whether the 3-digit number in[i, j) is said to be an HTTP status by the words around it: a
// reason phrase after it ("404 Client Error", "503 Service Unavailable"), "HTTP/1.1 " before it,
// or a verb of answering before it ("returned 503", "response: 429"). A bare 4xx/5xx number
// ("read 512 rows", "after 450 ms") is a count that changes from run to run, not a cause.
// ("status 404", "HTTP 503", "code 502" are kept by the label rule in protected_number.)
bool http_status_context(std::string_view in, std::size_t i, std::size_t j) {
  if (j < in.size() && (in[j] == ' ' || in[j] == ':' || in[j] == '-')) {
    char buf[kWordMax];
    const std::string_view next = word_after(in, j + 1, buf);
    for (std::string_view r :
         {"client",        "server",      "error",   "not",     "bad",      "forbidden",
          "unauthorized",  "internal",    "service", "too",     "conflict", "gateway",
          "unprocessable", "request",     "method",  "payload", "gone",     "precondition",
          "unavailable",   "unsupported", "timeout"})
      if (next == r) return true;
  }
  // "HTTP/1.1 503", "HTTP/2 429"
  for (std::size_t k = i; k > 0 && i - k < 10; --k)
    if (k >= 5 && lower(in[k - 5]) == 'h' && lower(in[k - 4]) == 't' && lower(in[k - 3]) == 't' &&
        lower(in[k - 2]) == 'p' && in[k - 1] == '/')
      return true;
  // The word before, past up to 3 separators: an answer's verb.
  char buf[kWordMax];
  const std::string_view w = word_before(in, i, " :=(", buf);
  for (std::string_view v : {"returned", "response", "responded", "answered", "received", "got"})
    if (w == v) return true;
  return false;
}

// Signature mode: digits in[i, j) that name the cause and stay.
bool protected_number(std::string_view in, std::size_t i, std::size_t j) {
  std::size_t len = j - i;
  // A process or thread id is never a cause, even when it looks like an HTTP status
  // ("Timeout, PID: 581" and "PID: 626" are one failure).
  if (i >= 3) {
    std::size_t k = i;
    while (k > 0 && i - k < 3 && (in[k - 1] == ' ' || in[k - 1] == ':' || in[k - 1] == '=')) --k;
    if (k >= 3 && lower(in[k - 1]) == 'd' && lower(in[k - 2]) == 'i' &&
        (lower(in[k - 3]) == 'p' || lower(in[k - 3]) == 't') && (k == 3 || !is_alpha(in[k - 4])))
      return false;
  }
  if (len == 3 && (in[i] == '4' || in[i] == '5') && (j == in.size() || in[j] != '.') &&
      (i == 0 || in[i - 1] != '.') && http_status_context(in, i, j)) {
    return true;  // an HTTP status, said so by the words around it
  }
  if (j + 8 <= in.size() && in[j] == ' ' && in[j + 1] == '(' && in[j + 7] == ')') {
    return true;  // "1146 (42S02)", "002003 (42S02)"
  }
  if (i > 0 && in[i - 1] == '(' && j + 1 < in.size() && in[j] == ',') return true;  // "(1054, "
  // The word before, past up to 3 separator characters.
  char buf[kWordMax];
  const std::string_view word = word_before(in, i, " :=#-[_", buf);
  for (std::string_view p : {"errno", "code", "status", "exit", "signal", "http", "error",
                             "sqlstate", "returncode", "sig"}) {
    if (word == p) return true;
  }
  return false;
}

// Byte-at-a-time scans: the reference behaviour, and the engine on targets without SSE2.
struct ByteScan {
  static constexpr bool kPadded = false;
  const char* s;
  std::size_t n;
  std::string_view text(std::string_view in) const { return in; }
  // Could "__" start at p? (A quick no before comparing a run-id prefix.)
  bool pair_at(std::size_t) const { return true; }
  std::size_t bulk(std::size_t i) const { return i; }
  // End of the separator run starting at i: the next letter/digit or '/'.
  std::size_t sep_end(std::size_t i) const {
    std::size_t k = i + 1;
    while (k < n && !is_alnum(s[k]) && s[k] != '/') ++k;
    return k;
  }
  // End of the letter/digit segment starting at i; `seen` gets its kDigit | kAlpha bits.
  std::size_t seg_end(std::size_t i, unsigned char& seen) const {
    std::size_t j = i;
    seen = 0;
    while (j < n) {
      unsigned char k = cls(s[j]);
      if (k == 0) break;
      seen |= k;
      ++j;
    }
    return j;
  }
};

// The rule engine, one left-to-right pass. `Scan` answers the three scanning questions (bulk
// verbatim stretch, separator run end, segment end + classes); the rules are the same code for
// every scanner, so their outputs are identical by construction (and tested byte for byte).
//
// `du` records where the output depends on the value of a digit and not only on its being a
// digit: the digits copied to the output (du.add: "int64", "(42S02)"), or, in signature mode, any
// digit (protected numbers compare digits with given digits: du.values). Everything else treats
// digits by class (is_digit, is_hex, is_alnum, comparisons with non-digit characters) and never
// copies them (bulk and separator copies stop at letters/digits), so the control flow depends on
// digit classes only, and a line masks like any line that has the same skeleton (digits -> '0')
// and the same digits in du's ranges (line_shape.h relies on this).
template <class Scan>
std::size_t mask_engine(std::string_view in, MaskMode mode, char* out, const Scan& sc,
                        MaskDigitUse& du) {
  in = sc.text(in);
  const std::size_t n = in.size();
  const char* s = in.data();
  W<Scan::kPadded> w{out};
  std::size_t i = 0;
  while (i < n) {
    if (std::size_t t = sc.bulk(i); t > i) {
      w.put(s + i, t - i);
      i = t;
      if (i >= n) break;
    }
    char c = s[i];
    if (!is_alnum(c)) {
      if (c == '/' && (in.compare(i, 5, "/tmp/") == 0 || in.compare(i, 13, "/var/folders/") == 0)) {
        bool tmp = in.compare(i, 5, "/tmp/") == 0;
        if (tmp) {
          w.lit("/tmp/");
        } else {
          w.lit("/var/folders/");
        }
        i += tmp ? 5 : 13;
        std::size_t k = i;
        while (k < n && !run_stop(s[k] == '/' && !tmp ? 'x' : s[k]) && s[k] != '\n') ++k;
        if (k > i) w.lit("<tmp>");
        i = k;
        continue;
      }
      std::size_t k = sc.sep_end(i);
      w.put(s + i, k - i);
      i = k;
      continue;
    }
    // Run ids: one candidate prefix per first letter, checked only if it can fit.
    if (std::string_view p = run_prefix(c); !p.empty() && i + p.size() <= n && s[i + 1] == p[1] &&
                                            sc.pair_at(i + p.size() - 2) &&
                                            std::memcmp(s + i, p.data(), p.size()) == 0) {
      std::size_t k = i + p.size();
      while (k < n && !run_stop(s[k])) ++k;
      w.lit("<run_id>");
      i = k;
      continue;
    }
    unsigned char seen = 0;  // kDigit | kAlpha bits of the segment
    const std::size_t j = sc.seg_end(i, seen);
    const bool has_alpha = (seen & kAlpha) != 0, has_digit = (seen & kDigit) != 0;
    const std::size_t len = j - i;
    if (len == 5 && i > 0 && s[i - 1] == '(' && j < n && s[j] == ')') {  // SQLSTATE "(42S02)"
      if (has_digit) du.add(i, len);
      w.put(s + i, len);
      i = j;
      continue;
    }
    if (len == 8 && is_hex(c) && uuid_at(in, i)) {
      if (du.uuids == MaskDigitUse::kMaxRanges || i > 0xffff) {
        du.values = true;
      } else {
        du.uuid_off[du.uuids++] = static_cast<std::uint16_t>(i);
      }
      w.lit("<uuid>");
      i += 36;
      continue;
    }
    if (!has_alpha) {
      if (len == 4 && j + 6 <= n && (s[j] == '-' || s[j] == '/') && digits_at(in, j + 1, 2) &&
          s[j + 3] == s[j] && digits_at(in, j + 4, 2) && (j + 6 == n || !is_digit(s[j + 6]))) {
        std::size_t k = j + 6;
        bool t = false;
        if (k + 1 < n && (s[k] == 'T' || s[k] == ' ')) {
          std::size_t after = consume_time(in, k + 1, t);
          if (t) k = after;
        }
        if (t && k + 4 <= n && in.compare(k, 4, " UTC") == 0) k += 4;
        if (t) {
          w.lit("<ts>");
        } else {
          w.lit("<date>");
        }
        i = k;
        continue;
      }
      if (len == 2) {
        bool t = false;
        std::size_t after = consume_time(in, i, t);
        if (t && after > i + 5) {
          w.lit("<time>");
          i = after;
          continue;
        }
      }
      if (mode == MaskMode::signature) du.values = true;  // protected_number reads digit values
      if (mode == MaskMode::signature && protected_number(in, i, j)) {
        w.put(s + i, len);
      } else {
        w.lit("<n>");
      }
      i = j;
      continue;
    }
    if (c == 't' && in.compare(i, 3, "tmp") == 0) {
      std::size_t k = i + 3;
      bool mixed = false;
      while (k < n && (is_digit(s[k]) || (s[k] >= 'a' && s[k] <= 'z') || s[k] == '_')) {
        mixed |= is_digit(s[k]) || s[k] == '_';
        ++k;
      }
      if (k - i == 11 && mixed) {
        w.lit("<tmp>");
        i = k;
        continue;
      }
    }
    if (!has_digit) {
      w.put(s + i, len);
      i = j;
      continue;
    }
    std::size_t a = i;
    while (a < j && is_alpha(s[a])) ++a;
    std::size_t d = a;
    while (d < j && is_digit(s[d])) ++d;
    if (a > i && d == j && j - a <= 3) {
      du.add(a, j - a);  // word + 1-3 digits kept as is
      w.put(s + i, len);
    } else if (a == i) {
      std::size_t q = i;
      while (q < j && is_digit(s[q])) ++q;
      std::size_t r = q;
      while (r < j && is_alpha(s[r])) ++r;
      if (r == j && j - q <= 3) {
        w.lit("<n>");
        w.put(s + q, j - q);
      } else {
        w.lit("<id>");
      }
    } else {
      w.lit("<id>");
    }
    i = j;
  }
  return static_cast<std::size_t>(w.p - out);
}

#if DM_MASK_SIMD
// Bitmap scans (x86-64): one SSE2 pass classifies the whole line into bitmaps (bit p = byte p),
// then every scan is a count-trailing-zeros and stretches no rule can touch are copied in bulk.
//
// Why a bulk copy is exact: a letters-only segment is copied as it is unless a rule fires at its
// start, and for a letters-only segment only four can: a run-id prefix (it ends in "__" at most 17
// bytes after the segment start), a UUID whose first 8 hex digits are letters (a '-' 8 bytes after
// the start and another 5 further), "tmp" + '_' (the tmpXXXXXXXX rule) and '/' (/tmp/,
// /var/folders/). The stop map marks digits, '/', every "tmp", and the 18 bytes up to each "__" and
// the 9 up to each "-????-". From a position i the engine is at, with e the first stop at or after
// i, [i, t) is copied as is, t being e when the separator run before e ends there (s[e-1] is no
// letter/digit and s[e] is one or '/'), else the last segment/separator boundary before e: each
// segment in [i, t) starts before any stop, so is letters-only and no rule fires, and t is a place
// the byte engine passes through. Input is copied to a zero-padded buffer so loads never overrun.
class BitScan {
 public:
  static constexpr std::size_t kMaxBytes = 4096;
  static constexpr bool kPadded = true;

  // The engine reads the padded copy (same bytes, same length).
  std::string_view text(std::string_view) const { return {buf_, n_}; }

  explicit BitScan(std::string_view in) : n_(in.size()), words_(in.size() / 64 + 1) {
    char* buf = buf_;
    if (n_ > 0) std::memcpy(buf, in.data(), n_);  // in.data() may be null when empty
    std::memset(buf + n_, 0, words_ * 64 + 16 - n_);
    const __m128i c0 = _mm_set1_epi8('0'), c9 = _mm_set1_epi8(9), ca = _mm_set1_epi8('a'),
                  c25 = _mm_set1_epi8(25), c20 = _mm_set1_epi8(0x20), cs = _mm_set1_epi8('/'),
                  ct = _mm_set1_epi8('t'), cm = _mm_set1_epi8('m'), cp = _mm_set1_epi8('p'),
                  cu = _mm_set1_epi8('_'), cd = _mm_set1_epi8('-');
    std::uint64_t rare = 0;
    for (std::size_t w = 0; w < words_; ++w) {
      std::uint64_t d = 0, l = 0, sl = 0, tmp = 0, us = 0, uu = 0;
      for (unsigned k = 0; k < 4; ++k) {
        const char* p = buf + w * 64 + k * 16;
        const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
        const __m128i v2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
        const __m128i v5 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 5));
        const __m128i td = _mm_sub_epi8(v0, c0);  // digit: (c - '0') unsigned <= 9
        const __m128i tl = _mm_sub_epi8(_mm_or_si128(v0, c20), ca);  // letter: (c|32) - 'a' <= 25
        const __m128i md = _mm_cmpeq_epi8(_mm_min_epu8(td, c9), td);
        const __m128i ml = _mm_cmpeq_epi8(_mm_min_epu8(tl, c25), tl);
        const __m128i ms = _mm_cmpeq_epi8(v0, cs);
        const __m128i mt = _mm_and_si128(
            _mm_and_si128(_mm_cmpeq_epi8(v0, ct), _mm_cmpeq_epi8(v1, cm)), _mm_cmpeq_epi8(v2, cp));
        const __m128i mu = _mm_and_si128(_mm_cmpeq_epi8(v0, cu), _mm_cmpeq_epi8(v1, cu));
        const __m128i mx = _mm_and_si128(_mm_cmpeq_epi8(v0, cd), _mm_cmpeq_epi8(v5, cd));
        const unsigned sh = k * 16;
        d |= bits(md) << sh;
        l |= bits(ml) << sh;
        sl |= bits(ms) << sh;
        tmp |= bits(mt) << sh;
        us |= bits(mu) << sh;
        uu |= bits(mx) << sh;
      }
      d_[w] = d;
      l_[w] = l;
      na_[w] = ~(d | l);
      as_[w] = d | l | sl;
      stop_[w] = d | sl | tmp;
      us_[w] = us;
      uu_[w] = uu;
      rare |= us | uu;
    }
    if (rare) {
      for (std::size_t w = 0; w < words_; ++w) {
        smear(us_[w], w, 17);
        smear(uu_[w], w, 8);
      }
    }
    // Segment/separator boundaries: bit p set when byte p and byte p-1 differ in being alnum.
    std::uint64_t carry = 0;
    for (std::size_t w = 0; w < words_; ++w) {
      std::uint64_t a = ~na_[w];
      tr_[w] = a ^ ((a << 1) | carry);
      carry = a >> 63;
    }
    tr_[0] &= ~1ull;
  }

  std::size_t bulk(std::size_t i) const {
    const std::size_t e = next(stop_, i);
    if (e == i) return i;
    if (e >= n_) return n_;
    if (bit(na_, e - 1) && bit(as_, e)) return e;
    return prev(tr_, i, e);
  }
  bool pair_at(std::size_t p) const { return bit(us_, p); }
  std::size_t sep_end(std::size_t i) const { return next(as_, i + 1); }
  std::size_t seg_end(std::size_t i, unsigned char& seen) const {
    const std::size_t j = next(na_, i);
    seen = static_cast<unsigned char>((any(d_, i, j) ? kDigit : 0) | (any(l_, i, j) ? kAlpha : 0));
    return j;
  }

 private:
  static constexpr std::size_t kWords = kMaxBytes / 64 + 2;

  static std::uint64_t bits(__m128i m) {
    return static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(m)));
  }
  static bool bit(const std::uint64_t* m, std::size_t p) { return (m[p >> 6] >> (p & 63)) & 1; }
  // Sets the stop bits [q - back, q] (clamped at 0) for every bit q of x (word w); back < 64.
  void smear(std::uint64_t x, std::size_t w, std::size_t back) {
    if (!x) return;
    std::uint64_t m = x, spill = 0;
    for (std::size_t k = 1; k <= back; ++k) {
      m |= x >> k;
      spill |= x << (64 - k);  // q - k below bit 0: the top of the previous word
    }
    stop_[w] |= m;
    if (w > 0) stop_[w - 1] |= spill;
  }
  // First set bit at or after p, else n_.
  std::size_t next(const std::uint64_t* m, std::size_t p) const {
    std::size_t w = p >> 6;
    if (w >= words_) return n_;
    std::uint64_t x = m[w] & (~0ull << (p & 63));
    while (!x) {
      if (++w >= words_) return n_;
      x = m[w];
    }
    const std::size_t r = (w << 6) + static_cast<std::size_t>(__builtin_ctzll(x));
    return r < n_ ? r : n_;
  }
  // Last set bit in (a, b), else a. Requires a < b <= n_.
  std::size_t prev(const std::uint64_t* m, std::size_t a, std::size_t b) const {
    if (b <= a + 1) return a;
    const std::size_t hi = b - 1;
    std::size_t w = hi >> 6;
    std::uint64_t x = m[w] & ((2ull << (hi & 63)) - 1);
    for (;;) {
      if (x) {
        const std::size_t p = (w << 6) + 63 - static_cast<std::size_t>(__builtin_clzll(x));
        return p > a ? p : a;
      }
      if (w == 0 || (w << 6) <= a) return a;
      x = m[--w];
    }
  }
  // Any set bit in [a, b)?
  static bool any(const std::uint64_t* m, std::size_t a, std::size_t b) {
    if (a >= b) return false;
    const std::size_t wa = a >> 6, wb = (b - 1) >> 6;
    const std::uint64_t lo = ~0ull << (a & 63), hi = (2ull << ((b - 1) & 63)) - 1;
    if (wa == wb) return (m[wa] & lo & hi) != 0;
    if (m[wa] & lo) return true;
    for (std::size_t w = wa + 1; w < wb; ++w) {
      if (m[w]) return true;
    }
    return (m[wb] & hi) != 0;
  }

  alignas(16) char buf_[kWords * 64 + 32];
  std::size_t n_, words_;
  std::uint64_t d_[kWords], l_[kWords], na_[kWords], as_[kWords], stop_[kWords], tr_[kWords],
      us_[kWords], uu_[kWords];
};
#endif

}  // namespace

void MaskDigitUse::add(std::size_t off, std::size_t len) {
  if (ranges == kMaxRanges || off + len > 0xffff) {
    values = true;  // more than we can describe: the caller must not reuse this line's output
    return;
  }
  this->off[ranges] = static_cast<std::uint16_t>(off);
  this->len[ranges] = static_cast<std::uint16_t>(len);
  ++ranges;
}

std::size_t mask_variables_scalar_into(std::string_view in, MaskMode mode, char* out) {
  MaskDigitUse du;
  return mask_engine(in, mode, out, ByteScan{in.data(), in.size()}, du);
}

std::size_t mask_variables_into(std::string_view in, MaskMode mode, char* out,
                                MaskDigitUse& digits) {
  digits = MaskDigitUse{};
#if DM_MASK_SIMD
  if (in.size() <= BitScan::kMaxBytes) {
    BitScan sc(in);
    return mask_engine(in, mode, out, sc, digits);
  }
#endif
  return mask_engine(in, mode, out, ByteScan{in.data(), in.size()}, digits);
}

std::size_t mask_variables_into(std::string_view in, MaskMode mode, char* out) {
  MaskDigitUse du;
  return mask_variables_into(in, mode, out, du);
}

void mask_variables(std::string_view in, MaskMode mode, std::string& out) {
  const std::size_t old = out.size();
  out.resize(old + mask_bound(in.size()));
  out.resize(old + mask_variables_into(in, mode, out.data() + old));
}

}  // namespace dm::logs
