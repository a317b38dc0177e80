// Clock seam: production uses the system clock; tests inject a ManualClock so that
// expiry, backoff and "no new failures for X minutes" are tested without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

namespace dm {

class Clock {
 public:
  using time_point = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  // Wall-clock now (UTC). Thread-safe.
  virtual time_point now() const = 0;
  // Blocks the caller for `d` (backoff). ManualClock advances instead of blocking. Thread-safe.
  virtual void sleep_for(std::chrono::milliseconds d) = 0;
};

// The process-wide real clock. Never null; lives for the whole program.
std::shared_ptr<Clock> system_clock();

// Test clock: starts at `start`, moves only by advance() or sleep_for(). Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(time_point start) : ns_(start.time_since_epoch().count()) {}
  time_point now() const override { return time_point(time_point::duration(ns_.load())); }
  void sleep_for(std::chrono::milliseconds d) override { advance(d); }
  void advance(std::chrono::nanoseconds d) {
    ns_ += std::chrono::duration_cast<time_point::duration>(d).count();
  }

 private:
  std::atomic<time_point::rep> ns_;
};

}  // namespace dm
