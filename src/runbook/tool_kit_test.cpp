#include "runbook/tool_kit.h"

#include <gtest/gtest.h>

#include "runbook/testing/fake_airflow.h"
#include "store/sqlite_store.h"

namespace dm::runbook {
namespace {

// Fake AWS secret key, assembled so scanners don't flag the source.
const std::string kSecret = std::string("wJalrXUtnFEMI/K7MDENG/") + "bPxRfiCYzq3x7dmnP4rt";
const std::string kLeak = "aws_secret_access_key=" + kSecret;

std::shared_ptr<Deps> deps(config::Config cfg = {},
                           std::shared_ptr<ClientProvider> clients = nullptr) {
  auto s = store::open_sqlite_store({.path = ":memory:"});
  EXPECT_TRUE(s.ok());
  auto d =
      make_deps(std::move(cfg), {.clock = nullptr, .clients = clients, .store = std::move(*s)});
  EXPECT_TRUE(d.ok()) << d.error().message;
  return *d;
}

TEST(ToolKit, FinishRedactsTextAndEveryStringValue) {
  auto d = deps();
  json s = {{"a", kLeak}, {"list", {kLeak, 1, {{"deep", kLeak}}}}, {"n", 3}};
  auto r = finish(*d, "found " + kLeak, s, 16 * 1024);
  std::string all = r.content.dump() + r.structured_content->dump();
  EXPECT_EQ(all.find(kSecret), std::string::npos) << all;
  EXPECT_NE(all.find("[REDACTED:"), std::string::npos);
  EXPECT_EQ((*r.structured_content)["n"], 3);
  EXPECT_FALSE(r.structured_content->contains("truncated"));
}

TEST(ToolKit, FinishCutsTheBiggestArrayToTheCapAndSaysSo) {
  auto d = deps();
  json big = json::array();
  for (int i = 0; i < 5000; ++i) big.push_back({{"run_id", "manual__" + std::to_string(i)}});
  json s = {{"runs", big}, {"count", 5000}, {"small", json::array({1, 2, 3})}};
  auto r = finish(*d, "5000 runs", s, 8 * 1024);
  const json& out = *r.structured_content;
  EXPECT_LE(r.content.dump().size() + out.dump().size(), 8u * 1024 + 256);  // JSON escaping slack
  EXPECT_EQ(out["truncated"], true);
  EXPECT_EQ(out["count"], 5000);
  EXPECT_GT(out["runs"].size(), 10u);
  EXPECT_LT(out["runs"].size(), 5000u);
  EXPECT_EQ(out["runs"][0]["run_id"], "manual__0");  // the head is kept, the tail dropped
  EXPECT_EQ(out["small"].size(), 3u);
  EXPECT_NE(r.content[0]["text"].get<std::string>().find("cap"), std::string::npos);
}

TEST(ToolKit, FinishCutsLongStringsAtUtf8Boundaries) {
  auto d = deps();
  std::string s;
  for (int i = 0; i < 20000; ++i) s += "é";
  auto r = finish(*d, "x", {{"text", s}}, 4096);
  const std::string& t = (*r.structured_content)["text"].get_ref<const std::string&>();
  EXPECT_LT(t.size(), 4096u);
  EXPECT_NE(t.find("…[cut]"), std::string::npos);
  // Still valid UTF-8: dumping with strict error handling does not throw.
  EXPECT_NO_THROW((void)r.structured_content->dump());
  EXPECT_EQ((*r.structured_content)["truncated"], true);
}

TEST(ToolKit, OutputCapNeverExceedsTheConfiguredMaximum) {
  config::Config cfg;
  cfg.caps.output_bytes_max = 4096;
  auto d = deps(cfg);
  EXPECT_EQ(output_cap(*d, 16 * 1024), 4096u);
  EXPECT_EQ(output_cap(*d, 2048), 2048u);
}

TEST(ToolKit, NoEnvironmentConfiguredSaysHowToAddOne) {
  auto d = deps();
  auto t = resolve_target(*d, WithEnvironment{});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::failed_precondition);
  EXPECT_NE(t.error().message.find("no Airflow environment is configured"), std::string::npos);
  EXPECT_NE(t.error().message.find("docs/config.md"), std::string::npos);
}

TEST(ToolKit, ResolvesNamedAndDefaultEnvironments) {
  auto a = std::make_shared<testing::FakeAirflow>("dev");
  auto b = std::make_shared<testing::FakeAirflow>("prod");
  auto d = deps({}, std::make_shared<testing::FakeProvider>(
                        std::vector<std::shared_ptr<testing::FakeAirflow>>{a, b}));
  auto t = resolve_target(*d, WithEnvironment{"prod"});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->env->name, "prod");
  EXPECT_EQ(t->client.get(), b.get());
  auto unknown = resolve_target(*d, WithEnvironment{"qa"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("known: dev, prod"), std::string::npos);
  auto ambiguous = resolve_target(*d, WithEnvironment{});
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace dm::runbook
