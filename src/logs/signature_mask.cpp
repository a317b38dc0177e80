#include "logs/signature_mask.h"

#include <cstring>

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
struct W {
  char* p;
  void put(const char* s, std::size_t n) {
    std::memcpy(p, s, n);
    p += n;
  }
  template <std::size_t N>
  void lit(const char (&s)[N]) {
    std::memcpy(p, s, N - 1);
    p += N - 1;
  }
};

// Signature mode: digits in[i, j) that name the cause and stay.
bool protected_number(std::string_view in, std::size_t i, std::size_t j) {
  std::size_t len = j - i;
  if (len == 3 && (in[i] == '4' || in[i] == '5') && (j == in.size() || in[j] != '.') &&
      (i == 0 || in[i - 1] != '.')) {
    return true;  // HTTP-like status
  }
  if (j + 8 <= in.size() && in[j] == ' ' && in[j + 1] == '(' && in[j + 7] == ')') {
    return true;  // "1146 (42S02)", "002003 (42S02)"
  }
  if (i > 0 && in[i - 1] == '(' && j + 1 < in.size() && in[j] == ',') return true;  // "(1054, "
  // The word before: skip up to 3 separator characters, then read letters.
  std::size_t k = i;
  int skipped = 0;
  while (k > 0 && skipped < 3) {
    char c = in[k - 1];
    if (c == ' ' || c == ':' || c == '=' || c == '#' || c == '-' || c == '[' || c == '_') {
      --k;
      ++skipped;
    } else {
      break;
    }
  }
  std::size_t e = k;
  while (k > 0 && is_alpha(in[k - 1]) && e - k < 12) --k;
  if (k == e) return false;
  char w[13] = {};
  for (std::size_t q = k; q < e; ++q) w[q - k] = lower(in[q]);
  std::string_view word(w, e - k);
  for (std::string_view p : {"errno", "code", "status", "exit", "signal", "http", "error",
                             "sqlstate", "returncode", "sig"}) {
    if (word == p) return true;
  }
  return false;
}

}  // namespace

std::size_t mask_variables_into(std::string_view in, MaskMode mode, char* out) {
  const std::size_t n = in.size();
  const char* s = in.data();
  W w{out};
  std::size_t i = 0;
  while (i < n) {
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
      std::size_t k = i + 1;
      while (k < n && !is_alnum(s[k]) && s[k] != '/') ++k;
      w.put(s + i, k - i);
      i = k;
      continue;
    }
    // Run ids: one candidate prefix per first letter, checked only if it can fit.
    if (std::string_view p = run_prefix(c); !p.empty() && i + p.size() <= n && s[i + 1] == p[1] &&
                                            std::memcmp(s + i, p.data(), p.size()) == 0) {
      std::size_t k = i + p.size();
      while (k < n && !run_stop(s[k])) ++k;
      w.lit("<run_id>");
      i = k;
      continue;
    }
    std::size_t j = i;
    unsigned char seen = 0;  // kDigit | kAlpha bits of the segment
    while (j < n) {
      unsigned char k = cls(s[j]);
      if (k == 0) break;
      seen |= k;
      ++j;
    }
    const bool has_alpha = (seen & kAlpha) != 0, has_digit = (seen & kDigit) != 0;
    const std::size_t len = j - i;
    if (len == 5 && i > 0 && s[i - 1] == '(' && j < n && s[j] == ')') {  // SQLSTATE "(42S02)"
      w.put(s + i, len);
      i = j;
      continue;
    }
    if (len == 8 && is_hex(c) && uuid_at(in, i)) {
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

void mask_variables(std::string_view in, MaskMode mode, std::string& out) {
  const std::size_t old = out.size();
  out.resize(old + mask_bound(in.size()));
  out.resize(old + mask_variables_into(in, mode, out.data() + old));
}

}  // namespace dm::logs
