#include "web/login_limiter.h"

#include <algorithm>

namespace dm::web {

namespace {

using std::chrono::seconds;

// Whole seconds from `now` to `until`, rounded up (a Retry-After of 0 would invite a retry now).
seconds ceil_seconds(Clock::time_point now, Clock::time_point until) {
  auto d = until - now;
  auto s = std::chrono::duration_cast<seconds>(d);
  if (s < d) s += seconds(1);
  return std::max(s, seconds(1));
}

}  // namespace

LoginLimiter::LoginLimiter(LoginLimits limits) : limits_(limits) {
  limits_.max_failures = std::max(1, limits_.max_failures);
  limits_.window = std::max(limits_.window, seconds(1));
  limits_.first_lockout = std::max(limits_.first_lockout, seconds(1));
  limits_.max_lockout = std::max(limits_.max_lockout, limits_.first_lockout);
  limits_.forget_after = std::max(limits_.forget_after, seconds(1));
  limits_.max_entries = std::max<std::size_t>(1, limits_.max_entries);
}

LoginVerdict LoginLimiter::verdict(const std::vector<std::string>& keys,
                                   Clock::time_point now) const {
  LoginVerdict v;
  Clock::time_point last{};
  for (const auto& k : keys) {
    auto it = entries_.find(k);
    if (it == entries_.end() || it->second.locked_until <= now) continue;
    if (!v.locked || it->second.locked_until > last) {
      v.locked = true;
      v.key = k;
      last = it->second.locked_until;
    }
  }
  if (v.locked) v.retry_after = ceil_seconds(now, last);
  return v;
}

LoginVerdict LoginLimiter::check(const std::vector<std::string>& keys,
                                 Clock::time_point now) const {
  std::lock_guard lk(mu_);
  return verdict(keys, now);
}

void LoginLimiter::make_room(Clock::time_point now) {
  // First what no longer matters: nothing recent, not locked.
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    if (e.locked_until <= now && now - e.last_failure >= limits_.forget_after)
      it = entries_.erase(it);
    else
      ++it;
  }
  if (entries_.size() < limits_.max_entries) return;
  // Then the least recently failed key (a flood of new keys can push out an old lockout; each
  // of those attempts is itself a failure the caller audits).
  auto oldest = std::min_element(
      entries_.begin(), entries_.end(),
      [](const auto& a, const auto& b) { return a.second.last_failure < b.second.last_failure; });
  entries_.erase(oldest);
}

LoginVerdict LoginLimiter::record_failure(const std::vector<std::string>& keys,
                                          Clock::time_point now) {
  std::lock_guard lk(mu_);
  for (const auto& k : keys) {
    auto it = entries_.find(k);
    if (it == entries_.end()) {
      if (entries_.size() >= limits_.max_entries) make_room(now);
      it = entries_.emplace(k, Entry{}).first;
    }
    Entry& e = it->second;
    if (e.locked_until > now) continue;  // already locked: refused elsewhere, not extended
    if (e.level > 0 && now - e.last_failure >= limits_.forget_after) e.level = 0;
    e.last_failure = now;
    while (!e.failures.empty() && now - e.failures.front() >= limits_.window)
      e.failures.pop_front();
    e.failures.push_back(now);
    if (static_cast<int>(e.failures.size()) < limits_.max_failures) continue;
    // Lock: first_lockout * 2^level, capped (shift bounded so it cannot overflow).
    const int shift = std::min(e.level, 30);
    auto d = limits_.first_lockout;
    for (int i = 0; i < shift && d < limits_.max_lockout; ++i) d *= 2;
    d = std::min(d, limits_.max_lockout);
    e.locked_until = now + d;
    e.level = std::min(e.level + 1, 1000);
    e.failures.clear();
  }
  return verdict(keys, now);
}

void LoginLimiter::record_success(std::string_view key) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) it->second.failures.clear();
}

std::size_t LoginLimiter::size() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

}  // namespace dm::web
