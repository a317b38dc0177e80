// LoginLimiter on a ManualClock: lockout after N failures in the window, Retry-After, the end of a
// lockout, doubling up to the cap, decay, independent keys, and the bounded table.
#include "web/login_limiter.h"

#include <gtest/gtest.h>

namespace dm::web {
namespace {

using namespace std::chrono_literals;
using Keys = std::vector<std::string>;

class LoginLimiterTest : public ::testing::Test {
 protected:
  Clock::time_point now() const { return clock_.now(); }
  // `n` failures of `keys`, one second apart; returns the last verdict.
  LoginVerdict fail(LoginLimiter& l, const Keys& keys, int n) {
    LoginVerdict v;
    for (int i = 0; i < n; ++i) {
      v = l.record_failure(keys, now());
      clock_.advance(1s);
    }
    return v;
  }
  ManualClock clock_{Clock::time_point(1'800'000'000s)};
  const Keys bob_ = {"addr:10.0.0.1", "principal:bob"};
};

TEST_F(LoginLimiterTest, FiveFailuresInTheWindowLockTheKeyWithRetryAfter) {
  LoginLimiter l;
  auto v = fail(l, bob_, 4);
  EXPECT_FALSE(v.locked);
  EXPECT_FALSE(l.check(bob_, now()).locked);
  v = l.record_failure(bob_, now());  // the 5th
  ASSERT_TRUE(v.locked);
  EXPECT_EQ(v.retry_after, 300s);  // first lockout: 5 minutes
  clock_.advance(100s);
  auto c = l.check(bob_, now());
  ASSERT_TRUE(c.locked);
  EXPECT_EQ(c.retry_after, 200s);
  clock_.advance(500ms);
  EXPECT_EQ(l.check(bob_, now()).retry_after, 200s) << "rounded up, never 0";
}

TEST_F(LoginLimiterTest, EachKeyAloneLocksTheAttempt) {
  LoginLimiter l;
  fail(l, {"principal:bob"}, 5);
  // Another address naming bob is refused; bob's address naming someone else is not.
  EXPECT_TRUE(l.check({"addr:10.0.0.9", "principal:bob"}, now()).locked);
  EXPECT_EQ(l.check({"addr:10.0.0.9", "principal:bob"}, now()).key, "principal:bob");
  EXPECT_FALSE(l.check({"addr:10.0.0.9", "principal:carol"}, now()).locked);
  fail(l, {"addr:10.0.0.2"}, 5);
  EXPECT_TRUE(l.check({"addr:10.0.0.2", "principal:carol"}, now()).locked);
  EXPECT_FALSE(l.check({"addr:10.0.0.3", "principal:carol"}, now()).locked);
}

TEST_F(LoginLimiterTest, FailuresOutsideTheWindowDoNotCount) {
  LoginLimiter l;
  fail(l, bob_, 4);
  clock_.advance(15min);
  EXPECT_FALSE(fail(l, bob_, 4).locked) << "the first four fell out of the 15-minute window";
  EXPECT_TRUE(l.record_failure(bob_, now()).locked);
}

TEST_F(LoginLimiterTest, LockoutEndsThenDoublesOnRepeatUpToTheCap) {
  LoginLimiter l;
  std::vector<std::chrono::seconds> got;
  for (int round = 0; round < 6; ++round) {
    auto v = fail(l, bob_, 5);
    ASSERT_TRUE(v.locked) << round;
    // fail() advanced 1 s after the locking failure.
    got.push_back(l.check(bob_, now()).retry_after + 1s);
    // Attempts during the lockout are not counted and do not extend it.
    l.record_failure(bob_, now());
    EXPECT_EQ(l.check(bob_, now()).retry_after + 1s, got.back());
    clock_.advance(got.back() - 1s);
    EXPECT_FALSE(l.check(bob_, now()).locked) << "the lockout ends, round " << round;
  }
  std::vector<std::chrono::seconds> want = {300s, 600s, 1200s, 2400s, 3600s, 3600s};
  EXPECT_EQ(got, want);
}

TEST_F(LoginLimiterTest, LevelIsForgottenAfterAQuietDay) {
  LoginLimiter l;
  fail(l, bob_, 5);
  clock_.advance(10min);
  EXPECT_EQ(fail(l, bob_, 5).retry_after, 600s);
  clock_.advance(25h);
  EXPECT_EQ(fail(l, bob_, 5).retry_after, 300s);
}

TEST_F(LoginLimiterTest, SuccessClearsRecentFailuresOfThatKeyOnly) {
  LoginLimiter l;
  fail(l, bob_, 4);
  l.record_success("principal:bob");
  auto v = l.record_failure(bob_, now());
  ASSERT_TRUE(v.locked) << "the address still has 5 failures";
  EXPECT_EQ(v.key, "addr:10.0.0.1");
  EXPECT_FALSE(l.check({"principal:bob"}, now()).locked);
}

TEST_F(LoginLimiterTest, TableIsBoundedDroppingStaleThenOldestEntries) {
  LoginLimits lim;
  lim.max_entries = 100;
  LoginLimiter l(lim);
  fail(l, {"principal:bob"}, 5);  // locked, oldest failure
  for (int i = 0; i < 99; ++i) l.record_failure({"addr:" + std::to_string(i)}, now());
  EXPECT_EQ(l.size(), 100u);
  EXPECT_TRUE(l.check({"principal:bob"}, now()).locked);
  // A flood of new keys never grows the table past the cap.
  for (int i = 100; i < 5000; ++i) {
    clock_.advance(1ms);
    l.record_failure({"addr:" + std::to_string(i)}, now());
    ASSERT_LE(l.size(), 100u);
  }
  EXPECT_FALSE(l.check({"addr:4999"}, now()).locked);
  // Entries a day old are dropped first, before any recent one.
  LoginLimiter m(lim);
  for (int i = 0; i < 50; ++i) m.record_failure({"old:" + std::to_string(i)}, now());
  clock_.advance(25h);
  fail(m, {"principal:carol"}, 5);
  for (int i = 0; i < 49; ++i) m.record_failure({"new:" + std::to_string(i)}, now());
  EXPECT_EQ(m.size(), 100u);
  m.record_failure({"one-more"}, now());
  EXPECT_EQ(m.size(), 51u) << "all 50 stale entries went, nothing recent";
  EXPECT_TRUE(m.check({"principal:carol"}, now()).locked);
}

TEST_F(LoginLimiterTest, CustomLimitsAndClamping) {
  LoginLimits lim;
  lim.max_failures = 0;  // clamped to 1
  lim.first_lockout = 10s;
  lim.max_lockout = 1s;  // clamped to first_lockout
  LoginLimiter l(lim);
  EXPECT_EQ(l.limits().max_failures, 1);
  EXPECT_EQ(l.limits().max_lockout, 10s);
  auto v = l.record_failure({"k"}, now());
  ASSERT_TRUE(v.locked);
  EXPECT_EQ(v.retry_after, 10s);
  clock_.advance(10s);
  EXPECT_EQ(l.record_failure({"k"}, now()).retry_after, 10s);  // capped
}

}  // namespace
}  // namespace dm::web
