#include "airflow/iso_time.h"

#include <cstdio>
#include <ctime>

namespace dm::airflow {

std::optional<Clock::time_point> parse_iso8601(std::string_view s) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (s.size() < 10) return std::nullopt;
  std::string str(s);
  int n = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
    return std::nullopt;
  std::size_t i = 10;
  long long frac_ns = 0;
  int offset_min = 0;
  if (i < str.size() && (str[i] == 'T' || str[i] == ' ')) {
    int m = 0;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &m) != 3 || m != 8)
      return std::nullopt;
    i += 1 + 8;
    if (i < str.size() && str[i] == '.') {
      ++i;
      long long scale = 100000000;
      while (i < str.size() && str[i] >= '0' && str[i] <= '9') {
        frac_ns += (str[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
    }
    if (i < str.size()) {
      if (str[i] == 'Z' || str[i] == 'z') {
        ++i;
      } else if (str[i] == '+' || str[i] == '-') {
        int sign = str[i] == '-' ? -1 : 1;
        int oh = 0, om = 0;
        if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &oh, &om) == 2) {
          i += 6;
        } else if (std::sscanf(str.c_str() + i + 1, "%2d%2d", &oh, &om) == 2) {
          i += 5;
        } else {
          return std::nullopt;
        }
        offset_min = sign * (oh * 60 + om);
      }
    }
  }
  if (i != str.size()) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
  t -= std::chrono::minutes(offset_min);
  return t +
         std::chrono::duration_cast<Clock::time_point::duration>(std::chrono::nanoseconds(frac_ns));
}

std::string format_iso8601(Clock::time_point t) {
  std::time_t tt =
      std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace dm::airflow
