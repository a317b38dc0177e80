// policy:, identity: and audit: sections.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/config.h"

namespace dm::config {
namespace {

Error parse_err(const std::string& yaml) {
  auto r = parse_config(yaml, "cfg.yaml");
  EXPECT_FALSE(r.ok()) << yaml;
  return r.ok() ? Error{} : r.error();
}

TEST(PolicySection, DefaultsAreSafe) {
  auto c = parse_config("version: 1\n", "cfg.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->policy.conf_max_bytes, 4096);
  EXPECT_EQ(c->policy.tiers.at("prod").required_approvals, 2);
  EXPECT_FALSE(c->policy.tiers.at("dev").allow_without_approval);
  EXPECT_TRUE(c->policy.allow_dags.empty());
  EXPECT_EQ(c->identity.principal, "");
  EXPECT_EQ(c->audit.checkpoint_every, 100);
}

TEST(PolicySection, FullExample) {
  auto c = parse_config(R"(
policy:
  conf_max_bytes: 2048
  approval_ttl_minutes: 30
  tiers:
    dev: {required_approvals: 1, allow_without_approval: true, elicitation: form}
    prod: {required_approvals: 3, elicitation: url}
  allow_dags:
    prod: ["etl_*", reports]
  dags:
    - dag: "etl_*"
      conf_schema:
        type: object
        properties:
          date: {type: string, maxLength: 10}
          version: {type: string, enum: ["1", "2"]}
        required: [date]
      conf_max_bytes: 512
identity: {principal: Alice}
audit: {key_env: DM_AUDIT_KEY, checkpoint_file: /tmp/ckpt.jsonl, checkpoint_every: 10}
approvers: {bob: {token_sha256: "00"}}
)",
                        "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->policy.conf_max_bytes, 2048);
  EXPECT_EQ(c->policy.approval_ttl_minutes, 30);
  EXPECT_TRUE(c->policy.tiers.at("dev").allow_without_approval);
  EXPECT_EQ(c->policy.tiers.at("prod").required_approvals, 3);
  EXPECT_EQ(c->policy.tiers.at("prod").elicitation, "url");
  EXPECT_EQ(c->policy.allow_dags.at("prod"), (std::vector<std::string>{"etl_*", "reports"}));
  ASSERT_EQ(c->policy.dags.size(), 1u);
  auto schema = nlohmann::json::parse(c->policy.dags[0].conf_schema_json);
  EXPECT_EQ(schema["properties"]["date"]["maxLength"], 10);    // a number, not "10"
  EXPECT_EQ(schema["properties"]["version"]["enum"][0], "1");  // quoted stays a string
  EXPECT_EQ(c->policy.dags[0].conf_max_bytes, 512);
  EXPECT_EQ(c->identity.principal, "Alice");
  EXPECT_EQ(c->audit.key_env, "DM_AUDIT_KEY");
  EXPECT_EQ(c->audit.checkpoint_every, 10);
}

TEST(PolicySection, ErrorsNameTheKey) {
  EXPECT_NE(parse_err("policy: {tiers: {prod: {allow_without_approval: true}}}\n")
                .message.find("policy.tiers.prod.allow_without_approval"),
            std::string::npos);
  EXPECT_NE(parse_err("policy: {tiers: {prod: {elicitation: form}}}\n")
                .message.find("policy.tiers.prod.elicitation"),
            std::string::npos);
  EXPECT_NE(parse_err("policy: {tiers: {qa: {}}}\n").message.find("policy.tiers.qa"),
            std::string::npos);
  EXPECT_NE(parse_err("policy: {tiers: {dev: {required_approvals: 0}}}\n")
                .message.find("required_approvals"),
            std::string::npos);
  EXPECT_NE(parse_err("policy: {dags: [{conf_schema: {type: object}}]}\n")
                .message.find("policy.dags[0].dag"),
            std::string::npos);
  EXPECT_NE(parse_err("policy: {dags: [{dag: x, conf_schema_file: /nonexistent.json}]}\n")
                .message.find("conf_schema_file"),
            std::string::npos);
  EXPECT_NE(parse_err("policy: {allowlist: {}}\n").message.find("policy.allowlist"),
            std::string::npos);
  EXPECT_NE(parse_err("identity: {principal: \"agent:bot\"}\n").message.find("identity.principal"),
            std::string::npos);
  EXPECT_NE(parse_err("audit: {key_file: /a, key_env: B}\n").message.find("only one"),
            std::string::npos);
  EXPECT_NE(parse_err("audit: {key: abc}\n").message.find("audit.key"), std::string::npos);
}

}  // namespace
}  // namespace dm::config
