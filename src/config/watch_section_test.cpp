// watch: section (docs/config.md "Watch mode").
#include <gtest/gtest.h>

#include "config/config.h"

namespace dm::config {
namespace {

constexpr const char* kEnvs =
    "environments:\n"
    "  prod: {kind: airflow, url: http://af:8080}\n"
    "  dev: {kind: airflow, url: http://af2:8080}\n";

Error parse_err(const std::string& yaml) {
  auto r = parse_config(yaml, "cfg.yaml");
  EXPECT_FALSE(r.ok()) << yaml;
  return r.ok() ? Error{} : r.error();
}

TEST(WatchSection, DefaultsWhenAbsentOrEmpty) {
  for (const char* extra : {"", "watch:\n"}) {
    auto c = parse_config(std::string(kEnvs) + extra, "cfg.yaml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->watch.interval_seconds, 60);
    EXPECT_EQ(c->watch.overlap_seconds, 300);
    EXPECT_EQ(c->watch.initial_lookback_minutes, 60);
    EXPECT_EQ(c->watch.max_runs_per_cycle, 100);
    EXPECT_EQ(c->watch.recovery_checks_per_cycle, 20);
    EXPECT_TRUE(c->watch.import_errors);
    EXPECT_EQ(c->watch.failed_runs_in_a_row, 3);
    EXPECT_TRUE(c->watch.enabled_for("prod"));
    EXPECT_TRUE(c->watch.enabled_for("dev"));
    EXPECT_FALSE(c->watch.lease.enabled);
    EXPECT_EQ(c->watch.lease.ttl_seconds, 30);
    EXPECT_EQ(c->watch.lease.holder, "");
  }
}

TEST(WatchSection, Lease) {
  auto c = parse_config(std::string(kEnvs) +
                            "watch:\n"
                            "  lease: {enabled: true, ttl_seconds: 5, holder: 'node-a'}\n",
                        "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->watch.lease.enabled);
  EXPECT_EQ(c->watch.lease.ttl_seconds, 5);
  EXPECT_EQ(c->watch.lease.holder, "node-a");
  auto only = parse_config(std::string(kEnvs) + "watch: {lease: {enabled: true}}\n", "cfg.yaml");
  ASSERT_TRUE(only.ok()) << only.error().message;
  EXPECT_TRUE(only->watch.lease.enabled);
  EXPECT_EQ(only->watch.lease.ttl_seconds, 30);
  EXPECT_EQ(only->watch.lease.holder, "");
  const std::string e = kEnvs;
  EXPECT_NE(parse_err(e + "watch: {lease: true}\n").message.find("watch.lease: must be a mapping"),
            std::string::npos);
  EXPECT_NE(
      parse_err(e + "watch: {lease: {ttl: 5}}\n").message.find("watch.lease.ttl: unknown key"),
      std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {lease: {ttl_seconds: 4}}\n")
                .message.find("watch.lease.ttl_seconds: must be between 5 and 3600, got 4"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {lease: {ttl_seconds: 3601}}\n")
                .message.find("watch.lease.ttl_seconds"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {lease: {enabled: sometimes}}\n")
                .message.find("watch.lease.enabled: must be true or false"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {lease: {holder: ''}}\n").message.find("watch.lease.holder"),
            std::string::npos);
}

TEST(WatchSection, EveryKey) {
  auto c = parse_config(std::string(kEnvs) +
                            "watch:\n"
                            "  interval_seconds: 30\n"
                            "  overlap_seconds: 0\n"
                            "  initial_lookback_minutes: 1440\n"
                            "  max_runs_per_cycle: 7\n"
                            "  recovery_checks_per_cycle: 0\n"
                            "  import_errors: false\n"
                            "  failed_runs_in_a_row: 5\n"
                            "  environments:\n"
                            "    dev: {enabled: false}\n"
                            "    prod: {enabled: true}\n",
                        "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->watch.interval_seconds, 30);
  EXPECT_EQ(c->watch.overlap_seconds, 0);
  EXPECT_EQ(c->watch.initial_lookback_minutes, 1440);
  EXPECT_EQ(c->watch.max_runs_per_cycle, 7);
  EXPECT_EQ(c->watch.recovery_checks_per_cycle, 0);
  EXPECT_FALSE(c->watch.import_errors);
  EXPECT_EQ(c->watch.failed_runs_in_a_row, 5);
  EXPECT_FALSE(c->watch.enabled_for("dev"));
  EXPECT_TRUE(c->watch.enabled_for("prod"));
}

TEST(WatchSection, ErrorsNameTheKey) {
  const std::string e = kEnvs;
  EXPECT_NE(parse_err(e + "watch: 5\n").message.find("cfg.yaml: watch: must be a mapping"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {interval: 5}\n").message.find("watch.interval: unknown key"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {recovery_checks_per_cycle: -1}\n")
                .message.find("watch.recovery_checks_per_cycle: must be between 0 and 10000"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {failed_runs_in_a_row: 1}\n")
                .message.find("watch.failed_runs_in_a_row: must be 0 (off) or at least 2"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {import_errors: maybe}\n").message.find("watch.import_errors"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {interval_seconds: 0}\n")
                .message.find("watch.interval_seconds: must be between 1 and 86400, got 0"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {interval_seconds: soon}\n")
                .message.find("watch.interval_seconds: must be a whole number"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {overlap_seconds: -1}\n").message.find("watch.overlap_seconds"),
            std::string::npos);
  EXPECT_NE(
      parse_err(e + "watch: {max_runs_per_cycle: 0}\n").message.find("watch.max_runs_per_cycle"),
      std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {environments: [prod]}\n")
                .message.find("watch.environments: must be a mapping"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {environments: {prod: {enabled: maybe}}}\n")
                .message.find("watch.environments.prod.enabled: must be true or false"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {environments: {prod: {on: true}}}\n")
                .message.find("watch.environments.prod.on: unknown key"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {environments: {staging: {enabled: true}}}\n")
                .message.find("watch.environments.staging: names an environment that is not"),
            std::string::npos);
}

TEST(WatchSection, FreshnessRules) {
  auto c = parse_config(std::string(kEnvs) +
                            "watch:\n"
                            "  freshness:\n"
                            "    interval_seconds: 120\n"
                            "    rules:\n"
                            "      - {dag: \"etl_*\", grace_minutes: 15}\n"
                            "      - {tag: tier=1, grace_minutes: 0, include_paused: false}\n",
                        "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const auto& f = c->watch.freshness;
  EXPECT_EQ(f.interval_seconds, 120);
  ASSERT_EQ(f.rules.size(), 2u);
  EXPECT_EQ(f.rules[0].dag, "etl_*");
  EXPECT_EQ(f.rules[0].grace_minutes, 15);
  EXPECT_TRUE(f.rules[0].include_paused);
  EXPECT_EQ(f.rules[1].dag, "*");
  EXPECT_EQ(f.rules[1].tag, "tier=1");
  EXPECT_FALSE(f.rules[1].include_paused);
  // First match wins; a tag rule needs the tag; no rule, no freshness.
  EXPECT_EQ(f.rule_for("etl_orders", {"tier=1"}), &f.rules[0]);
  EXPECT_EQ(f.rule_for("billing", {"tier=1"}), &f.rules[1]);
  EXPECT_EQ(f.rule_for("billing", {"tier=2"}), nullptr);
  auto none = parse_config(kEnvs, "cfg.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->watch.freshness.rules.empty());

  const std::string e = kEnvs;
  EXPECT_NE(parse_err(e + "watch: {freshness: {rules: [{grace_minutes: 5}]}}\n")
                .message.find("watch.freshness.rules[0]: needs a dag (id or glob) or a tag"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {freshness: {rules: [{dag: x, grace: 5}]}}\n")
                .message.find("watch.freshness.rules[0].grace: unknown key"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {freshness: {interval_seconds: 0}}\n")
                .message.find("watch.freshness.interval_seconds: must be between 1 and 86400"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {freshness: {rules: [{dag: x, grace_minutes: -1}]}}\n")
                .message.find("watch.freshness.rules[0].grace_minutes"),
            std::string::npos);
}

TEST(WatchSection, StuckSettings) {
  auto d = parse_config(kEnvs, "cfg.yaml");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->watch.stuck.enabled);
  EXPECT_EQ(d->watch.stuck.factor, 3);
  EXPECT_EQ(d->watch.stuck.max_seconds, 43200);
  auto c =
      parse_config(std::string(kEnvs) +
                       "watch:\n"
                       "  stuck: {factor: 5, min_seconds: 60, max_seconds: 0, queued_seconds: 0,"
                       " history_days: 30}\n",
                   "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->watch.stuck.factor, 5);
  EXPECT_EQ(c->watch.stuck.min_seconds, 60);
  EXPECT_EQ(c->watch.stuck.max_seconds, 0);
  EXPECT_EQ(c->watch.stuck.queued_seconds, 0);
  EXPECT_EQ(c->watch.stuck.history_days, 30);
  const std::string e = kEnvs;
  EXPECT_NE(parse_err(e + "watch: {stuck: {factor: 0}}\n")
                .message.find("watch.stuck.factor: must be between 1 and 100, got 0"),
            std::string::npos);
  EXPECT_NE(
      parse_err(e + "watch: {stuck: {after: 5}}\n").message.find("watch.stuck.after: unknown key"),
      std::string::npos);
}

}  // namespace
}  // namespace dm::config
