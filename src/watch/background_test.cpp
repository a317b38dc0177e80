// BackgroundWatch: the loop on its own thread, stopped by its owner.
#include "watch/background.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "store/store.h"
#include "watch/testing/one_failure.h"

namespace dm::watch {
namespace {

struct Reports {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<CycleReport> got;
  void add(const CycleReport& c) {
    std::lock_guard lock(mu);
    got.push_back(c);
    cv.notify_all();
  }
  // Waits (bounded, not a timing assertion) for `n` reports.
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return got.size() >= n; });
  }
};

TEST(BackgroundWatch, FirstCycleRunsAtOnceAndStopEndsTheWait) {
  testing::OneFailure rig(/*interval_seconds=*/86400);
  Reports r;
  {
    BackgroundWatch w(rig.deps, nullptr, [&](const CycleReport& c) { r.add(c); });
    ASSERT_TRUE(r.wait_for(1));
    // The loop now waits a day on a clock that never moves: stop() must end that wait.
    w.stop();
    w.stop();  // idempotent
  }
  std::lock_guard lock(r.mu);
  ASSERT_EQ(r.got.size(), 1u);
  ASSERT_EQ(r.got[0].envs.size(), 1u);
  const EnvReport& e = r.got[0].envs[0];
  EXPECT_TRUE(e.ok) << e.error;
  ASSERT_EQ(e.handled.size(), 1u);
  EXPECT_EQ(e.handled[0].incident_id, store::incident_id_for("prod", "etl", "r1"));
  EXPECT_TRUE(e.handled[0].opened);
  EXPECT_EQ(e.handled[0].category, "missing_upstream_data");
}

TEST(BackgroundWatch, NextCycleRunsWhenTheIntervalHasPassed) {
  testing::OneFailure rig(/*interval_seconds=*/60);
  Reports r;
  BackgroundWatch w(rig.deps, nullptr, [&](const CycleReport& c) { r.add(c); });
  ASSERT_TRUE(r.wait_for(1));
  rig.clock->advance(std::chrono::seconds(61));
  ASSERT_TRUE(r.wait_for(2));
  w.stop();
  std::lock_guard lock(r.mu);
  // The second cycle found the run already handled: nothing twice.
  EXPECT_TRUE(r.got[1].envs.at(0).handled.empty());
  EXPECT_EQ(r.got[1].envs.at(0).already_handled, 1u);
}

}  // namespace
}  // namespace dm::watch
