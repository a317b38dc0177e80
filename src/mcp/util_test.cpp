// URI templates, schema validation.
#include <gtest/gtest.h>

#include <vector>

#include "mcp/schema_validator.h"
#include "mcp/uri_template.h"

namespace dm::mcp {
namespace {

using nlohmann::json;

TEST(UriTemplateTest, MatchesLevelOne) {
  auto t = UriTemplate::parse("test://template/{id}/data");
  ASSERT_TRUE(t.ok());
  auto m = t->match("test://template/123/data");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("id"), "123");
  EXPECT_FALSE(t->match("test://template//data"));
  EXPECT_FALSE(t->match("test://template/1/2/data"));
  EXPECT_FALSE(t->match("test://template/123/data/x"));
  EXPECT_FALSE(t->match("other://template/123/data"));
  auto two = UriTemplate::parse("dag://{dag}/runs/{run}");
  ASSERT_TRUE(two.ok());
  auto m2 = two->match("dag://etl/runs/manual__2024%3A01");
  ASSERT_TRUE(m2);
  EXPECT_EQ(m2->at("dag"), "etl");
  EXPECT_EQ(m2->at("run"), "manual__2024:01");
}

TEST(UriTemplateTest, RejectsMalformed) {
  for (const char* bad : {"a/{", "a/}", "a/{}", "a/{x}{y}", "a/{x}/{x}", "a/{+x}", "a/{?q}"}) {
    EXPECT_FALSE(UriTemplate::parse(bad).ok()) << bad;
  }
}

TEST(SchemaValidatorTest, NamesNestedFields) {
  auto v = SchemaValidator::compile(
      {{"type", "object"},
       {"properties",
        {{"conf",
          {{"type", "object"},
           {"properties", {{"retries", {{"type", "integer"}, {"minimum", 0}}}}}}},
         {"tasks", {{"type", "array"}, {"items", {{"type", "string"}}}}}}},
       {"additionalProperties", false}});
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE((*v)->validate({{"conf", {{"retries", 2}}}, {"tasks", {"a"}}}));
  auto e1 = (*v)->validate({{"conf", {{"retries", -1}}}});
  ASSERT_TRUE(e1);
  EXPECT_NE(e1->find("arguments.conf.retries"), std::string::npos) << *e1;
  auto e2 = (*v)->validate({{"tasks", {"a", 5}}});
  ASSERT_TRUE(e2);
  EXPECT_NE(e2->find("arguments.tasks[1]"), std::string::npos) << *e2;
  auto e3 = (*v)->validate({{"surprise", 1}});
  ASSERT_TRUE(e3);
  EXPECT_NE(e3->find("surprise"), std::string::npos) << *e3;
}

TEST(SchemaValidatorTest, Keeps2020KeywordsAndResolvesDefs) {
  auto v = SchemaValidator::compile({{"$schema", "https://json-schema.org/draft/2020-12/schema"},
                                     {"type", "object"},
                                     {"$defs",
                                      {{"addr",
                                        {{"$anchor", "a"},
                                         {"type", "object"},
                                         {"properties", {{"city", {{"type", "string"}}}}}}}}},
                                     {"properties", {{"address", {{"$ref", "#/$defs/addr"}}}}}});
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_FALSE((*v)->validate({{"address", {{"city", "Paris"}}}}));
  EXPECT_TRUE((*v)->validate({{"address", {{"city", 7}}}}));
}

TEST(SchemaValidatorTest, BadSchemaIsAnErrorNotACrash) {
  EXPECT_FALSE(SchemaValidator::compile(json::array()).ok());
  EXPECT_FALSE(SchemaValidator::compile({{"type", 12}}).ok());
  EXPECT_FALSE(SchemaValidator::compile({{"$ref", "#/nowhere"}}).ok());
}

}  // namespace
}  // namespace dm::mcp
