#include "watch/background.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace dm::watch {

// Waits on the deps' clock, in steps of at most a second of real time (a ManualClock in a test
// never reaches the deadline by itself), until the deadline or stop().
class BackgroundWatch::StopWaiter final : public Waiter {
 public:
  StopWaiter(BackgroundWatch& owner, std::shared_ptr<Clock> clock)
      : owner_(owner), clock_(std::move(clock)) {}
  bool wait_until(Clock::time_point t) override {
    std::unique_lock lock(owner_.mu_);
    while (!owner_.stop_) {
      const auto left = t - clock_->now();
      if (left <= Clock::time_point::duration::zero()) break;
      owner_.cv_.wait_for(lock,
                          std::min<Clock::time_point::duration>(left, std::chrono::seconds(1)));
    }
    return !owner_.stop_;
  }

 private:
  BackgroundWatch& owner_;
  std::shared_ptr<Clock> clock_;
};

BackgroundWatch::BackgroundWatch(std::shared_ptr<const runbook::Deps> deps,
                                 std::shared_ptr<Outbox> outbox,
                                 std::function<void(const CycleReport&)> on_cycle) {
  thread_ = std::thread(
      [this, deps = std::move(deps), outbox = std::move(outbox), on_cycle = std::move(on_cycle)] {
        Watcher watcher(deps, outbox);
        StopWaiter waiter(*this, deps->clock);
        run_loop(watcher, *deps, waiter, [&](const CycleReport& c) {
          {
            std::lock_guard lock(mu_);
            if (stop_) return;  // stopped during the cycle: its report has nobody left to tell
          }
          on_cycle(c);
        });
        // Stopped: let go of the leases (watch.lease), so that another watcher takes the
        // environments at once. Nobody is left to tell of an error: the leases then expire.
        (void)watcher.release_leases();
      });
}

BackgroundWatch::~BackgroundWatch() { stop(); }

void BackgroundWatch::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

}  // namespace dm::watch
