// How many CPUs this process can really use, for sizing CPU-bound thread pools.
//
// std::thread::hardware_concurrency() counts the machine's online CPUs. A process pinned to fewer
// (taskset, a cpuset) or limited by a cgroup v2 CPU quota (a container with `--cpus 2`, a
// Kubernetes CPU limit) can use fewer, and more busy threads than that only queue behind each
// other (for `logs templates`, whose threads take turns, 3 threads on 2 CPUs were 35 % slower).
#pragma once

#include <cstddef>
#include <string_view>

namespace dm {

// min(CPUs in the affinity mask, ceil(quota / period) of /sys/fs/cgroup/cpu.max), at least 1.
// Falls back to hardware_concurrency() when the mask cannot be read. Thread-safe (reads only).
std::size_t usable_cpus();

// The pure part: `affinity` CPUs (0: unknown, then `online`), limited by a cgroup v2 cpu.max text
// ("max 100000", "150000 100000" = 1.5 CPUs -> 2; anything unparsable is no limit). At least 1.
std::size_t usable_cpus_from(std::size_t affinity, std::size_t online, std::string_view cpu_max);

}  // namespace dm
