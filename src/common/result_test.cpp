#include "common/result.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace dm {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error(Errc::invalid_argument, "must be positive");
  return v;
}

TEST(Result, CarriesValueOrError) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_STREQ(errc_name(bad.error().code), "invalid_argument");
}

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  Status e = make_error(Errc::timeout, "slow");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "slow");
}

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock c(Clock::time_point{} + std::chrono::hours(1));
  auto t0 = c.now();
  c.sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(c.now() - t0, std::chrono::milliseconds(1500));
}

}  // namespace
}  // namespace dm
