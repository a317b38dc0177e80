// PostgreSQL store tests (need DM_TEST_PG_DSN; run by dev/test.d/50-store-pg.sh, never by ctest).
#include <gtest/gtest.h>

#include "store/store_contract.h"

namespace dm::store::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Postgres, StoreContract,
                         ::testing::Values(NamedBackend{"postgres", make_pg_backend}),
                         backend_param_name);

TEST(PgStore, UnreachableServerIsUnavailable) {
  auto s = open_pg_store({.dsn = "host=127.0.0.1 port=1 dbname=x user=x password=s3cret "
                                 "connect_timeout=2"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unavailable);
  EXPECT_EQ(s.error().message.find("s3cret"), std::string::npos) << "DSN secret leaked";
  auto empty = open_pg_store({});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, Errc::invalid_argument);
}

TEST(PgStore, DroppedConnectionIsAnErrorThenReconnects) {
  auto b = make_pg_backend();
  ASSERT_TRUE(b.ok()) << b.error().message;
  auto s = (*b)->open();
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE((*s)->record_occurrence({"s", "d", "r", "t", "dev", 1}).ok());
  // Kill every other session of this database (the store's connection among them).
  ASSERT_TRUE((*b)->raw_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                  .ok());
  auto lost = (*s)->record_occurrence({"s", "d", "r2", "t", "dev", 2});
  ASSERT_FALSE(lost.ok()) << "a write on a dead connection must not report success";
  EXPECT_EQ(lost.error().code, Errc::unavailable) << lost.error().message;
  auto back = (*s)->record_occurrence({"s", "d", "r3", "t", "dev", 3});
  ASSERT_TRUE(back.ok()) << back.error().message;
  auto stats = (*s)->occurrence_stats({});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 2);  // 1 and 3; the failed write is not there
  EXPECT_STREQ((*s)->backend(), "postgres");
}

TEST(PgStore, ReplicasOpeningTogetherMigrateOnce) {
  auto b = make_pg_backend();
  ASSERT_TRUE(b.ok()) << b.error().message;
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      if ((*b)->open().ok()) ok.fetch_add(1);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 4);
  auto s = (*b)->open();
  ASSERT_TRUE(s.ok());
  auto h = (*s)->audit_head();
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->seq, 0);
}

}  // namespace
}  // namespace dm::store::testing
