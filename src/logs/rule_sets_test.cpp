#include "logs/rule_sets.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace dm::logs {
namespace {

// A rule file in a fresh temp folder, removed with the fixture.
class RuleSetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dm-rules-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const auto& f : files_) std::remove(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string file(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << text;
    files_.push_back(p);
    return p;
  }
  std::string dir_;
  std::vector<std::string> files_;
};

ExtractedError error_of(ErrorKind kind, std::string type, std::string message) {
  ExtractedError e;
  e.kind = kind;
  e.exception_type = std::move(type);
  e.message = std::move(message);
  return e;
}

TEST_F(RuleSetsTest, NoFilesAreTheBuiltInSets) {
  auto r = load_rule_sets({}, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->redactor, Redactor::builtin().value());
  EXPECT_EQ(r->categorizer->rule_count(), Categorizer::builtin().value()->rule_count());
}

TEST_F(RuleSetsTest, UserFilesExtendTheBuiltInRules) {
  auto red = file("red.yaml",
                  "version: 1\n"
                  "rules:\n"
                  "  - id: acme-token\n"
                  "    pattern: 'acme_[0-9a-f]{16}'\n"
                  "    keywords: [acme_]\n");
  auto cat = file("cat.yaml",
                  "rules:\n"
                  "  - id: acme-quota\n"
                  "    category: quota_or_throttling\n"
                  "    message: 'ACME quota exhausted'\n");
  auto r = load_rule_sets({red}, {cat});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->redactor->rule_count(), Redactor::builtin().value()->rule_count() + 1);
  EXPECT_EQ(r->redactor->redact("got acme_0123456789abcdef and AKIAIOSFODNN7EXAMPLE\n"),
            "got [REDACTED:acme-token] and [REDACTED:aws-access-key-id]\n");  // built-in kept
  auto e = error_of(ErrorKind::python_exception, "RuntimeError", "ACME quota exhausted for x");
  EXPECT_EQ(r->categorizer->categorize(&e, nullptr).rule_id, "acme-quota");
  EXPECT_EQ(r->categorizer->categorize(&e, nullptr).name, "quota_or_throttling");
}

TEST_F(RuleSetsTest, ABadFileIsAnErrorNamingFileAndLine) {
  struct {
    bool redaction;
    const char* text;
    const char* needle;  // after "<file>:"
  } bad[] = {
      {true, "rules:\n  - id: ok\n    pattern: x\n  - id: broken\n", "4: rule 'broken': missing"},
      {true, "rules:\n  - id: a\n    pattern: '(unclosed'\n", "2: rule 'a'"},
      {true, "rules:\n  - id: a\n    pattern: x\n    flags: [z]\n", "2: rule 'a': unknown flag"},
      {true, "rules:\n  - id: a\n    pattern: [x\n", "4: "},  // YAML syntax (at its end)
      {true, "rules:\n  - id: aws-access-key-id\n    pattern: x\n", "2: rule id 'aws-access-"},
      {false,
       "rules:\n  - id: a\n    category: timeout\n    types: [Y]\n  - id: b\n"
       "    category: nope\n    types: [X]\n",
       "5: rule b: unknown category 'nope'"},
      {false, "rules:\n  - id: c\n    category: timeout\n    message: '(unclosed'\n",
       "2: rule c: bad regex"},
      {false, "categories:\n  timeout:\n    risk: extreme\n", "2: category timeout: risk"},
  };
  int n = 0;
  for (const auto& b : bad) {
    auto f = file("bad" + std::to_string(++n) + ".yaml", b.text);
    auto r = b.redaction ? load_rule_sets({f}, {}) : load_rule_sets({}, {f});
    ASSERT_FALSE(r.ok()) << b.text;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << r.error().message;
    EXPECT_NE(r.error().message.find(f + ":" + b.needle), std::string::npos) << r.error().message;
  }
  auto missing = load_rule_sets({}, {dir_ + "/none.yaml"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_NE(missing.error().message.find(dir_ + "/none.yaml"), std::string::npos);
}

}  // namespace
}  // namespace dm::logs
