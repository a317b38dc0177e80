// Remediation policy rules: ids, allowlists per tier, conf size/schema/unknown keys.
#include "guard/policy.h"

#include <gtest/gtest.h>

namespace dm::guard {
namespace {

using json = nlohmann::json;

// A stand-in schema compiler: the schema's "required" keys must be present and no other keys
// are allowed when additionalProperties is false (enough to see the policy wiring).
Result<ConfChecker> fake_compile(const json& schema) {
  if (schema.contains("bad")) return make_error(Errc::invalid_argument, "cannot compile");
  return ConfChecker([schema](const json& conf) -> std::optional<std::string> {
    if (schema.value("additionalProperties", true) == false)
      for (const auto& [k, v] : conf.items())
        if (!schema["properties"].contains(k)) return "conf." + k + ": not allowed";
    return std::nullopt;
  });
}

std::shared_ptr<const Policy> make_policy(PolicyRules r = {}) {
  auto p = Policy::make(std::move(r), fake_compile);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? *p : nullptr;
}

WriteRequest trig(std::string env, std::string tier, std::string dag, json conf = json::object()) {
  return {"trigger_dag", std::move(env), std::move(tier), std::move(dag), std::move(conf), ""};
}

TEST(Policy, SafeDefaultsDevEverythingProdNothing) {
  auto p = make_policy();
  EXPECT_TRUE(p->check(trig("dev", "dev", "etl")).ok());
  auto prod = p->check(trig("prod", "prod", "etl"));
  ASSERT_FALSE(prod.ok());
  EXPECT_EQ(prod.error().code, Errc::permission_denied);
  EXPECT_NE(prod.error().message.find("policy.allow_dags.prod"), std::string::npos);
  EXPECT_EQ(p->tier("prod")->required_approvals, 2);
  EXPECT_FALSE(p->tier("staging").ok());
}

TEST(Policy, AllowlistGlobsPerEnvironment) {
  PolicyRules r;
  r.allow_dags["prod"] = {"etl_*", "reports"};
  r.allow_dags["dev"] = {"sandbox_?"};
  auto p = make_policy(r);
  EXPECT_TRUE(p->check(trig("prod", "prod", "etl_orders")).ok());
  EXPECT_TRUE(p->check(trig("prod", "prod", "reports")).ok());
  EXPECT_FALSE(p->check(trig("prod", "prod", "reports2")).ok());
  EXPECT_TRUE(p->check(trig("dev", "dev", "sandbox_1")).ok());
  EXPECT_FALSE(p->check(trig("dev", "dev", "etl_orders")).ok());
}

// A conf with a NUL or another control character is refused by policy, which runs before an
// approval is requested or consumed: Airflow would refuse it only after the approval is used up.
TEST(Policy, ControlCharactersInConfAreRefusedBeforeAnyApproval) {
  PolicyRules r;
  DagRule any;
  any.dag = "etl";
  any.conf_schema = json::object();  // any keys
  r.dags.push_back(any);
  auto p = make_policy(r);
  const std::string nul("a\0b", 3);
  struct Case {
    json conf;
    const char* where;
  };
  const std::vector<Case> bad = {
      {{{"date", nul}}, "conf.date"},
      {{{"x", {{"deep", {"ok", "bell\x07"}}}}}, "conf.x.deep[1]"},
      {{{std::string("k\x01"), 1}}, "conf key"},
      {{{"esc", "\x1b[31m"}}, "conf.esc"},
      {{{"del", "a\x7f"}}, "conf.del"},
  };
  for (const auto& c : bad) {
    auto st = p->check(trig("dev", "dev", "etl", c.conf));
    ASSERT_FALSE(st.ok()) << c.conf.dump();
    EXPECT_EQ(st.error().code, Errc::invalid_argument);
    EXPECT_NE(st.error().message.find(std::string("policy: ") + c.where + " holds"),
              std::string::npos)
        << st.error().message;
  }
  EXPECT_TRUE(p->check(trig("dev", "dev", "etl", {{"sql", "SELECT 1;\n\tFROM t\r\n"}})).ok());
  EXPECT_TRUE(p->check(trig("dev", "dev", "etl", {{"name", "Zoë ☃"}})).ok());
}

TEST(Policy, IdCharacterRules) {
  EXPECT_TRUE(check_dag_id("etl.orders-v2_x").ok());
  for (const char* bad : {"", "a b", "a/b", "..", ".hidden", "a..b", "x;rm", "x$(id)", "a\"b"})
    EXPECT_FALSE(check_dag_id(bad).ok()) << bad;
  EXPECT_TRUE(check_run_id("manual__2026-01-01T00:00:00+00:00").ok());
  for (const char* bad : {"", "../etc", "a/b", "a\\b", " lead", ".x", "a\nb", "x`id`", "a\"b"})
    EXPECT_FALSE(check_run_id(bad).ok()) << bad;
  EXPECT_FALSE(check_run_id(std::string(251, 'a')).ok());
}

TEST(Policy, ConfWithoutSchemaMustBeEmpty) {
  auto p = make_policy();
  auto r = p->check(trig("dev", "dev", "etl", {{"a", 1}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no conf schema"), std::string::npos);
  EXPECT_FALSE(p->check(trig("dev", "dev", "etl", json::array())).ok());
}

TEST(Policy, SchemaGetsClosedAndSizeLimited) {
  PolicyRules r;
  r.dags.push_back(
      {"etl*", json{{"type", "object"}, {"properties", {{"date", {{"type", "string"}}}}}}, 0});
  r.dags.push_back({"small", json{{"type", "object"}}, 20});
  auto p = make_policy(r);
  EXPECT_TRUE(p->check(trig("dev", "dev", "etl", {{"date", "x"}})).ok());
  auto unknown = p->check(trig("dev", "dev", "etl", {{"other", "x"}}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("policy.dags[0]"), std::string::npos);
  auto big = p->check(trig("dev", "dev", "etl", {{"date", std::string(5000, 'x')}}));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, Errc::too_large);
  EXPECT_NE(big.error().message.find("policy.conf_max_bytes"), std::string::npos);
  auto small = p->check(trig("dev", "dev", "small", {{"k", std::string(30, 'x')}}));
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().message.find("policy.dags[1].conf_max_bytes"), std::string::npos);
}

TEST(Policy, BadSchemaOrTierIsAStartupError) {
  PolicyRules r;
  r.dags.push_back({"x", json{{"bad", true}}, 0});
  auto p = Policy::make(r, fake_compile);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("policy.dags[0]"), std::string::npos);
  PolicyRules t;
  t.tiers["qa"] = {};
  EXPECT_FALSE(Policy::make(t, fake_compile).ok());
}

TEST(Policy, ProdNeverRunsWithoutApprovalAndClearNeedsARun) {
  PolicyRules r;
  r.tiers["prod"].allow_without_approval = true;
  r.tiers["prod"].required_approvals = 0;
  auto p = make_policy(r);
  EXPECT_FALSE(p->tier("prod")->allow_without_approval);
  EXPECT_EQ(p->tier("prod")->required_approvals, 1);
  WriteRequest c{"clear_failed_tasks", "dev", "dev", "etl", json::object(), ""};
  EXPECT_FALSE(p->check(c).ok());
  c.run_id = "manual__1";
  EXPECT_TRUE(p->check(c).ok());
  EXPECT_FALSE(p->check({"delete_dag", "dev", "dev", "etl", json::object(), ""}).ok());
}

}  // namespace
}  // namespace dm::guard
