#include "logs/signature_mask.h"

#include <array>

namespace dm::logs {
namespace {

// Character classes by table: this loop runs over every byte of every mined line.
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
inline bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// True if in[p, p+n) are all digits.
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

constexpr std::array<std::string_view, 6> kRunPrefixes = {
    "manual__", "scheduled__", "backfill__", "dataset_triggered__", "asset_triggered__", "rerun__"};

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

// Consumes an optional "[T ]HH:MM(:SS)?([.,]d+)?(Z| ?[+-]HH:?MM)?" at p; returns the new position.
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

void mask_variables(std::string_view in, MaskMode mode, std::string& out) {
  const std::size_t n = in.size();
  out.reserve(out.size() + n);
  std::size_t i = 0;
  while (i < n) {
    char c = in[i];
    if (!is_alnum(c)) {
      if (c == '/' && (in.compare(i, 5, "/tmp/") == 0 || in.compare(i, 13, "/var/folders/") == 0)) {
        bool tmp = in.compare(i, 5, "/tmp/") == 0;
        out.append(tmp ? "/tmp/" : "/var/folders/");
        i += tmp ? 5 : 13;
        std::size_t k = i;
        // /tmp/<one component>; /var/folders/<everything up to the end of the path>
        while (k < n && !run_stop(in[k] == '/' && !tmp ? 'x' : in[k]) && in[k] != '\n') ++k;
        if (k > i) out.append("<tmp>");
        i = k;
        continue;
      }
      std::size_t k = i + 1;
      while (k < n && !is_alnum(in[k]) && in[k] != '/') ++k;
      out.append(in.data() + i, k - i);
      i = k;
      continue;
    }
    if (c == 'm' || c == 's' || c == 'b' || c == 'd' || c == 'a' || c == 'r') {
      bool hit = false;
      for (std::string_view p : kRunPrefixes) {
        if (in.compare(i, p.size(), p) == 0) {
          std::size_t k = i + p.size();
          while (k < n && !run_stop(in[k])) ++k;
          out.append("<run_id>");
          i = k;
          hit = true;
          break;
        }
      }
      if (hit) continue;
    }
    std::size_t j = i;
    bool has_alpha = false, has_digit = false;
    while (j < n && is_alnum(in[j])) {
      if (is_digit(in[j])) {
        has_digit = true;
      } else {
        has_alpha = true;
      }
      ++j;
    }
    const std::size_t len = j - i;
    if (len == 5 && i > 0 && in[i - 1] == '(' && j < n && in[j] == ')') {  // SQLSTATE "(42S02)"
      out.append(in.substr(i, len));
      i = j;
      continue;
    }
    if (len == 8 && is_hex(c) && uuid_at(in, i)) {
      out.append("<uuid>");
      i += 36;
      continue;
    }
    if (!has_alpha) {
      // Dates and timestamps.
      if (len == 4 && j + 6 <= n && (in[j] == '-' || in[j] == '/') && digits_at(in, j + 1, 2) &&
          in[j + 3] == in[j] && digits_at(in, j + 4, 2) && (j + 6 == n || !is_digit(in[j + 6]))) {
        std::size_t k = j + 6;
        bool t = false;
        if (k + 1 < n && (in[k] == 'T' || in[k] == ' ')) {
          std::size_t after = consume_time(in, k + 1, t);
          if (t) k = after;
        }
        if (t && k + 4 <= n && in.compare(k, 4, " UTC") == 0) k += 4;
        out.append(t ? "<ts>" : "<date>");
        i = k;
        continue;
      }
      if (len == 2) {
        bool t = false;
        std::size_t after = consume_time(in, i, t);
        if (t && after > i + 5) {  // needs seconds: "12:30" alone stays a number pair
          out.append("<time>");
          i = after;
          continue;
        }
      }
      if (mode == MaskMode::signature && protected_number(in, i, j)) {
        out.append(in.substr(i, len));
      } else {
        out.append("<n>");
      }
      i = j;
      continue;
    }
    // Temp names: tmp + 8 chars of [a-z0-9_] (Python tempfile), with a digit or '_' in them.
    if (c == 't' && in.compare(i, 3, "tmp") == 0) {
      std::size_t k = i + 3;
      bool mixed = false;
      while (k < n && (is_digit(in[k]) || (in[k] >= 'a' && in[k] <= 'z') || in[k] == '_')) {
        mixed |= is_digit(in[k]) || in[k] == '_';
        ++k;
      }
      if (k - i == 11 && mixed) {
        out.append("<tmp>");
        i = k;
        continue;
      }
    }
    if (!has_digit) {
      out.append(in.substr(i, len));
      i = j;
      continue;
    }
    // Mixed letters and digits.
    std::size_t a = i;
    while (a < j && is_alpha(in[a])) ++a;  // leading letters
    std::size_t d = a;
    while (d < j && is_digit(in[d])) ++d;
    if (a > i && d == j && j - a <= 3) {  // word + 1-3 digits: int64, v2, s3, ec2
      out.append(in.substr(i, len));
    } else if (a == i) {
      std::size_t q = i;
      while (q < j && is_digit(in[q])) ++q;
      std::size_t r = q;
      while (r < j && is_alpha(in[r])) ++r;
      if (r == j && j - q <= 3) {  // digits + unit: 512MB, 30s
        out.append("<n>");
        out.append(in.substr(q, j - q));
      } else {
        out.append("<id>");
      }
    } else {
      out.append("<id>");
    }
    i = j;
  }
}

}  // namespace dm::logs
