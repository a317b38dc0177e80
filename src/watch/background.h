// Watch mode inside another process (`dagmedic serve --watch`): the same loop as `dagmedic watch`
// (run_loop), on a thread of its own, stopped by the owner instead of a signal.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "watch/watch.h"

namespace dm::watch {

class BackgroundWatch {
 public:
  // Starts the loop: the first cycle runs at once, then one every watch.interval_seconds (on
  // deps->clock). `on_cycle` runs on the loop's thread after each cycle, never concurrently with
  // itself; it must be safe against the owner's other threads. Requires: `deps` with at least one
  // environment (a loop over none would only spin idle; the caller says so instead).
  // `outbox` may be null (no notifications), as for Watcher.
  BackgroundWatch(std::shared_ptr<const runbook::Deps> deps, std::shared_ptr<Outbox> outbox,
                  std::function<void(const CycleReport&)> on_cycle);
  // stop().
  ~BackgroundWatch();
  BackgroundWatch(const BackgroundWatch&) = delete;
  BackgroundWatch& operator=(const BackgroundWatch&) = delete;

  // Ends the loop and joins its thread: a wait between cycles ends at once; a running cycle
  // finishes first (each of its Airflow reads is bounded by the client's timeout). Idempotent;
  // thread-safe; never called from on_cycle.
  void stop();

 private:
  class StopWaiter;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dm::watch
