#include "aws/iso_time.h"

#include <cctype>
#include <chrono>

namespace dm::aws {

Result<Clock::time_point> parse_iso8601(std::string_view s) {
  auto bad = [] { return make_error(Errc::protocol, "timestamp is not ISO 8601 with a zone"); };
  std::size_t i = 0;
  auto num = [&](int digits, int& out) {
    out = 0;
    for (int k = 0; k < digits; ++k, ++i) {
      if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  auto lit = [&](char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int y, mo, d, h, mi, sec;
  if (!num(4, y) || !lit('-') || !num(2, mo) || !lit('-') || !num(2, d)) return bad();
  if (!(lit('T') || lit('t') || lit(' '))) return bad();
  if (!num(2, h) || !lit(':') || !num(2, mi) || !lit(':') || !num(2, sec)) return bad();
  long long nanos = 0;
  if (lit('.')) {
    int digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (digits < 9) nanos = nanos * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return bad();
    for (int k = digits; k < 9; ++k) nanos *= 10;
  }
  int offset_min = 0;
  if (lit('Z') || lit('z')) {
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    int oh, om;
    if (!num(2, oh) || !lit(':') || !num(2, om) || oh > 23 || om > 59) return bad();
    offset_min = sign * (oh * 60 + om);
  } else {
    return bad();
  }
  if (i != s.size()) return bad();
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return bad();
  auto tp = sys_days(ymd) + hours(h) + minutes(mi) + seconds(sec) - minutes(offset_min);
  return Clock::time_point(
      duration_cast<Clock::time_point::duration>(tp.time_since_epoch() + nanoseconds(nanos)));
}

}  // namespace dm::aws
