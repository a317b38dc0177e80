#include "common/cpu_count.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace dm {

std::size_t usable_cpus_from(std::size_t affinity, std::size_t online, std::string_view cpu_max) {
  std::size_t n = affinity > 0 ? affinity : online;
  if (n == 0) n = 1;
  // cpu.max: "<quota> <period>" in microseconds, or "max <period>" for no limit.
  const std::size_t sp = cpu_max.find(' ');
  if (sp != std::string_view::npos) {
    std::string_view q = cpu_max.substr(0, sp), p = cpu_max.substr(sp + 1);
    while (!p.empty() && (p.back() == '\n' || p.back() == ' ')) p.remove_suffix(1);
    unsigned long long quota = 0, period = 0;
    const auto rq = std::from_chars(q.data(), q.data() + q.size(), quota);
    const auto rp = std::from_chars(p.data(), p.data() + p.size(), period);
    if (rq.ec == std::errc() && rq.ptr == q.data() + q.size() && rp.ec == std::errc() &&
        rp.ptr == p.data() + p.size() && quota > 0 && period > 0) {
      const unsigned long long cpus = (quota + period - 1) / period;
      n = std::min<std::size_t>(n, static_cast<std::size_t>(cpus));
    }
  }
  return std::max<std::size_t>(n, 1);
}

std::size_t usable_cpus() {
  std::size_t affinity = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    affinity = static_cast<std::size_t>(CPU_COUNT(&set));
  std::string cpu_max;
  if (std::ifstream f("/sys/fs/cgroup/cpu.max"); f) std::getline(f, cpu_max);
  return usable_cpus_from(affinity, std::thread::hardware_concurrency(), cpu_max);
}

}  // namespace dm
