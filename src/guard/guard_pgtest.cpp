// Guard behaviour on the PostgreSQL store (needs DM_TEST_PG_DSN; run by
// dev/test.d/50-store-pg.sh, never by ctest).
#include <gtest/gtest.h>

#include "guard/guard_contract.h"

namespace dm::guard::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Postgres, GuardContract,
                         ::testing::Values(NamedBackend{"postgres",
                                                        store::testing::make_pg_backend}),
                         store::testing::backend_param_name);

TEST(GuardPgFailClosed, DatabaseDownRefusesBeginWrite) {
  auto b = store::testing::make_pg_backend();
  ASSERT_TRUE(b.ok()) << b.error().message;
  auto s = (*b)->open();
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::shared_ptr<store::Store> st(std::move(*s));
  AuditLog log(st, std::make_shared<ManualClock>(std::chrono::system_clock::time_point{}),
               test_key());
  ASSERT_TRUE(log.append({"alice", "t", "", "", "", "", "", "", ""}).ok());
  ASSERT_TRUE((*b)->raw_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                  .ok());
  bool ran = false;
  Result<int> r = log.guarded({"alice", "trigger_dag", "", "allowed", "", "", "", "", ""},
                              [&]() -> Result<int> {
                                ran = true;
                                return 1;
                              });
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(ran) << "a write ran although the audit could not record it";
  auto rep = log.verify();  // reconnects
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_TRUE(rep->ok) << rep->reason;
  EXPECT_EQ(rep->entries, 1);
}

}  // namespace
}  // namespace dm::guard::testing
