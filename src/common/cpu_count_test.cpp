#include "common/cpu_count.h"

#include <gtest/gtest.h>
#include <sched.h>

namespace dm {
namespace {

TEST(CpuCount, AffinityThenTheCgroupQuota) {
  EXPECT_EQ(usable_cpus_from(8, 64, ""), 8u);                 // pinned to 8 of 64
  EXPECT_EQ(usable_cpus_from(0, 64, ""), 64u);                // mask unknown: online CPUs
  EXPECT_EQ(usable_cpus_from(8, 64, "max 100000"), 8u);       // no quota
  EXPECT_EQ(usable_cpus_from(8, 64, "200000 100000\n"), 2u);  // --cpus 2
  EXPECT_EQ(usable_cpus_from(8, 64, "150000 100000"), 2u);    // 1.5 CPUs: 2 threads
  EXPECT_EQ(usable_cpus_from(8, 64, "50000 100000"), 1u);     // half a CPU: still 1
  EXPECT_EQ(usable_cpus_from(2, 64, "800000 100000"), 2u);    // quota above the mask
  EXPECT_EQ(usable_cpus_from(0, 0, ""), 1u);                  // nothing known
}

TEST(CpuCount, AnUnparsableQuotaIsNoLimit) {
  for (const char* bad :
       {"", "max", "abc 100000", "100000 0", "0 100000", "-1 100000", "100000 1e5", "100000"}) {
    EXPECT_EQ(usable_cpus_from(4, 64, bad), 4u) << bad;
  }
}

TEST(CpuCount, ThisProcessHasAtLeastOne) {
  const std::size_t n = usable_cpus();
  EXPECT_GE(n, 1u);
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_LE(n, static_cast<std::size_t>(CPU_COUNT(&set)));
}

}  // namespace
}  // namespace dm
