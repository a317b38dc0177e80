#include "runbook/tool_args.h"

#include <gtest/gtest.h>

#include "mcp/schema_validator.h"

namespace dm::runbook {
namespace {

struct Inner {
  std::string name;
  std::optional<bool> ready;
};
struct In : WithEnvironment {
  std::string dag_id, note;
  long long lines = 0;
  std::optional<int> try_number;
  std::optional<json> conf;
  std::optional<std::vector<std::string>> ids;
  std::optional<Inner> inner;
};

Args<In> declare() {
  Args<Inner> inner;
  inner.text("name", &Inner::name, rules::one_of({"a", "b"}), "which", Need::required)
      .boolean("ready", &Inner::ready, "landed?");
  Args<In> a;
  a.text("dag_id", &In::dag_id, rules::dag_id(), "DAG id", Need::required)
      .text("note", &In::note, rules::prose(1, 5), "short")
      .integer("lines", &In::lines, {1, 500}, "how many", 200)
      .integer("try_number", &In::try_number, {1, 1000}, "try")
      .object("conf", &In::conf, "conf")
      .list("ids", &In::ids, rules::task_id(), 2, "ids")
      .nested("inner", &In::inner, std::move(inner), "inner");
  return a;
}

TEST(ToolArgs, SchemaComesFromTheDeclaration) {
  const json s = declare().schema();
  EXPECT_EQ(s["type"], "object");
  EXPECT_EQ(s["additionalProperties"], false);
  EXPECT_EQ(s["required"], json::array({"dag_id"}));
  const json& p = s["properties"];
  ASSERT_TRUE(p.contains("environment"));  // from WithEnvironment, undeclared
  EXPECT_EQ(p["dag_id"]["pattern"], "^[A-Za-z0-9_.-]+$");
  EXPECT_EQ(p["dag_id"]["maxLength"], 250);
  EXPECT_EQ(p["lines"]["default"], 200);
  EXPECT_EQ(p["lines"]["maximum"], 500);
  EXPECT_FALSE(p["try_number"].contains("default"));
  EXPECT_EQ(p["ids"]["maxItems"], 2);
  EXPECT_EQ(p["ids"]["items"]["pattern"], "^[A-Za-z0-9_.-]+$");
  EXPECT_EQ(p["inner"]["required"], json::array({"name"}));
  EXPECT_FALSE(p["inner"]["properties"].contains("environment"));
  EXPECT_EQ(p["inner"]["properties"]["name"]["enum"], json::array({"a", "b"}));
  EXPECT_EQ(p["note"]["description"], "short");
}

TEST(ToolArgs, ParsesTypedValuesAndDefaults) {
  auto in = declare().parse({{"dag_id", "etl.daily"},
                             {"environment", "prod"},
                             {"try_number", 3},
                             {"conf", {{"k", 1}}},
                             {"ids", {"t1", "t2"}},
                             {"inner", {{"name", "b"}, {"ready", false}}}});
  ASSERT_TRUE(in) << in.error().message;
  EXPECT_EQ(in->dag_id, "etl.daily");
  EXPECT_EQ(in->environment, "prod");
  EXPECT_EQ(in->lines, 200);  // the declared default
  EXPECT_EQ(in->try_number, 3);
  EXPECT_EQ((*in->conf)["k"], 1);
  EXPECT_EQ(in->ids->size(), 2u);
  ASSERT_TRUE(in->inner);
  EXPECT_EQ(in->inner->name, "b");
  EXPECT_EQ(in->inner->ready, false);  // explicitly false is kept apart from absent

  auto bare = declare().parse({{"dag_id", "d"}});
  ASSERT_TRUE(bare);
  EXPECT_FALSE(bare->try_number);
  EXPECT_FALSE(bare->inner);
  EXPECT_EQ(bare->environment, "");
  EXPECT_TRUE(declare().parse({{"dag_id", "d"}, {"lines", 7.0}}));  // 7.0 is an integer in JSON
}

TEST(ToolArgs, RefusesWhatTheRuleRefusesNamingTheArgument) {
  const auto a = declare();
  auto error_of = [&](const json& args) {
    auto r = a.parse(args);
    return r ? std::string("accepted") : r.error().message;
  };
  EXPECT_EQ(error_of(json::object()), "argument 'dag_id' is required");
  EXPECT_EQ(error_of(json::array()), "argument 'arguments' must be an object");
  EXPECT_EQ(error_of(nullptr), "argument 'dag_id' is required");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"x", 1}}), "argument 'x' is not an argument of this tool");
  EXPECT_EQ(error_of({{"dag_id", 5}}), "argument 'dag_id' must be a string");
  EXPECT_EQ(error_of({{"dag_id", "a/b"}}), "argument 'dag_id' must match ^[A-Za-z0-9_.-]+$");
  EXPECT_EQ(error_of({{"dag_id", std::string(251, 'a')}}),
            "argument 'dag_id' must have at most 250 characters");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"note", ""}}),
            "argument 'note' must have at least 1 characters");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"lines", 0}}),
            "argument 'lines' must be between 1 and 500");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"lines", 18446744073709551615ULL}}),
            "argument 'lines' must be at most 500");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"lines", 1.5}}), "argument 'lines' must be an integer");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"lines", "7"}}), "argument 'lines' must be an integer");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"conf", "{}"}}), "argument 'conf' must be an object");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"ids", {"a", "b", "c"}}}),
            "argument 'ids' must have at most 2 items");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"ids", {"ok", "no way"}}}),
            "argument 'ids' item 1 must match ^[A-Za-z0-9_.-]+$");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"inner", {{"name", "c"}}}}),
            "argument 'inner' argument 'name' must be one of: a, b");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"inner", {{"ready", true}}}}),
            "argument 'inner' argument 'name' is required");
  EXPECT_EQ(error_of({{"dag_id", "d"}, {"environment", "has space"}}),
            "argument 'environment' must match ^[^\\s\"']+$");
}

TEST(ToolArgs, LengthsCountCharactersAsJsonSchemaDoes) {
  // Five two-byte characters: 10 bytes, 5 characters, within prose(1, 5).
  EXPECT_TRUE(declare().parse({{"dag_id", "d"}, {"note", "ééééé"}}));
  EXPECT_FALSE(declare().parse({{"dag_id", "d"}, {"note", "éééééé"}}));
}

// The schema and the parser are one rule: a sample of values, each judged by the JSON Schema
// validator and by parse(), gets the same verdict from both.
TEST(ToolArgs, SchemaValidatorAndParserAgree) {
  const auto a = declare();
  auto validator = mcp::SchemaValidator::compile(a.schema());
  ASSERT_TRUE(validator);
  const std::vector<json> samples = {
      {{"dag_id", "d"}},
      {{"dag_id", ""}},
      {{"dag_id", "a b"}},
      {{"dag_id", ".ok-_9"}},
      {{"dag_id", std::string(250, 'x')}},
      {{"dag_id", std::string(251, 'x')}},
      {{"dag_id", "d"}, {"lines", 500}},
      {{"dag_id", "d"}, {"lines", 501}},
      {{"dag_id", "d"}, {"lines", -3}},
      {{"dag_id", "d"}, {"try_number", 0}},
      {{"dag_id", "d"}, {"note", "12345"}},
      {{"dag_id", "d"}, {"note", "123456"}},
      {{"dag_id", "d"}, {"ids", json::array()}},
      {{"dag_id", "d"}, {"ids", {"a", "b", "c"}}},
      {{"dag_id", "d"}, {"ids", {"a", 1}}},
      {{"dag_id", "d"}, {"inner", {{"name", "a"}}}},
      {{"dag_id", "d"}, {"inner", {{"name", "a"}, {"more", 1}}}},
      {{"dag_id", "d"}, {"inner", {{"name", "a"}, {"ready", "yes"}}}},
      {{"dag_id", "d"}, {"environment", "prod"}},
      {{"dag_id", "d"}, {"environment", ""}},
      {{"dag_id", "d"}, {"environment", "it's"}},
      {{"dag_id", "d"}, {"conf", json::array()}},
      {{"dag_id", "d"}, {"unknown", true}},
  };
  for (const auto& s : samples) {
    const bool schema_ok = !(*validator)->validate(s).has_value();
    const bool parse_ok = static_cast<bool>(a.parse(s));
    EXPECT_EQ(schema_ok, parse_ok) << s.dump();
  }
}

}  // namespace
}  // namespace dm::runbook
