// rules: section — the user's rule files.
#include <gtest/gtest.h>

#include "config/config.h"

namespace dm::config {
namespace {

TEST(RulesSection, NoSectionMeansBuiltInRulesOnly) {
  auto c = parse_config("version: 1\n", "/etc/dagmedic/config.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->rules.redaction.empty());
  EXPECT_TRUE(c->rules.categories.empty());
}

TEST(RulesSection, PathsAreTakenFromTheConfigFilesFolder) {
  auto c = parse_config(
      "rules:\n"
      "  redaction: [ours.yaml, /abs/more.yaml, ../shared/r.yaml]\n"
      "  categories: cats.yaml\n",  // one file may be given as a string
      "/etc/dagmedic/config.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->rules.redaction, (std::vector<std::string>{"/etc/dagmedic/ours.yaml",
                                                          "/abs/more.yaml", "/etc/shared/r.yaml"}));
  EXPECT_EQ(c->rules.categories, (std::vector<std::string>{"/etc/dagmedic/cats.yaml"}));
}

TEST(RulesSection, ErrorsNameTheKey) {
  struct {
    const char* yaml;
    const char* needle;
  } bad[] = {
      {"rules: [a.yaml]\n", "rules: must be a mapping"},
      {"rules: {redact: [a.yaml]}\n", "rules.redact: unknown key"},
      {"rules: {redaction: {a: b}}\n", "rules.redaction: must be a list of strings"},
      {"rules: {categories: ['']}\n", "rules.categories[0]: must name a file"},
  };
  for (const auto& b : bad) {
    auto c = parse_config(b.yaml, "cfg.yaml");
    ASSERT_FALSE(c.ok()) << b.yaml;
    EXPECT_NE(c.error().message.find(b.needle), std::string::npos) << c.error().message;
  }
}

}  // namespace
}  // namespace dm::config
