#include "common/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace dm {

void parallel_for(std::size_t n, std::size_t workers, const std::function<void(std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  auto drain = [&] {
    for (std::size_t i = next++; i < n; i = next++) fn(i);
  };
  const std::size_t helpers = std::min(std::max<std::size_t>(workers, 1), n) - (n > 0 ? 1 : 0);
  std::vector<std::jthread> threads;
  threads.reserve(helpers);
  for (std::size_t t = 0; t < helpers; ++t) threads.emplace_back(drain);
  drain();
}  // the jthreads join here

}  // namespace dm
