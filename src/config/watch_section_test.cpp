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
    EXPECT_TRUE(c->watch.enabled_for("prod"));
    EXPECT_TRUE(c->watch.enabled_for("dev"));
  }
}

TEST(WatchSection, EveryKey) {
  auto c = parse_config(std::string(kEnvs) +
                            "watch:\n"
                            "  interval_seconds: 30\n"
                            "  overlap_seconds: 0\n"
                            "  initial_lookback_minutes: 1440\n"
                            "  max_runs_per_cycle: 7\n"
                            "  environments:\n"
                            "    dev: {enabled: false}\n"
                            "    prod: {enabled: true}\n",
                        "cfg.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->watch.interval_seconds, 30);
  EXPECT_EQ(c->watch.overlap_seconds, 0);
  EXPECT_EQ(c->watch.initial_lookback_minutes, 1440);
  EXPECT_EQ(c->watch.max_runs_per_cycle, 7);
  EXPECT_FALSE(c->watch.enabled_for("dev"));
  EXPECT_TRUE(c->watch.enabled_for("prod"));
}

TEST(WatchSection, ErrorsNameTheKey) {
  const std::string e = kEnvs;
  EXPECT_NE(parse_err(e + "watch: 5\n").message.find("cfg.yaml: watch: must be a mapping"),
            std::string::npos);
  EXPECT_NE(parse_err(e + "watch: {interval: 5}\n").message.find("watch.interval: unknown key"),
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

}  // namespace
}  // namespace dm::config
