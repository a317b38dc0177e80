// store: and recovery: sections, and the glob matcher they use.
#include <gtest/gtest.h>

#include "config/config.h"

namespace dm::config {
namespace {

Error parse_err(const std::string& yaml) {
  auto r = parse_config(yaml, "cfg.yaml");
  EXPECT_FALSE(r.ok()) << yaml;
  return r.ok() ? Error{} : r.error();
}

TEST(StoreSection, DefaultsToSqliteAtTheStatePath) {
  auto c = parse_config("version: 1\n", "cfg.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->store.backend, StoreSettings::Backend::sqlite);
  EXPECT_EQ(c->store.path, "");
}

TEST(StoreSection, SqlitePathAndPostgresDsnEnv) {
  auto c = parse_config("store: {backend: sqlite, path: /var/lib/dm/x.db}\n", "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->store.path, "/var/lib/dm/x.db");
  auto pg = parse_config("store: {backend: postgres, dsn_env: DM_PG}\n", "cfg.yaml");
  ASSERT_TRUE(pg.ok()) << pg.error().message;
  EXPECT_EQ(pg->store.backend, StoreSettings::Backend::postgres);
  EXPECT_EQ(pg->store.dsn_env, "DM_PG");
}

TEST(StoreSection, ErrorsNameTheKey) {
  EXPECT_NE(parse_err("store: {backend: mysql}\n")
                .message.find("store.backend: must be sqlite or "
                              "postgres, got \"mysql\""),
            std::string::npos);
  EXPECT_NE(parse_err("store: {backend: postgres}\n").message.find("store.dsn_env: missing"),
            std::string::npos);
  // A literal DSN would carry a password: the key does not exist.
  EXPECT_NE(parse_err("store: {dsn: 'host=x password=y'}\n").message.find("store.dsn: unknown key"),
            std::string::npos);
  EXPECT_NE(parse_err("store: [1]\n").message.find("store: must be a mapping"), std::string::npos);
}

TEST(RecoverySection, RulesInOrderFirstMatchWins) {
  auto c = parse_config(R"(
recovery:
  - dag: "orders_*"
    quiet_minutes: 60
    critical_tasks: [load, publish]
  - dag: "*"
    quiet_minutes: 5
    escalate_after_failures: 3
)",
                        "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->recovery.size(), 2u);
  auto r = c->recovery_for("orders_daily");
  EXPECT_EQ(r.quiet_minutes, 60);
  EXPECT_EQ(r.critical_tasks, (std::vector<std::string>{"load", "publish"}));
  EXPECT_EQ(r.escalate_after_failures, 2);
  auto other = c->recovery_for("billing");
  EXPECT_EQ(other.quiet_minutes, 5);
  EXPECT_TRUE(other.critical_tasks.empty());
  EXPECT_EQ(other.escalate_after_failures, 3);
}

TEST(RecoverySection, NoRulesGivesTheDefault) {
  Config c;
  auto r = c.recovery_for("anything");
  EXPECT_EQ(r.quiet_minutes, 30);
  EXPECT_TRUE(r.critical_tasks.empty());
}

TEST(RecoverySection, BadRulesAreRejectedWithThePath) {
  EXPECT_NE(parse_err("recovery: {dag: x}\n").message.find("recovery: must be a list"),
            std::string::npos);
  EXPECT_NE(parse_err("recovery: [{quiet_minutes: 3}]\n").message.find("recovery[0].dag: missing"),
            std::string::npos);
  EXPECT_NE(parse_err("recovery: [{dag: a, quiet_minutes: -1}]\n")
                .message.find("recovery[0].quiet_minutes: must be between 0 and"),
            std::string::npos);
  EXPECT_NE(parse_err("recovery: [{dag: a, critical_tasks: [{x: 1}]}]\n")
                .message.find("recovery[0].critical_tasks[0]: must be a string"),
            std::string::npos);
  EXPECT_NE(parse_err("recovery: [{dag: a, retries: 3}]\n")
                .message.find("recovery[0].retries: unknown key"),
            std::string::npos);
}

TEST(Glob, StarsAndQuestionMarks) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "etl"));
  EXPECT_TRUE(glob_match("etl_*", "etl_orders"));
  EXPECT_FALSE(glob_match("etl_*", "xetl_orders"));
  EXPECT_TRUE(glob_match("*_daily", "orders_daily"));
  EXPECT_FALSE(glob_match("*_daily", "orders_daily2"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
  EXPECT_FALSE(glob_match("a*b*c", "axxbyy"));
  EXPECT_TRUE(glob_match("exact", "exact"));
  EXPECT_FALSE(glob_match("exact", "exactly"));
}

}  // namespace
}  // namespace dm::config

namespace dm::config {
namespace {

TEST(ServerSection, ReadOnlyDefaultsOffAndIsABoolean) {
  auto plain = parse_config("version: 1\n", "cfg.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->server.read_only);
  auto ro = parse_config("server: {read_only: true}\n", "cfg.yaml");
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  EXPECT_TRUE(ro->server.read_only);
  auto bad = parse_config("server: {read_only: maybe}\n", "cfg.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("server.read_only"), std::string::npos) << bad.error().message;
  auto key = parse_config("server: {request_state_key_file: ~/dm/state.key}\n", "cfg.yaml");
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->server.request_state_key_file.rfind("~", 0), std::string::npos);  // expanded
  auto both =
      parse_config("server: {request_state_key_file: /k, request_state_key_env: K}\n", "cfg.yaml");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.error().message.find("only one"), std::string::npos) << both.error().message;
  auto unknown = parse_config("server: {bind: 0.0.0.0}\n", "cfg.yaml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("server"), std::string::npos);
}

}  // namespace
}  // namespace dm::config
