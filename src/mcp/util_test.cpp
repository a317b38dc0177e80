// URI templates, schema validation.
#include <gtest/gtest.h>

#include <vector>

#include "mcp/schema_dialect.h"
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

// ---- JSON Schema 2020-12 (schema_dialect.h): each rewritten keyword is enforced ----

std::shared_ptr<const SchemaValidator> compiled(const json& schema) {
  auto v = SchemaValidator::compile(schema);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message) << " for " << schema.dump();
  return v.ok() ? *v : nullptr;
}

TEST(SchemaDialectTest, PrefixItemsAndItemsAreATupleThenTheRest) {
  auto v = compiled({{"type", "array"},
                     {"prefixItems", {{{"type", "string"}}, {{"type", "integer"}}}},
                     {"items", {{"type", "boolean"}}}});
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->validate(json::array({"a", 1, true, false})));
  EXPECT_TRUE(v->validate(json::array({1, "a"})));          // tuple order
  EXPECT_TRUE(v->validate(json::array({"a", 1, "more"})));  // the rest must be booleans
  auto closed = compiled({{"prefixItems", {{{"type", "string"}}}}, {"items", false}});
  ASSERT_TRUE(closed);
  EXPECT_FALSE(closed->validate(json::array({"a"})));
  EXPECT_TRUE(closed->validate(json::array({"a", "b"})));
}

TEST(SchemaDialectTest, DependentRequiredAndDependentSchemasAreEnforced) {
  auto v = compiled({{"type", "object"},
                     {"dependentRequired", {{"card", {"cvv"}}}},
                     {"dependentSchemas", {{"env", {{"required", {"dag"}}}}}}});
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->validate({{"card", 1}, {"cvv", 2}}));
  EXPECT_TRUE(v->validate({{"card", 1}}));
  EXPECT_TRUE(v->validate({{"env", "prod"}}));
  EXPECT_FALSE(v->validate({{"env", "prod"}, {"dag", "etl"}}));
  // Both on the same property: both apply.
  auto both = compiled({{"dependentRequired", {{"a", {"b"}}}},
                        {"dependentSchemas", {{"a", {{"required", {"c"}}}}}}});
  ASSERT_TRUE(both);
  EXPECT_TRUE(both->validate({{"a", 1}, {"b", 1}}));
  EXPECT_TRUE(both->validate({{"a", 1}, {"c", 1}}));
  EXPECT_FALSE(both->validate({{"a", 1}, {"b", 1}, {"c", 1}}));
}

TEST(SchemaDialectTest, KeywordsBesideARefApplyAsIn2020) {
  auto v = compiled({{"$defs", {{"name", {{"type", "string"}}}}},
                     {"properties", {{"who", {{"$ref", "#/$defs/name"}, {"maxLength", 3}}}}}});
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->validate({{"who", "bob"}}));
  EXPECT_TRUE(v->validate({{"who", "alice"}}));  // draft 7 alone would ignore maxLength
  EXPECT_TRUE(v->validate({{"who", 7}}));
}

TEST(SchemaDialectTest, RefsToAnchorsResolve) {
  auto v = compiled({{"$defs", {{"addr", {{"$anchor", "address"}, {"required", {"city"}}}}}},
                     {"properties", {{"home", {{"$ref", "#address"}}}}}});
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->validate({{"home", {{"city", "Oslo"}}}}));
  EXPECT_TRUE(v->validate({{"home", json::object()}}));
  EXPECT_FALSE(SchemaValidator::compile({{"properties", {{"x", {{"$ref", "#nowhere"}}}}}}).ok());
}

TEST(SchemaDialectTest, KeywordsItCannotEnforceAreRefusedNotIgnored) {
  for (const json& bad :
       {json{{"unevaluatedProperties", false}}, json{{"unevaluatedItems", false}},
        json{{"contains", {{"type", "string"}}}, {"minContains", 2}},
        json{{"properties", {{"deep", {{"maxContains", 1}}}}}}, json{{"$dynamicRef", "#meta"}},
        json{{"items", json::array({{{"type", "string"}}})}}}) {
    auto v = SchemaValidator::compile(bad);
    ASSERT_FALSE(v.ok()) << bad.dump();
    EXPECT_NE(v.error().message.find("not supported"), std::string::npos) << v.error().message;
  }
  auto deep = SchemaValidator::compile({{"properties", {{"deep", {{"maxContains", 1}}}}}});
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.error().message.find("#/properties/deep"), std::string::npos)
      << deep.error().message;
}

TEST(SchemaDialectTest, ADraft7SchemaKeepsDraft7Meaning) {
  // A draft-07 `items` array is a tuple there, not an error.
  auto v = compiled({{"$schema", "http://json-schema.org/draft-07/schema#"},
                     {"items", json::array({{{"type", "string"}}})},
                     {"additionalItems", false}});
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->validate(json::array({"a"})));
  EXPECT_TRUE(v->validate(json::array({"a", "b"})));
}

TEST(SchemaDialectTest, FindKeywordLooksAtSchemasNotPropertyNames) {
  const json item = {{"type", "string"}, {"format", "date"}};
  const json list = {{"prefixItems", json::array({item})}};
  const json s = {{"properties", {{"format", {{"type", "string"}}}, {"list", list}}}};
  auto at = find_keyword(s, "format");
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, "/properties/list/prefixItems/0");
  const json plain = {{"properties", {{"format", {{"type", "string"}}}}}};
  EXPECT_FALSE(find_keyword(plain, "format"));
}

TEST(SchemaDialectTest, FormatIsAnAnnotation) {
  // 2020-12's default: `format` annotates and does not assert.
  auto v = compiled({{"type", "string"}, {"format", "email"}});
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->validate("not an email"));
}

TEST(SchemaValidatorTest, HugeStringsAgainstAPatternNeitherCrashNorSlipThrough) {
  // A backtracking std::regex overflows the stack on ~100 000 characters; this must not.
  auto v = compiled({{"type", "object"},
                     {"properties", {{"id", {{"type", "string"}, {"pattern", "^[a-z]+$"}}}}}});
  ASSERT_TRUE(v);
  const std::string big(3u << 20, 'a');
  EXPECT_FALSE(v->validate({{"id", big}}));
  auto bad = v->validate({{"id", big + "!"}});
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("arguments.id"), std::string::npos) << *bad;
}

TEST(SchemaValidatorTest, PatternPropertiesCapPropertyNames) {
  auto v = compiled(
      {{"type", "object"}, {"patternProperties", {{"^x_[a-z]+$", {{"type", "integer"}}}}}});
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->validate({{"x_ok", 1}}));
  EXPECT_TRUE(v->validate({{"x_ok", "one"}}));
  auto long_key = v->validate({{"x_" + std::string(200000, 'a'), 1}});
  ASSERT_TRUE(long_key);
  EXPECT_NE(long_key->find("property name"), std::string::npos) << *long_key;
}

TEST(SchemaValidatorTest, ABackReferencePatternIsRefusedAtCompile) {
  auto v = SchemaValidator::compile({{"type", "string"}, {"pattern", "^(a+)\\1$"}});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("back-reference"), std::string::npos) << v.error().message;
}

TEST(SchemaValidatorTest, BadSchemaIsAnErrorNotACrash) {
  EXPECT_FALSE(SchemaValidator::compile(json::array()).ok());
  EXPECT_FALSE(SchemaValidator::compile({{"type", 12}}).ok());
  EXPECT_FALSE(SchemaValidator::compile({{"$ref", "#/nowhere"}}).ok());
}

}  // namespace
}  // namespace dm::mcp
