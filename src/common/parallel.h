// Bounded fan-out for independent, blocking calls (e.g. one Airflow request per run), so a tool
// that needs N round trips waits about N / workers round trips instead of N.
#pragma once

#include <cstddef>
#include <functional>

namespace dm {

// Calls fn(i) exactly once for every i in [0, n), on at most `workers` threads at a time (the
// calling thread is one of them; workers 0 counts as 1), and returns when every call has returned.
// Requires: fn is safe to call concurrently for distinct i and does not throw (an exception would
// terminate the process); results go to per-index slots the caller owns.
// Thread-safe: no shared state of its own.
void parallel_for(std::size_t n, std::size_t workers, const std::function<void(std::size_t)>& fn);

}  // namespace dm
