#include "common/json_shape.h"

#include <gtest/gtest.h>

namespace dm::shape {
namespace {

struct Inner {
  std::string name;
  int n = 0;
  template <class V>
  void fields(V& v) const {
    v.field("name", name, "A name");
    v.field("n", n, "");
  }
};

struct Base {
  std::string id;
  template <class V>
  void fields(V& v) const {
    v.field("id", id, "Id");
  }
};

struct Outer {
  Base base;
  std::string text;
  bool flag = false;
  std::int64_t big = 0;
  double ratio = 0;
  std::optional<double> maybe_null;
  std::optional<int> omitted;
  std::optional<Inner> nullable_inner;
  std::vector<std::string> words;
  std::vector<Inner> inners;
  std::map<std::string, int> counts;
  json anything;
  Object facts;
  std::string severity = "sev3";
  std::string raw_date = "2026-01-02";
  template <class V>
  void fields(V& v) const {
    v.flatten(base);
    v.field("text", text, "Text");
    v.field("flag", flag, "Flag");
    v.field("big", big, "Big");
    v.field("ratio", ratio, "Ratio");
    v.field("maybe_null", maybe_null, "Nullable");
    v.maybe("omitted", omitted, "Omitted when empty");
    v.field("nullable_inner", nullable_inner, "Nullable object");
    v.field("words", words, "Words");
    v.field("inners", inners, "Inners");
    v.field("counts", counts, "Counts");
    v.field("anything", anything, "Any");
    v.field("facts", facts, "Facts");
    v.one_of("severity", severity, {"sev1", "sev2", "sev3"}, "Severity");
    v.field("computed", raw_date + "Z", "Computed");
  }
};

TEST(JsonShape, SchemaFollowsTheDeclaredTypes) {
  json s = schema<Outer>();
  EXPECT_EQ(s["type"], "object");
  const json& p = s["properties"];
  EXPECT_EQ(p["id"]["type"], "string");
  EXPECT_EQ(p["id"]["description"], "Id");
  EXPECT_EQ(p["flag"]["type"], "boolean");
  EXPECT_EQ(p["big"]["type"], "integer");
  EXPECT_EQ(p["ratio"]["type"], "number");
  EXPECT_EQ(p["maybe_null"]["type"], json::array({"number", "null"}));
  EXPECT_EQ(p["omitted"]["type"], "integer");
  EXPECT_EQ(p["nullable_inner"]["type"], json::array({"object", "null"}));
  EXPECT_EQ(p["nullable_inner"]["properties"]["name"]["description"], "A name");
  EXPECT_FALSE(p["nullable_inner"]["properties"]["n"].contains("description"));
  EXPECT_EQ(p["words"]["items"]["type"], "string");
  EXPECT_EQ(p["inners"]["items"]["required"], json::array({"name", "n"}));
  EXPECT_EQ(p["counts"]["additionalProperties"]["type"], "integer");
  EXPECT_EQ(p["anything"], (json{{"description", "Any"}}));
  EXPECT_EQ(p["facts"]["type"], "object");
  EXPECT_EQ(p["severity"]["enum"], json::array({"sev1", "sev2", "sev3"}));
  EXPECT_EQ(p["computed"]["type"], "string");
  // Every field but the one declared with maybe() is required.
  EXPECT_EQ(s["required"].size(), p.size() - 1);
  for (const auto& r : s["required"]) EXPECT_NE(r, "omitted");
}

TEST(JsonShape, ValueFollowsTheSameDeclaration) {
  Outer o;
  o.base.id = "x";
  o.text = "t";
  o.flag = true;
  o.big = 1LL << 40;
  o.ratio = 0.5;
  o.inners = {{"a", 1}, {"b", 2}};
  o.counts = {{"failed", 2}};
  o.anything = json::array({1, "two"});
  o.facts.value = {{"k", "v"}};
  json j = to_json(o);
  EXPECT_EQ(j["id"], "x");
  EXPECT_EQ(j["big"], 1LL << 40);
  EXPECT_TRUE(j["maybe_null"].is_null());
  EXPECT_FALSE(j.contains("omitted"));
  EXPECT_TRUE(j["nullable_inner"].is_null());
  EXPECT_EQ(j["inners"][1], (json{{"name", "b"}, {"n", 2}}));
  EXPECT_EQ(j["counts"]["failed"], 2);
  EXPECT_EQ(j["anything"][1], "two");
  EXPECT_EQ(j["facts"]["k"], "v");
  EXPECT_EQ(j["severity"], "sev3");
  EXPECT_EQ(j["computed"], "2026-01-02Z");
  o.omitted = 3;
  o.maybe_null = 1.5;
  o.nullable_inner = Inner{"i", 7};
  j = to_json(o);
  EXPECT_EQ(j["omitted"], 3);
  EXPECT_EQ(j["maybe_null"], 1.5);
  EXPECT_EQ(j["nullable_inner"]["n"], 7);
  // The keys written are exactly the declared properties (with `omitted` now present).
  json s = schema<Outer>();
  EXPECT_EQ(j.size(), s["properties"].size());
  for (const auto& [k, v] : j.items()) EXPECT_TRUE(s["properties"].contains(k)) << k;
}

TEST(JsonShape, ANonObjectObjectFieldIsWrittenAsAnEmptyObject) {
  Object o;
  o.value = json::array({1});
  EXPECT_EQ(to_json(o), json::object());
}

TEST(JsonShape, NullableKeepsAnAnySchemaAndAnExistingNull) {
  EXPECT_EQ(schema<std::optional<json>>(), json::object());
  EXPECT_EQ(schema<std::optional<std::optional<int>>>()["type"], json::array({"integer", "null"}));
}

}  // namespace
}  // namespace dm::shape
