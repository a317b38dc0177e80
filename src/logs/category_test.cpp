// Categories: builtin rules on the corpora, user rules first, clear errors on bad rule files.
#include "logs/category.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "dm_test_paths.h"
#include "logs/test_corpus.h"

namespace dm::logs {
namespace {

std::shared_ptr<const Categorizer> builtin() {
  static const auto c = Categorizer::builtin();
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  return c.ok() ? c.value() : nullptr;
}

Category of_log(const Categorizer& c, const std::string& text) {
  auto x = extract_errors(text);
  const ExtractedError* e = x.primary_error();
  EXPECT_NE(e, nullptr);
  if (!e) return {};
  Signature s = signature_of(*e);
  return c.categorize(e, &s);
}

Category of(const Categorizer& c, ErrorKind k, const std::string& type, const std::string& msg) {
  ExtractedError e;
  e.kind = k;
  e.exception_type = type;
  e.message = msg;
  Signature s = signature_of(e);
  return c.categorize(&e, &s);
}

TEST(Category, BuiltinRulesLoadFromTheEmbeddedFile) {
  auto c = builtin();
  ASSERT_TRUE(c);
  EXPECT_GE(c->rule_count(), 20u);
}

TEST(Category, CorporaLandInTheRightCategory) {
  auto c = builtin();
  ASSERT_TRUE(c);
  struct {
    const char* file;
    const char* category;
  } cases[] = {
      {"airflow2_keyerror.log", "schema_drift"},
      {"airflow3_keyerror.jsonl", "schema_drift"},
      {"airflow2_bash_psycopg.log", "missing_upstream_data"},
      {"airflow2_chained.log", "schema_drift"},
      {"spark_submit.log", "missing_upstream_data"},
      {"pyspark_py4j.log", "schema_drift"},
      {"sql_engines.log", "permissions"},
      {"mysql_cli.log", "missing_upstream_data"},
      {"snowflake.log", "missing_upstream_data"},
      {"bigquery.log", "schema_drift"},
      {"shell_exit.log", "dependency_or_import"},
      {"oom_airflow2.log", "resource_exhaustion"},
      {"airflow3_oom.jsonl", "resource_exhaustion"},
      {"airflow3_stderr_traceback.jsonl", "dependency_or_import"},
      {"memoryerror.log", "resource_exhaustion"},
  };
  for (const auto& k : cases) {
    Category cat = of_log(*c, corpus(k.file));
    EXPECT_EQ(cat.name, k.category) << k.file << " (rule " << cat.rule_id << ")";
    EXPECT_FALSE(cat.action.empty());
    EXPECT_FALSE(cat.reason.empty());
  }
}

TEST(Category, EveryCategoryIsReachable) {
  auto c = builtin();
  ASSERT_TRUE(c);
  const ErrorKind py = ErrorKind::python_exception;
  EXPECT_EQ(
      of(*c, py, "botocore.exceptions.ClientError",
         "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied")
          .name,
      "permissions");
  EXPECT_EQ(of(*c, py, "AirflowTaskTimeout", "Timeout, PID: 4242").name, "timeout");
  EXPECT_EQ(of(*c, py, "AirflowSensorTimeout", "Sensor has timed out").name,
            "missing_upstream_data");
  EXPECT_EQ(of(*c, py, "requests.exceptions.ConnectionError",
               "HTTPSConnectionPool(host='api.acme.io', port=443): Max retries exceeded")
                .name,
            "network");
  EXPECT_EQ(
      of(*c, py, "psycopg2.OperationalError", "could not connect to server: Connection refused")
          .name,
      "network");
  EXPECT_EQ(of(*c, py, "botocore.exceptions.ClientError",
               "An error occurred (ThrottlingException) when calling the PutRecord operation: "
               "Rate exceeded")
                .name,
            "quota_or_throttling");
  EXPECT_EQ(of(*c, py, "TypeError", "unsupported operand type(s) for +: 'int' and 'str'").name,
            "code_bug");
  EXPECT_EQ(of(*c, py, "ModuleNotFoundError", "No module named 'pandas_gbq'").name,
            "dependency_or_import");
  EXPECT_EQ(of(*c, ErrorKind::error_line, "", "something odd happened").name, "unknown");
  EXPECT_EQ(c->categorize(nullptr, nullptr).name, "unknown");
  Category u = c->categorize(nullptr, nullptr);
  EXPECT_EQ(u.action, "escalate");
  EXPECT_EQ(u.risk, "high");
  EXPECT_TRUE(u.rule_id.empty());
}

// Data that never arrived is missing upstream data; a message a broker did not deliver is not.
TEST(Category, UndeliveredFeedsAndAbsentMarkersAreMissingUpstreamData) {
  auto c = builtin();
  ASSERT_TRUE(c);
  const ErrorKind py = ErrorKind::python_exception;
  for (const char* msg :
       {"vendor price feed not delivered: readiness marker recoverable/READY is absent",
        "The daily export has not yet arrived in s3://landing/",
        "success flag _SUCCESS is missing for partition"}) {
    Category k = of(*c, py, "RuntimeError", msg);
    EXPECT_EQ(k.name, "missing_upstream_data") << msg;
    EXPECT_EQ(k.action, "wait_for_upstream") << msg;
  }
  EXPECT_NE(of(*c, py, "KafkaError", "Message not delivered: broker transport failure").name,
            "missing_upstream_data");
}

TEST(Category, UserRulesComeFirstAndOverrideDefaults) {
  auto text = std::string(
      "categories:\n"
      "  code_bug:\n"
      "    action: escalate\n"
      "    risk: high\n"
      "    reason: our policy\n"
      "rules:\n"
      "  - id: team-keyerror-is-a-bug\n"
      "    category: code_bug\n"
      "    types: [KeyError]\n"
      "    message: customer_id\n");
  std::string path = std::string(DM_BINARY_DIR) + "/category_test_user_rules.yaml";
  {
    std::ofstream f(path);
    f << text;
  }
  auto c = Categorizer::builtin_plus_files({path});
  ASSERT_TRUE(c.ok()) << c.error().message;
  Category k = of(*c.value(), ErrorKind::python_exception, "KeyError", "'customer_id'");
  EXPECT_EQ(k.name, "code_bug");
  EXPECT_EQ(k.rule_id, "team-keyerror-is-a-bug");
  EXPECT_EQ(k.action, "escalate");
  EXPECT_EQ(k.reason, "our policy");
  // Other KeyErrors still follow the builtin rule.
  EXPECT_EQ(of(*c.value(), ErrorKind::python_exception, "KeyError", "'order_id'").name,
            "schema_drift");
  std::remove(path.c_str());
}

TEST(Category, SignatureConditions) {
  auto c =
      Categorizer::from_yaml({"rules:\n"
                              "  - id: by-sig\n"
                              "    category: timeout\n"
                              "    signature: '^ShellExit: .*exit code 3\\)'\n"});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(of(*c.value(), ErrorKind::shell_exit, "", "psql failed (exit code 3)").name, "timeout");
  EXPECT_EQ(of(*c.value(), ErrorKind::shell_exit, "", "psql failed (exit code 4)").name, "unknown");
}

TEST(Category, BadRuleFilesAreClearErrors) {
  struct {
    const char* yaml;
    const char* needle;
  } bad[] = {
      {"rules: [", "categories file"},
      {"rules:\n  - category: timeout\n    types: [X]\n", "no id"},
      {"rules:\n  - id: a\n    category: nope\n    types: [X]\n", "unknown category 'nope'"},
      {"rules:\n  - id: b\n    category: timeout\n", "states no condition"},
      {"rules:\n  - id: c\n    category: timeout\n    kinds: [bogus]\n", "unknown kind"},
      {"rules:\n  - id: d\n    category: timeout\n    message: '(unclosed'\n", "rule d: bad regex"},
      {"categories:\n  timeout:\n    risk: extreme\n", "risk must be"},
      {"- just\n- a list\n", "mapping"},
  };
  for (const auto& b : bad) {
    auto c = Categorizer::from_yaml({b.yaml});
    ASSERT_FALSE(c.ok()) << b.yaml;
    EXPECT_EQ(c.error().code, Errc::invalid_argument);
    EXPECT_NE(c.error().message.find(b.needle), std::string::npos) << c.error().message;
  }
  auto missing = Categorizer::builtin_plus_files({"/nonexistent/categories.yaml"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

}  // namespace
}  // namespace dm::logs
