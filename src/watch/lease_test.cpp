// Several watchers on one store (watch.lease; docs/watch.md "Several watchers: leases"): two
// Watchers in one watch rig (testing/watch_rig.h: a FakeAirflow environment, one SQLite store, one
// ManualClock). No network, no sleeping: the clock is moved by the test, and a takeover in the
// middle of a cycle is staged by a store that runs the other watcher just before a write.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <set>

#include "common/iso_time.h"
#include "runbook/testing/flaky_store.h"
#include "watch/testing/watch_rig.h"
#include "watch/watch.h"

namespace dm::watch {
namespace {

using std::chrono::seconds;
using testing::at;
using testing::t0;

int64_t ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// watch: settings of the watcher `holder`: leases on (ttl 30 s) unless `on` is false; only
// failed runs (no "N failed runs in a row" incident, and message, on top).
config::WatchSettings leased(const std::string& holder, bool on = true) {
  config::WatchSettings ws;
  ws.interval_seconds = 60;
  ws.lease = {.enabled = on, .ttl_seconds = 30, .holder = holder};
  ws.failed_runs_in_a_row = 0;
  return ws;
}

// The watch rig (one Airflow environment "prod", one store, one clock, one notify target) and
// the watchers in it, by name: "a" is the rig's own Deps.
struct Watchers {
  testing::Rig rig;
  explicit Watchers(bool leases = true)
      : rig(testing::RigOptions{.watch = leased("a", leases),
                                .targets = {testing::fake_target("hook", "json")}}) {}

  // The Deps of the watcher `holder`, on `st` (default: the rig's store).
  std::shared_ptr<runbook::Deps> deps(const std::string& holder, bool leases = true,
                                      std::shared_ptr<store::Store> st = nullptr) {
    return rig.deps_with(leased(holder, leases), std::move(st));
  }
  std::shared_ptr<Outbox> outbox(const runbook::Deps& d) { return rig.outbox_for(d); }
  void failure(const std::string& dag, const std::string& run, int end_min) {
    rig.failure(dag, run, end_min);
  }

  std::vector<store::WatchLease> leases() {
    auto l = rig.store->list_watch_leases();
    EXPECT_TRUE(l.ok());
    return l.ok() ? *l : std::vector<store::WatchLease>{};
  }
  std::size_t marks() { return rig.store->list_watched_runs("prod", 0, 1000)->size(); }
  std::size_t messages() { return rig.messages().size(); }
};

// "dag/run" of each run a report handled.
std::vector<std::string> handled(const EnvReport& e) {
  std::vector<std::string> out;
  for (const auto& h : e.handled) out.push_back(h.dag_id + "/" + h.run_id);
  return out;
}

// A store that calls `before_mark(n)` just before it forwards its n-th mark (n = 1, 2, …).
class InterleavingStore final : public runbook::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::function<void(int)> before_mark;
  Status mark_watched_run_and_enqueue(const store::WatchedRun& r,
                                      const std::vector<store::OutboxMessage>& messages,
                                      std::optional<int64_t> fence) override {
    ++marks_;
    if (before_mark) before_mark(marks_);
    return ForwardingStore::mark_watched_run_and_enqueue(r, messages, fence);
  }

 private:
  int marks_ = 0;
};

TEST(Leases, OneWatcherHoldsAnEnvironmentAndAnotherTakesOverOnceTheTtlHasPassed) {
  Watchers w;
  w.failure("etl_a", "r1", -10);
  w.failure("etl_b", "r1", -5);
  auto da = w.deps("a"), db = w.deps("b");
  Watcher a(da, w.outbox(*da)), b(db, w.outbox(*db));

  CycleReport ca = a.run_once();
  ASSERT_TRUE(ca.ok()) << ca.envs[0].error;
  const EnvReport& ea = ca.envs[0];
  ASSERT_TRUE(ea.lease.has_value());
  EXPECT_EQ(ea.lease->holder, "a");
  EXPECT_EQ(ea.lease->token, 1);
  EXPECT_EQ(ea.lease->expires_at_ms, ms(t0() + seconds(30)));
  EXPECT_FALSE(ea.held_elsewhere);
  EXPECT_EQ(handled(ea), (std::vector<std::string>{"etl_a/r1", "etl_b/r1"}));

  // The other watcher skips the environment: it reads nothing from Airflow, and is ok.
  const int reads = w.rig.fake->requests();
  CycleReport cb = b.run_once();
  ASSERT_TRUE(cb.ok());
  EXPECT_TRUE(cb.envs[0].held_elsewhere);
  EXPECT_EQ(cb.envs[0].held_by, "a");
  EXPECT_TRUE(cb.envs[0].handled.empty());
  EXPECT_EQ(w.rig.fake->requests(), reads)
      << "a watcher that does not hold the environment reads it";
  EXPECT_NE(format_cycle(cb).find("prod: held by a until 2026-11-26T12:00:30"), std::string::npos)
      << format_cycle(cb);
  EXPECT_EQ(cycle_json(cb)["environments"][0]["held_by"], "a");

  // The holder renews at its next cycle: same token, later expiry.
  w.rig.clock->advance(seconds(10));
  ca = a.run_once();
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ(ca.envs[0].lease->token, 1);
  EXPECT_EQ(ca.envs[0].lease->expires_at_ms, ms(t0() + seconds(40)));
  const int64_t a_cursor = ca.envs[0].cursor_after_ms;

  // Then it stops (killed): nothing renews its lease. A new failure comes.
  w.failure("etl_c", "r1", 0);
  w.rig.clock->advance(seconds(29));
  cb = b.run_once();
  EXPECT_TRUE(cb.envs[0].held_elsewhere) << "still live one second before its expiry";
  w.rig.clock->advance(seconds(1));
  cb = b.run_once();
  ASSERT_TRUE(cb.ok()) << cb.envs[0].error;
  const EnvReport& eb = cb.envs[0];
  EXPECT_FALSE(eb.held_elsewhere);
  ASSERT_TRUE(eb.lease.has_value());
  EXPECT_EQ(eb.lease->holder, "b");
  EXPECT_EQ(eb.lease->token, 2) << "a takeover gets a higher token";
  EXPECT_EQ(eb.lease->acquired_at_ms, ms(t0() + seconds(40)));
  // It goes on from the holder's cursor: only the new failure is handled.
  EXPECT_EQ(eb.cursor_before_ms, a_cursor);
  EXPECT_EQ(eb.already_handled, 2u);
  EXPECT_EQ(handled(eb), (std::vector<std::string>{"etl_c/r1"}));

  // The old holder, back, finds the environment held.
  ca = a.run_once();
  EXPECT_TRUE(ca.envs[0].held_elsewhere);
  EXPECT_EQ(ca.envs[0].held_by, "b");
  // Each failure once: one mark, one message (one target) each.
  EXPECT_EQ(w.marks(), 3u);
  EXPECT_EQ(w.messages(), 3u);
}

TEST(Leases, AFencedWriteStopsTheCycleAndTheNewHolderHandlesWhatWasNotMarked) {
  Watchers w;
  w.failure("etl", "r1", -10);
  w.failure("etl", "r2", -8);
  w.failure("etl", "r3", -6);
  auto slow = std::make_shared<InterleavingStore>(w.rig.store);
  auto da = w.deps("a", true, slow), db = w.deps("b");
  Watcher a(da, w.outbox(*da)), b(db, w.outbox(*db));
  // While `a` handles r2 (after it has handled and marked r1), its lease expires and `b` takes
  // the environment over, before `a` marks r2.
  CycleReport cb;
  slow->before_mark = [&](int n) {
    if (n != 2) return;
    w.rig.clock->advance(seconds(31));
    cb = b.run_once();
  };
  CycleReport ca = a.run_once();

  ASSERT_EQ(cb.envs.size(), 1u);
  const EnvReport& eb = cb.envs[0];
  ASSERT_TRUE(eb.ok) << eb.error;
  EXPECT_EQ(eb.lease->holder, "b");
  EXPECT_EQ(eb.lease->token, 2);
  EXPECT_EQ(handled(eb), (std::vector<std::string>{"etl/r2", "etl/r3"}));
  EXPECT_EQ(eb.already_handled, 1u) << "r1 was marked by a";

  const EnvReport& ea = ca.envs[0];
  EXPECT_TRUE(ea.ok) << "losing the lease is not an error: " << ea.error;
  EXPECT_TRUE(ea.lease_lost);
  EXPECT_EQ(ea.held_by, "b");
  EXPECT_EQ(handled(ea), (std::vector<std::string>{"etl/r1"}))
      << "r2 was handled by a but its mark was fenced";
  EXPECT_EQ(ea.deferred, 2u);
  EXPECT_NE(format_cycle(ca).find("lease lost to b"), std::string::npos) << format_cycle(ca);
  EXPECT_TRUE(cycle_json(ca)["environments"][0]["lease_lost"].get<bool>());

  // Each failure is marked once and announced once; the cursor is the new holder's.
  EXPECT_EQ(w.marks(), 3u);
  EXPECT_EQ(w.messages(), 3u);
  std::set<std::string> incidents;
  auto outbox = w.rig.store->list_outbox("", 10);
  ASSERT_TRUE(outbox.ok());
  for (const auto& m : *outbox) incidents.insert(m.incident_id);
  EXPECT_EQ(incidents.size(), 3u);
  auto cur = w.rig.store->get_watch_cursor("prod");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ((*cur)->cursor_ms, *iso_to_ms(at(-6)));
  EXPECT_EQ((*cur)->cycles, 1) << "the fenced watcher wrote no cursor";
  // The next cycles: a skips, b finds nothing new.
  EXPECT_TRUE(a.run_once().envs[0].held_elsewhere);
  CycleReport again = b.run_once();
  EXPECT_TRUE(again.envs[0].handled.empty());
  EXPECT_EQ(w.marks(), 3u);
  EXPECT_EQ(w.messages(), 3u);
}

TEST(Leases, ALongCycleRenewsItsLeaseOnTheWay) {
  Watchers w;
  for (int i = 0; i < 3; ++i) w.failure("etl", "r" + std::to_string(i), -10 + i);
  auto slow = std::make_shared<InterleavingStore>(w.rig.store);
  auto da = w.deps("a", true, slow);
  Watcher a(da, w.outbox(*da));
  // Each run takes 20 s (more than ttl / 3); another watcher tries to take over every time.
  int refused = 0, tries = 0;
  slow->before_mark = [&](int) {
    w.rig.clock->advance(seconds(20));
    ++tries;
    auto g = w.rig.store->acquire_watch_lease("prod", "b", ms(w.rig.clock->now()), 30'000);
    if (g.ok() && !g->granted) ++refused;
  };
  CycleReport ca = a.run_once();
  ASSERT_TRUE(ca.ok()) << ca.envs[0].error;
  EXPECT_FALSE(ca.envs[0].lease_lost);
  EXPECT_EQ(ca.envs[0].handled.size(), 3u);
  EXPECT_EQ(tries, 3);
  EXPECT_EQ(refused, 3) << "60 s of cycle with a 30 s ttl: renewed on the way";
  ASSERT_EQ(w.leases().size(), 1u);
  EXPECT_EQ(w.leases()[0].holder, "a");
  EXPECT_EQ(w.leases()[0].token, 1);
}

TEST(Leases, ReleaseHandsTheEnvironmentOverAtOnceAndStatusShowsTheLease) {
  Watchers w;
  w.failure("etl", "r1", -10);
  auto da = w.deps("a"), db = w.deps("b");
  Watcher a(da, w.outbox(*da)), b(db, w.outbox(*db));
  ASSERT_TRUE(a.run_once().ok());
  auto st = watch_status(*da);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_TRUE((*st)[0].lease.has_value());
  EXPECT_TRUE((*st)[0].lease_live);
  EXPECT_NE(format_status(*st).find("lease: a (token 1) until 2026-11-26T12:00:30"),
            std::string::npos)
      << format_status(*st);
  EXPECT_EQ(status_json(*st)["environments"][0]["lease"]["holder"], "a");
  EXPECT_TRUE(status_json(*st)["environments"][0]["lease"]["live"].get<bool>());

  // A clean stop releases: the other watcher takes over without waiting for the ttl.
  ASSERT_TRUE(a.release_leases().ok());
  st = watch_status(*da);
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE((*st)[0].lease_live);
  EXPECT_NE(format_status(*st).find("lease: a (token 1) released"), std::string::npos)
      << format_status(*st);
  CycleReport cb = b.run_once();
  ASSERT_TRUE(cb.ok());
  EXPECT_EQ(cb.envs[0].lease->holder, "b");
  EXPECT_EQ(cb.envs[0].lease->token, 2);
  EXPECT_EQ(cb.envs[0].already_handled, 1u);
  ASSERT_TRUE(a.release_leases().ok()) << "nothing held: nothing to do";
  EXPECT_EQ(w.leases()[0].holder, "b");
  EXPECT_GT(w.leases()[0].expires_at_ms, 0) << "a's second release does not free b's lease";
}

// The loop with a waiter that moves the ManualClock to each deadline, and stops after `waits`.
class StepWaiter final : public Waiter {
 public:
  StepWaiter(ManualClock& c, int waits) : clock_(c), left_(waits) {}
  bool wait_until(Clock::time_point t) override {
    deadlines.push_back(t);
    if (--left_ <= 0) return false;
    if (t > clock_.now()) clock_.advance(t - clock_.now());
    return true;
  }
  std::vector<Clock::time_point> deadlines;

 private:
  ManualClock& clock_;
  int left_;
};

TEST(Leases, TheLoopWakesEveryThirdOfTheTtlAndTakesOverBetweenCycles) {
  Watchers w;
  w.failure("etl", "r1", -10);
  auto db = w.deps("b");
  Watcher b(db, w.outbox(*db));
  ASSERT_TRUE(b.run_once().ok());  // b holds prod until t0 + 30 s, then dies
  w.failure("etl", "r2", -1);

  auto da = w.deps("a");
  Watcher a(da, w.outbox(*da));
  ASSERT_EQ(a.lease_renew_every(), std::chrono::milliseconds(10'000));
  StepWaiter waiter(*w.rig.clock, 5);
  std::vector<CycleReport> reports;
  run_loop(a, *da, waiter, [&](const CycleReport& c) { reports.push_back(c); });

  // Every 10 s (ttl 30 / 3) although the interval is 60 s.
  std::vector<Clock::time_point> want;
  for (int i = 1; i <= 5; ++i) want.push_back(t0() + seconds(10 * i));
  EXPECT_EQ(waiter.deadlines, want);
  // The first cycle skips prod; the wake-up at t0 + 30 s (b's lease has expired) takes it over
  // and runs its cycle at once; the other wake-ups only renew, and report nothing.
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_TRUE(reports[0].envs[0].held_elsewhere);
  const EnvReport& taken = reports[1].envs[0];
  ASSERT_TRUE(taken.ok) << taken.error;
  EXPECT_EQ(taken.lease->holder, "a");
  EXPECT_EQ(taken.lease->token, 2);
  EXPECT_EQ(taken.lease->acquired_at_ms, ms(t0() + seconds(30)));
  EXPECT_LE(taken.lease->acquired_at_ms - ms(t0()), 2 * 30'000)
      << "taken over within two lease periods of the dead holder's last renewal";
  EXPECT_EQ(handled(taken), (std::vector<std::string>{"etl/r2"}));
  ASSERT_TRUE(reports[1].delivery.has_value()) << "a takeover's messages go out at once";
  EXPECT_EQ(reports[1].delivery->delivered, 1u);
  // Renewed by the wake-up at t0 + 40 s.
  EXPECT_EQ(w.leases()[0].expires_at_ms, ms(t0() + seconds(70)));
}

TEST(Leases, OffByDefaultNothingIsLeased) {
  Watchers w;
  w.failure("etl", "r1", -10);
  auto d1 = w.deps("a", false), d2 = w.deps("b", false);
  Watcher one(d1, w.outbox(*d1)), two(d2, w.outbox(*d2));
  EXPECT_FALSE(one.leases());
  EXPECT_EQ(one.lease_renew_every(), std::chrono::milliseconds(0));
  CycleReport c = one.run_once();
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c.envs[0].lease.has_value());
  EXPECT_FALSE(cycle_json(c)["environments"][0].contains("lease"));
  // Without leases, two watchers both watch (the marks make the second a repeat: nothing new).
  CycleReport c2 = two.run_once();
  ASSERT_TRUE(c2.ok());
  EXPECT_FALSE(c2.envs[0].held_elsewhere);
  EXPECT_EQ(c2.envs[0].already_handled, 1u);
  EXPECT_TRUE(w.leases().empty());
  EXPECT_TRUE(one.release_leases().ok());
}

TEST(Leases, TheDefaultHolderIsHostAndPid) {
  const std::string h = default_lease_holder();
  const auto colon = h.rfind(':');
  ASSERT_NE(colon, std::string::npos) << h;
  EXPECT_GT(colon, 0u);
  EXPECT_EQ(h.substr(colon + 1), std::to_string(::getpid()));
  Watchers w;
  auto d = w.deps("");
  Watcher x(d);
  EXPECT_EQ(x.lease_holder(), h);
}

}  // namespace
}  // namespace dm::watch
