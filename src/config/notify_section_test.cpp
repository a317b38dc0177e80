// notify: section (docs/watch.md "Notifications through the outbox").
#include <gtest/gtest.h>

#include "config/config.h"

namespace dm::config {
namespace {

constexpr const char* kEnvs =
    "environments:\n"
    "  prod: {kind: airflow, url: http://af:8080}\n";

Error parse_err(const std::string& yaml) {
  auto r = parse_config(std::string(kEnvs) + yaml, "cfg.yaml");
  EXPECT_FALSE(r.ok()) << yaml;
  return r.ok() ? Error{} : r.error();
}

TEST(NotifySection, DefaultsWhenAbsent) {
  auto c = parse_config(kEnvs, "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->notify.targets.empty());
  EXPECT_EQ(c->notify.backoff_initial_seconds, 10);
  EXPECT_EQ(c->notify.backoff_max_seconds, 3600);
  EXPECT_EQ(c->notify.max_attempts, 8);
}

TEST(NotifySection, EveryKindAndKey) {
  auto c =
      parse_config(std::string(kEnvs) +
                       "notify:\n"
                       "  base_url: https://dagmedic.example.com/\n"
                       "  backoff_initial_seconds: 2\n"
                       "  backoff_max_seconds: 60\n"
                       "  max_attempts: 4\n"
                       "  max_per_cycle: 9\n"
                       "  targets:\n"
                       "    s: {kind: slack, url: 'https://hooks.slack.com/services/T/B/x'}\n"
                       "    pd: {kind: pagerduty, url: 'https://events.pagerduty.com/v2/enqueue',"
                       " routing_key_env: PD_KEY}\n"
                       "    t: {kind: teams, url: 'http://127.0.0.1:9000/teams'}\n"
                       "    j: {kind: json, url: 'http://[::1]:8080/x', secret_env: HOOK_KEY,"
                       " timeout_seconds: 3, max_attempts: 2}\n",
                   "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const auto& n = c->notify;
  EXPECT_EQ(n.base_url, "https://dagmedic.example.com");
  EXPECT_EQ(n.backoff_initial_seconds, 2);
  EXPECT_EQ(n.backoff_max_seconds, 60);
  EXPECT_EQ(n.max_per_cycle, 9);
  ASSERT_EQ(n.targets.size(), 4u);
  EXPECT_EQ(n.targets[0].name, "s");
  EXPECT_EQ(n.targets[0].kind, "slack");
  EXPECT_EQ(n.targets[0].max_attempts, 4) << "notify.max_attempts is the default";
  EXPECT_EQ(n.targets[0].timeout_seconds, 10);
  EXPECT_EQ(n.targets[1].routing_key_env, "PD_KEY");
  EXPECT_EQ(n.targets[3].secret_env, "HOOK_KEY");
  EXPECT_EQ(n.targets[3].timeout_seconds, 3);
  EXPECT_EQ(n.targets[3].max_attempts, 2);
  ASSERT_NE(n.find("t"), nullptr);
  EXPECT_EQ(n.find("t")->url, "http://127.0.0.1:9000/teams");
  EXPECT_EQ(n.find("nope"), nullptr);
}

TEST(NotifySection, BadUrlsAreRefusedNamingTheKey) {
  for (const char* url : {"ftp://x/y", "hooks.slack.com/x", "https://", "http:///path",
                          "https://user:pw@host/x", "http://host:99999/x", "http://ho st/x"}) {
    auto e =
        parse_err(std::string("notify:\n  targets:\n    s: {kind: slack, url: '") + url + "'}\n");
    EXPECT_NE(e.message.find("cfg.yaml: notify.targets.s.url: "), std::string::npos)
        << url << ": " << e.message;
  }
  auto e = parse_err("notify:\n  base_url: dagmedic.local\n");
  EXPECT_NE(e.message.find("notify.base_url: must be an http:// or https:// URL"),
            std::string::npos)
      << e.message;
}

TEST(NotifySection, UnknownKindAndKeysAreRefused) {
  auto e = parse_err("notify:\n  targets:\n    x: {kind: email, url: 'https://a/b'}\n");
  EXPECT_NE(e.message.find("notify.targets.x.kind: unknown kind \"email\""), std::string::npos)
      << e.message;
  e = parse_err("notify:\n  targets:\n    x: {url: 'https://a/b'}\n");
  EXPECT_NE(e.message.find("notify.targets.x.kind: is required"), std::string::npos);
  e = parse_err("notify:\n  targets:\n    x: {kind: slack, url: 'https://a/b', channel: c}\n");
  EXPECT_NE(e.message.find("notify.targets.x.channel: unknown key"), std::string::npos);
  e = parse_err("notify:\n  retries: 3\n");
  EXPECT_NE(e.message.find("notify.retries: unknown key"), std::string::npos);
  e = parse_err("notify:\n  targets:\n    x: {kind: slack}\n");
  EXPECT_NE(e.message.find("notify.targets.x.url: is required"), std::string::npos);
}

TEST(NotifySection, SecretsComeFromTheEnvironmentOnly) {
  auto e = parse_err("notify:\n  targets:\n    j: {kind: json, url: 'https://a/b', secret: k}\n");
  EXPECT_NE(e.message.find("notify.targets.j.secret: literal secrets are not allowed"),
            std::string::npos)
      << e.message;
  e = parse_err(
      "notify:\n  targets:\n    p: {kind: pagerduty, url: 'https://a/b', routing_key: k}\n");
  EXPECT_NE(e.message.find("notify.targets.p.routing_key: literal secrets"), std::string::npos);
  e = parse_err("notify:\n  targets:\n    j: {kind: json, url: 'https://a/b'}\n");
  EXPECT_NE(e.message.find("notify.targets.j.secret_env: is required for kind json"),
            std::string::npos);
  e = parse_err("notify:\n  targets:\n    p: {kind: pagerduty, url: 'https://a/b'}\n");
  EXPECT_NE(e.message.find("notify.targets.p.routing_key_env: is required"), std::string::npos);
  e = parse_err(
      "notify:\n  targets:\n    j: {kind: json, url: 'https://a/b', secret_env: 'not a var'}\n");
  EXPECT_NE(e.message.find("must be an environment variable name"), std::string::npos);
}

TEST(NotifySection, RangesAreChecked) {
  auto e = parse_err("notify:\n  max_attempts: 0\n");
  EXPECT_NE(e.message.find("notify.max_attempts: must be between 1 and 100, got 0"),
            std::string::npos)
      << e.message;
  e = parse_err("notify:\n  backoff_initial_seconds: 100\n  backoff_max_seconds: 10\n");
  EXPECT_NE(e.message.find("notify.backoff_max_seconds: must be at least"), std::string::npos);
  e = parse_err(
      "notify:\n  targets:\n    s: {kind: slack, url: 'https://a/b', timeout_seconds: 0}\n");
  EXPECT_NE(e.message.find("notify.targets.s.timeout_seconds: must be between 1 and 300"),
            std::string::npos);
}

}  // namespace
}  // namespace dm::config
