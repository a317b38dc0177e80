#include "http/retrying_http_client.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>

namespace dm::http {
namespace {

bool is_retryable_status(int s) { return s == 429 || s == 500 || s == 502 || s == 503 || s == 504; }

bool is_idempotent(const Request& r) {
  return r.method == Method::get || r.method == Method::head || r.idempotent;
}

double default_rand01() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

int month_index(std::string_view m) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i)
    if (kMonths[i] == m) return i;
  return -1;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v,
                                                           Clock::time_point now) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return std::chrono::milliseconds(999999999LL * 1000);
    long long secs = std::stoll(std::string(v));
    return std::chrono::milliseconds(secs * 1000);
  }
  // IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT"
  char wday[4] = {0}, mon[4] = {0}, zone[4] = {0};
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  std::string s(v);
  if (std::sscanf(s.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", wday, &day, mon, &year, &hh, &mm, &ss,
                  zone) != 8)
    return std::nullopt;
  int mi = month_index(mon);
  if (mi < 0 || std::string_view(zone) != "GMT" || day < 1 || day > 31 || hh > 23 || mm > 59 ||
      ss > 60)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mi;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  time_t t = timegm(&tm);
  auto when = std::chrono::system_clock::from_time_t(t);
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
  return std::max(d, std::chrono::milliseconds(0));
}

RetryingHttpClient::RetryingHttpClient(std::shared_ptr<HttpClient> inner,
                                       std::shared_ptr<Clock> clock, RetryPolicy policy,
                                       std::function<double()> rand01)
    : inner_(std::move(inner)),
      clock_(std::move(clock)),
      policy_(policy),
      rand01_(rand01 ? std::move(rand01) : std::function<double()>(default_rand01)) {
  if (policy_.max_attempts < 1) policy_.max_attempts = 1;
}

Result<Response> RetryingHttpClient::send(const Request& req) {
  if (!is_idempotent(req)) return inner_->send(req);

  // Track whether the caller's sink saw bytes: after that a retry would duplicate output.
  bool sink_got_bytes = false;
  Request attempt_req = req;
  if (req.on_body) {
    attempt_req.on_body = [&](std::string_view chunk) {
      sink_got_bytes = true;
      return req.on_body(chunk);
    };
  }

  std::string last_problem;
  for (int attempt = 1;; ++attempt) {
    auto r = inner_->send(attempt_req);
    std::optional<std::chrono::milliseconds> retry_after;
    if (r.ok()) {
      int s = r->status;
      if (!is_retryable_status(s)) return r;
      last_problem = "the server answered HTTP " + std::to_string(s);
      if (s == 429 || s == 503) {
        auto ra = r->header("Retry-After");
        if (!ra.empty()) retry_after = parse_retry_after(ra, clock_->now());
      }
      if (attempt >= policy_.max_attempts) {
        // Hand the last answer back: the caller maps the status and can show its body.
        if (policy_.max_attempts > 1)
          r->headers.emplace_back("X-Dagmedic-Attempts", std::to_string(attempt));
        return r;
      }
    } else {
      Errc c = r.error().code;
      if ((c != Errc::unavailable && c != Errc::timeout) || sink_got_bytes) return r;
      last_problem = r.error().message;
      if (attempt >= policy_.max_attempts) {
        if (policy_.max_attempts == 1) return r;
        return make_error(
            c, last_problem + "; gave up after " + std::to_string(attempt) + " attempts");
      }
    }
    if (sink_got_bytes) return r;

    std::chrono::milliseconds delay;
    if (retry_after) {
      delay = std::min(*retry_after, policy_.max_retry_after);
    } else {
      auto cap = policy_.base_delay.count() << std::min(attempt - 1, 30);
      cap = std::min<long long>(cap, policy_.max_delay.count());
      double f = std::clamp(rand01_(), 0.0, 1.0);
      delay = std::chrono::milliseconds(static_cast<long long>(f * static_cast<double>(cap)));
    }
    clock_->sleep_for(delay);
  }
}

}  // namespace dm::http
