#include <gtest/gtest.h>

#include <cstdlib>

#include "store/store_contract.h"

namespace dm::store::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContract,
                         ::testing::Values(NamedBackend{"sqlite", make_sqlite_backend}),
                         backend_param_name);

TEST(SqliteStore, ReadOnlyFileRefusesEveryWrite) {
  SqliteBackend b;
  {
    auto rw = b.open();
    ASSERT_TRUE(rw.ok()) << rw.error().message;
    ASSERT_TRUE((*rw)->record_occurrence({"s", "d", "r", "t", "dev", 1}).ok());
  }
  auto ro = open_sqlite_store({.path = b.path(), .read_only = true});
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  auto stats = (*ro)->occurrence_stats({});
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->count, 1);
  ApprovalRecord a;
  a.id = "a1";
  auto c = (*ro)->create_approval(a);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::unavailable);
  auto ap = (*ro)->append_audit([](const AuditHead& h) -> Result<AuditAppend> {
    return AuditAppend{AuditRow{h.seq + 1, 1, h.hash, "x", "y"}, std::nullopt};
  });
  ASSERT_FALSE(ap.ok());
  EXPECT_EQ(ap.error().code, Errc::unavailable);
  EXPECT_FALSE((*ro)->record_occurrence({"s", "d", "r", "t", "dev", 2}).ok());
}

TEST(SqliteStore, ReadOnlyOpenOfUnmigratedOrMissingFileFails) {
  SqliteBackend b;
  auto missing = open_sqlite_store({.path = b.path(), .read_only = true});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::unavailable);
  ASSERT_TRUE(b.raw_exec("CREATE TABLE unrelated(x)").ok());
  auto unmigrated = open_sqlite_store({.path = b.path(), .read_only = true});
  ASSERT_FALSE(unmigrated.ok());
  EXPECT_EQ(unmigrated.error().code, Errc::failed_precondition);
}

TEST(SqliteStore, FullDiskIsAnErrorAndTheChainStaysConsistent) {
  SqliteBackend b;
  { ASSERT_TRUE(b.open().ok()); }
  auto s = open_sqlite_store({.path = b.path(), .max_pages = 1});  // clamps to current size
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::string big(2000, 'x');
  int written = 0;
  Error last{};
  for (int i = 0; i < 500; ++i) {
    auto r = (*s)->append_audit([&](const AuditHead& h) -> Result<AuditAppend> {
      return AuditAppend{AuditRow{h.seq + 1, 1, h.hash, "h" + std::to_string(h.seq + 1), big},
                         std::nullopt};
    });
    if (!r.ok()) {
      last = r.error();
      break;
    }
    ++written;
  }
  EXPECT_LT(written, 500) << "the page cap never filled up";
  EXPECT_EQ(last.code, Errc::unavailable);
  EXPECT_NE(last.message.find("full"), std::string::npos) << last.message;
  auto head = (*s)->audit_head();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->seq, written);
  auto rows = (*s)->read_audit(1, 1000);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), static_cast<size_t>(written));
}

TEST(SqliteStore, NewerSchemaIsRefused) {
  SqliteBackend b;
  { ASSERT_TRUE(b.open().ok()); }
  ASSERT_TRUE(b.raw_exec("INSERT INTO schema_version(version) VALUES(99)").ok());
  auto s = b.open();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::failed_precondition);
  EXPECT_NE(s.error().message.find("newer"), std::string::npos);
}

TEST(SqliteStore, CreatesParentFolder) {
  SqliteBackend b;
  auto path = (b.dir() / "a" / "b" / "dm.db").string();
  auto s = open_sqlite_store({.path = path});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_STREQ((*s)->backend(), "sqlite");
}

class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
  }
  ~EnvGuard() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SqliteStore, DefaultPathFollowsXdgStateHome) {
  EnvGuard x("XDG_STATE_HOME"), h("HOME");
  ::setenv("XDG_STATE_HOME", "/var/tmp/state", 1);
  auto p = default_sqlite_path();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, "/var/tmp/state/dagmedic/dagmedic.db");
  ::unsetenv("XDG_STATE_HOME");
  ::setenv("HOME", "/home/u", 1);
  p = default_sqlite_path();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, "/home/u/.local/state/dagmedic/dagmedic.db");
  ::unsetenv("HOME");
  p = default_sqlite_path();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::failed_precondition);
}

TEST(StoreHelpers, StateNamesRoundTrip) {
  for (auto s : {ApprovalState::pending, ApprovalState::approved, ApprovalState::denied,
                 ApprovalState::consumed})
    EXPECT_EQ(parse_approval_state(approval_state_name(s)), s);
  EXPECT_FALSE(parse_approval_state("bogus").has_value());
  EXPECT_EQ(genesis_hash(), std::string(64, '0'));
}

}  // namespace
}  // namespace dm::store::testing
