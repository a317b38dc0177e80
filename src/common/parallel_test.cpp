#include "common/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace dm {
namespace {

TEST(ParallelFor, CallsEveryIndexExactlyOnce) {
  for (std::size_t workers : {0u, 1u, 3u, 64u}) {
    std::vector<std::atomic<int>> hits(100);
    parallel_for(hits.size(), workers, [&](std::size_t i) { ++hits[i]; });
    for (std::size_t i = 0; i < hits.size(); ++i)
      EXPECT_EQ(hits[i].load(), 1) << i << " " << workers;
  }
}

TEST(ParallelFor, NothingToDoCallsNothing) {
  int calls = 0;
  parallel_for(0, 4, [&](std::size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ParallelFor, OneWorkerRunsInOrderOnTheCallingThread) {
  std::vector<std::size_t> order;
  const auto caller = std::this_thread::get_id();
  bool same_thread = true;
  parallel_for(5, 1, [&](std::size_t i) {
    order.push_back(i);
    same_thread = same_thread && std::this_thread::get_id() == caller;
  });
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(same_thread);
}

// Each call blocks until `workers` calls are inside at once: this only finishes if the calls really
// overlap, and the peak never exceeds the bound.
TEST(ParallelFor, RunsUpToWorkersCallsAtOnceAndNeverMore) {
  constexpr std::size_t kWorkers = 4;
  std::mutex mu;
  std::condition_variable cv;
  std::size_t inside = 0, peak = 0, arrived = 0;
  parallel_for(12, kWorkers, [&](std::size_t) {
    std::unique_lock lock(mu);
    ++inside;
    peak = std::max(peak, inside);
    // The first kWorkers calls wait for each other; later ones pass straight through.
    if (++arrived <= kWorkers) cv.wait(lock, [&] { return arrived >= kWorkers; });
    cv.notify_all();
    --inside;
  });
  EXPECT_EQ(peak, kWorkers);
}

}  // namespace
}  // namespace dm
