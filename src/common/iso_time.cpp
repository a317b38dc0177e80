#include "common/iso_time.h"

#include <chrono>
#include <ctime>

namespace dm {
namespace {

// What a form lets a timestamp leave out.
struct Form {
  bool time_optional;   // "YYYY-MM-DD" alone
  bool zone_optional;   // no zone = UTC
  bool compact_offset;  // ±HHMM besides ±HH:MM
  bool empty_fraction;  // "…:SS." with no digits
};
constexpr Form kRfc3339{false, false, false, false};
constexpr Form kLenient{true, true, true, true};

// A left-to-right reader over the text; every step says whether it matched.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  bool done() const { return i_ == s_.size(); }
  bool digits(int n, int& out) {
    out = 0;
    for (int k = 0; k < n; ++k) {
      if (i_ + k >= s_.size() || !is_digit(s_[i_ + k])) return false;
      out = out * 10 + (s_[i_ + k] - '0');
    }
    i_ += n;
    return true;
  }
  bool lit(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool any_of(std::string_view cs) {
    if (i_ < s_.size() && cs.find(s_[i_]) != std::string_view::npos) {
      ++i_;
      return true;
    }
    return false;
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  // Nanoseconds of the digits after a '.', the first nine of them; how many digits there were.
  int fraction(long long& nanos) {
    int n = 0;
    nanos = 0;
    for (; i_ < s_.size() && is_digit(s_[i_]); ++i_, ++n)
      if (n < 9) nanos = nanos * 10 + (s_[i_] - '0');
    for (int k = n; k < 9; ++k) nanos *= 10;
    return n;
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  std::string_view s_;
  std::size_t i_ = 0;
};

Result<Clock::time_point> parse(std::string_view s, const Form& f) {
  auto bad = [](const char* what) {
    return make_error(Errc::invalid_argument, std::string("not an ISO 8601 timestamp: ") + what);
  };
  Scanner in(s);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!in.digits(4, y) || !in.lit('-') || !in.digits(2, mo) || !in.lit('-') || !in.digits(2, d))
    return bad("no YYYY-MM-DD date");
  long long nanos = 0;
  int offset_min = 0;
  if (in.any_of("Tt ")) {
    if (!in.digits(2, h) || !in.lit(':') || !in.digits(2, mi) || !in.lit(':') || !in.digits(2, sec))
      return bad("no HH:MM:SS time after the date");
    if (in.lit('.') && in.fraction(nanos) == 0 && !f.empty_fraction)
      return bad("no digits after '.'");
    if (in.any_of("Zz")) {
    } else if (in.peek() == '+' || in.peek() == '-') {
      const int sign = in.peek() == '-' ? -1 : 1;
      in.any_of("+-");
      int oh = 0, om = 0;
      if (!in.digits(2, oh)) return bad("bad zone offset");
      const bool colon = in.lit(':');
      if ((!colon && !f.compact_offset) || !in.digits(2, om) || oh > 23 || om > 59)
        return bad("bad zone offset (±HH:MM)");
      offset_min = sign * (oh * 60 + om);
    } else if (!f.zone_optional) {
      return bad("no zone (Z or ±HH:MM)");
    }
  } else if (!f.time_optional) {
    return bad("no time after the date");
  }
  if (!in.done()) return bad("text after the timestamp");
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return bad("no such date");
  // A time_point counts nanoseconds in 64 bits: 1677-09-21 .. 2262-04-11. Outside whole years of
  // that, the conversion below would overflow.
  if (y < 1678 || y > 2261) return bad("year out of range (1678-2261)");
  if (h > 23 || mi > 59 || sec > 60) return bad("time out of range");
  const auto tp = sys_days(ymd) + hours(h) + minutes(mi) + seconds(sec) - minutes(offset_min);
  return Clock::time_point(
      duration_cast<Clock::time_point::duration>(tp.time_since_epoch() + nanoseconds(nanos)));
}

}  // namespace

Result<Clock::time_point> parse_rfc3339(std::string_view s) { return parse(s, kRfc3339); }

std::optional<Clock::time_point> parse_iso8601(std::string_view s) {
  auto t = parse(s, kLenient);
  if (!t) return std::nullopt;
  return *t;
}

std::string format_iso8601(Clock::time_point t) { return format_utc(t, "%Y-%m-%dT%H:%M:%SZ"); }

std::string format_utc(Clock::time_point t, const char* format) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  const auto tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

std::optional<int64_t> iso_to_ms(std::string_view iso) {
  auto t = parse_iso8601(iso);
  if (!t) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

std::string ms_to_iso(int64_t ms) {
  return format_iso8601(Clock::time_point(
      std::chrono::duration_cast<Clock::time_point::duration>(std::chrono::milliseconds(ms))));
}

std::string iso_utc(std::string_view iso) {
  if (iso.empty()) return "";
  auto t = parse_iso8601(iso);
  return t ? format_iso8601(*t) : std::string(iso);
}

}  // namespace dm
