// Failed-login rate limiting for the approval page (docs/guard.md, "Failed logins").
//
// Keys are opaque strings; the page uses one per source address ("addr:<ip>") and one per claimed
// principal ("principal:<id>"). A key that collects `max_failures` failures within `window` is
// locked out for `first_lockout`; every further lockout of the same key doubles that, up to
// `max_lockout`. A key's lockout level is forgotten after `forget_after` without any failure.
// While a key is locked, every attempt naming it is refused before the credentials are looked at,
// so the right token does not help either (otherwise the limit would only slow guessing down).
//
// Memory is bounded: at most `max_entries` keys are tracked. When a new key would exceed that,
// keys that no longer matter (no failure for `forget_after`, not locked) are dropped first, then
// the ones with the oldest last failure. Time comes only from the `now` arguments (the caller's
// injected dm::Clock), so tests advance a fake clock instead of sleeping.
//
// Thread-safety: every method may be called from any thread (one internal mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace dm::web {

struct LoginLimits {
  int max_failures = 5;  // failures within `window` that lock a key
  std::chrono::seconds window = std::chrono::minutes(15);
  std::chrono::seconds first_lockout = std::chrono::minutes(5);  // doubles per lockout
  std::chrono::seconds max_lockout = std::chrono::hours(1);
  std::chrono::seconds forget_after = std::chrono::hours(24);  // lockout level decays to 0
  std::size_t max_entries = 10000;                             // keys tracked at most
};

// The answer of check() / record_failure().
struct LoginVerdict {
  bool locked = false;
  std::chrono::seconds retry_after{0};  // > 0 when locked: whole seconds until every key is free
  std::string key;                      // the locked key that ends last ("" when not locked)
};

class LoginLimiter {
 public:
  // Out-of-range limits are clamped: max_failures >= 1, durations >= 1 s, max_lockout >=
  // first_lockout, max_entries >= 1.
  explicit LoginLimiter(LoginLimits limits = {});

  // Is any of `keys` locked at `now`? Does not change any counter.
  LoginVerdict check(const std::vector<std::string>& keys, Clock::time_point now) const;

  // Records one failed attempt against every key. Returns the verdict after it (locked when this
  // failure, or an earlier one, locked a key). Attempts made while a key is locked should not be
  // recorded (the caller refuses them through check()); if they are, they do not extend the
  // lockout.
  LoginVerdict record_failure(const std::vector<std::string>& keys, Clock::time_point now);

  // A successful login for `key`: its recent failures are forgotten (its lockout level is kept).
  void record_success(std::string_view key);

  std::size_t size() const;  // keys tracked now
  const LoginLimits& limits() const { return limits_; }

 private:
  struct Entry {
    std::deque<Clock::time_point> failures;  // within the window, oldest first (<= max_failures)
    Clock::time_point locked_until{};        // epoch = never locked
    Clock::time_point last_failure{};
    int level = 0;  // lockouts so far (decays after forget_after without failures)
  };
  void make_room(Clock::time_point now);  // requires mu_ held and a full table
  LoginVerdict verdict(const std::vector<std::string>& keys, Clock::time_point now) const;

  LoginLimits limits_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace dm::web
