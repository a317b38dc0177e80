#include "common/yaml_load.h"

#include <gtest/gtest.h>

namespace dm {
namespace {

TEST(LoadOneYamlDocument, BlockAndFlowFilesLoad) {
  EXPECT_EQ(load_one_yaml_document("a: 1\nb: [2, 3]\n")["b"][1].as<int>(), 3);
  EXPECT_EQ(load_one_yaml_document("# comment\n{\"a\": 1}\n# trailing comment\n")["a"].as<int>(),
            1);
  EXPECT_EQ(load_one_yaml_document("---\na: 1\n")["a"].as<int>(), 1);
  EXPECT_TRUE(load_one_yaml_document("").IsNull());
}

// YAML::Load returns {"a": 1} here and drops `recovery` silently.
TEST(LoadOneYamlDocument, TextAfterAFlowMappingIsAnErrorNamingItsLine) {
  const std::string text = "{\"a\": 1}\nrecovery:\n  - {dag: x}\n";
  ASSERT_EQ(YAML::Load(text).size(), 1u);  // the silent loss this guards against
  try {
    load_one_yaml_document(text);
    FAIL() << "accepted two documents";
  } catch (const YAML::ParserException& e) {
    EXPECT_EQ(e.mark.line, 1);  // 0-based: "recovery:" is on line 2
    EXPECT_NE(e.msg.find("more than one YAML document"), std::string::npos) << e.msg;
  }
}

TEST(LoadOneYamlDocument, ExplicitSecondDocumentIsAnError) {
  EXPECT_THROW(load_one_yaml_document("a: 1\n---\nb: 2\n"), YAML::ParserException);
}

TEST(LoadOneYamlDocument, SyntaxErrorsStillThrow) {
  EXPECT_THROW(load_one_yaml_document("{a: 1} b: 2\n"), YAML::Exception);
}

}  // namespace
}  // namespace dm
