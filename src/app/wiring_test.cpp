#include "app/wiring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "mcp/memory_transport.h"
#include "runbook/runbook.h"

namespace dm::app {
namespace {

namespace fs = std::filesystem;

class Wiring : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dm-wiring-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Wiring, GeneratesTheAuditKeyOnceAs0600NextToTheStore) {
  config::Config cfg;
  cfg.store.path = dir_ + "/state/dm.db";
  auto source = audit_key_source(cfg);
  auto first = source();
  ASSERT_TRUE(first) << first.error().message;
  const std::string key_path = dir_ + "/state/audit.key";
  struct stat st {};
  ASSERT_EQ(::stat(key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = audit_key_source(cfg)();  // another process start: the same key, not a new one
  ASSERT_TRUE(again);
  EXPECT_EQ(first->bytes(), again->bytes());
  EXPECT_GE(first->bytes().size(), 32u);
}

TEST_F(Wiring, ConfiguredKeyFileOrVariableWins) {
  config::Config cfg;
  cfg.store.path = dir_ + "/dm.db";
  cfg.audit.key_file = dir_ + "/k";
  std::ofstream(cfg.audit.key_file) << std::string(64, 'a') << "\n";
  ::chmod(cfg.audit.key_file.c_str(), 0600);
  auto k = audit_key_source(cfg)();
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_FALSE(fs::exists(dir_ + "/audit.key"));  // nothing generated

  config::Config env_cfg;
  env_cfg.audit.key_env = "DM_WIRING_TEST_KEY";
  ::unsetenv("DM_WIRING_TEST_KEY");
  EXPECT_FALSE(audit_key_source(env_cfg)());  // unset variable: an error, never a made-up key
  ::setenv("DM_WIRING_TEST_KEY", std::string(64, 'b').c_str(), 1);
  EXPECT_TRUE(audit_key_source(env_cfg)());
  ::unsetenv("DM_WIRING_TEST_KEY");
}

TEST_F(Wiring, RequestStateKeyFromAFileOrVariableIsSharedAndShortOrMissingOnesStopStartUp) {
  config::Config none;
  auto random = request_state_sealer(none);
  ASSERT_TRUE(random.ok());
  EXPECT_EQ(*random, nullptr);  // the server makes its own random key

  config::Config a, b;
  a.server.request_state_key_file = dir_ + "/state.key";
  std::ofstream(a.server.request_state_key_file) << std::string(40, 'k') << "\n";
  b.server.request_state_key_env = "DM_WIRING_STATE_KEY";
  ::setenv("DM_WIRING_STATE_KEY", std::string(40, 'k').c_str(), 1);
  auto sa = request_state_sealer(a), sb = request_state_sealer(b);
  ::unsetenv("DM_WIRING_STATE_KEY");
  ASSERT_TRUE(sa.ok()) << sa.error().message;
  ASSERT_TRUE(sb.ok()) << sb.error().message;
  // Two replicas with the same key (trailing newline ignored) open each other's states.
  auto sealed = (*sa)->seal({{"t", "trigger_dag"}}, {{"approval", "a1"}});
  ASSERT_TRUE(sealed.ok());
  auto opened = (*sb)->open(*sealed, {{"t", "trigger_dag"}});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ((*opened)["approval"], "a1");

  config::Config short_key;
  short_key.server.request_state_key_file = dir_ + "/short.key";
  std::ofstream(short_key.server.request_state_key_file) << "tooshort-secret";
  auto s = request_state_sealer(short_key);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("short.key"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().message.find("tooshort-secret"), std::string::npos);  // never the key
  config::Config missing;
  missing.server.request_state_key_env = "DM_WIRING_STATE_KEY_UNSET";
  ::unsetenv("DM_WIRING_STATE_KEY_UNSET");
  auto m = request_state_sealer(missing);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("DM_WIRING_STATE_KEY_UNSET"), std::string::npos);
}

TEST_F(Wiring, OperatorIsTheConfiguredIdentityElseTheOsUser) {
  config::Config cfg;
  cfg.identity.principal = "Alice";
  auto a = operator_from(cfg);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_FALSE(a->is_agent);
  cfg.identity.principal = "agent:claude";
  auto reserved = operator_from(cfg);
  ASSERT_FALSE(reserved);
  EXPECT_NE(reserved.error().message.find("reserved"), std::string::npos);
  cfg.identity.principal.clear();
  auto os = operator_from(cfg);
  ASSERT_TRUE(os);
  EXPECT_FALSE(os->id.empty());
  EXPECT_NE(os->id, "operator");  // the OS user, not the runbook's placeholder
}

TEST_F(Wiring, StoreOpenFailureIsAClearErrorAndRetried) {
  config::Config cfg;
  cfg.store.path = "/proc/definitely/not/writable/dm.db";
  auto d = wire_deps(cfg);
  ASSERT_TRUE(d.ok()) << d.error().message;  // start-up never opens the store
  auto s = (*d)->store();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("incident store is unavailable"), std::string::npos);
}

TEST_F(Wiring, PostgresWithoutItsDsnSaysTheStoreIsUnavailable) {
  config::Config cfg;
  cfg.store.backend = config::StoreSettings::Backend::postgres;
  cfg.store.dsn_env = "DM_WIRING_TEST_UNSET_DSN";
  ::unsetenv("DM_WIRING_TEST_UNSET_DSN");
  auto deps = wire_deps(cfg);
  ASSERT_TRUE(deps.ok()) << deps.error().message;
  auto server = mcp::Server::create({.name = "t", .version = "0"});
  ASSERT_TRUE(runbook::register_tools(*server, *deps).ok());
  mcp::InMemoryClient client(server);
  ASSERT_TRUE(client.initialize().ok());
  auto r = client.call("resources/read", {{"uri", "dagmedic://incidents"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("store unavailable"), std::string::npos);
  EXPECT_NE(r.error().message.find("DM_WIRING_TEST_UNSET_DSN"), std::string::npos);
}

TEST_F(Wiring, TheWiredProcessAuditsWithTheGeneratedKey) {
  config::Config cfg;
  cfg.store.path = dir_ + "/dm.db";
  cfg.identity.principal = "oncall";
  auto d = wire_deps(cfg);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ((*d)->operator_principal.id, "oncall");
  auto audit = (*d)->audit();
  ASSERT_TRUE(audit) << audit.error().message;
  EXPECT_TRUE(fs::exists(dir_ + "/audit.key"));
}

}  // namespace
}  // namespace dm::app
