// The composed pipeline: redaction first, bounded output, streaming == whole.
#include "logs/pipeline.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "logs/test_corpus.h"
#include "logs/test_rules.h"

namespace dm::logs {
namespace {

std::string dump(const Diagnosis& d) {
  return to_json(d).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(Pipeline, DiagnosesAnAirflowLog) {
  auto d = diagnose(corpus("airflow2_keyerror.log"), testing::builtin_diagnose_options());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->found);
  EXPECT_EQ(d->exception_type, "KeyError");
  EXPECT_EQ(d->error, "KeyError: 'customer_id'");
  EXPECT_EQ(d->error_line, 30u);
  EXPECT_EQ(d->category.name, "schema_drift");
  EXPECT_EQ(d->signature.size(), 12u);
  EXPECT_EQ(d->signature,
            signature_of(ErrorKind::python_exception, "KeyError", "'customer_id'").id);
  EXPECT_EQ(d->tail.total_lines, 35u);
  EXPECT_FALSE(d->tail.truncated);
  EXPECT_GE(d->other_errors, 1u);
  nlohmann::json j = to_json(*d);
  EXPECT_EQ(j["category"], "schema_drift");
  EXPECT_EQ(j["error_line"], 30);
  EXPECT_TRUE(j["lines"].is_array());
}

TEST(Pipeline, SecretsAreRedactedBeforeExtraction) {
  const std::string secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  const std::string key_id = "AKIAIOSFODNN7EXAMPLE";
  std::string log =
      "[2026-01-14, 03:00:05 UTC] {taskinstance.py:3311} ERROR - Task failed with exception\n"
      "Traceback (most recent call last):\n"
      "  File \"/usr/local/airflow/dags/s3copy.py\", line 9, in copy\n"
      "    client = boto3.client('s3', aws_access_key_id='" +
      key_id + "', aws_secret_access_key='" + secret_key +
      "')\n"
      "ValueError: bad credentials postgresql://etl:Sup3rS3cretPw@db.acme.io:5432/dw key=" +
      key_id + "\n";
  auto d = diagnose(log, testing::builtin_diagnose_options());
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->found);
  std::string out = dump(*d);
  EXPECT_EQ(out.find(secret_key), std::string::npos) << out;
  EXPECT_EQ(out.find(key_id), std::string::npos) << out;
  EXPECT_EQ(out.find("Sup3rS3cretPw"), std::string::npos) << out;
  EXPECT_NE(out.find("[REDACTED:"), std::string::npos) << out;
  EXPECT_EQ(d->exception_type, "ValueError");
}

TEST(Pipeline, StreamingInAnyChunksEqualsWhole) {
  std::string text = corpus("spark_submit.log");
  auto whole = diagnose(text, testing::builtin_diagnose_options());
  ASSERT_TRUE(whole.ok());
  for (std::size_t chunk : {1u, 7u, 64u, 4096u}) {
    auto s = DiagnoseStream::create(testing::builtin_diagnose_options());
    ASSERT_TRUE(s.ok());
    for (std::size_t p = 0; p < text.size(); p += chunk) s.value()->feed(text.substr(p, chunk));
    Diagnosis d = s.value()->finish();
    EXPECT_EQ(dump(d), dump(*whole)) << chunk;
  }
}

TEST(Pipeline, OutputStaysUnderItsCap) {
  std::string log;
  for (int k = 0; k < 3000; ++k)
    log += "[2026-01-01, 00:00:00 UTC] {x.py:1} INFO - filler " + std::to_string(k) + "\n";
  log += "Traceback (most recent call last):\n";
  for (int k = 0; k < 300; ++k) {
    log += "  File \"/opt/airflow/dags/deep_" + std::to_string(k) + ".py\", line " +
           std::to_string(k) + ", in f" + std::string(300, 'x') + "\n    " + std::string(900, 'c') +
           "\n";
  }
  log += "RuntimeError: " + std::string(5000, 'm') + "\n";
  DiagnoseOptions opt = testing::builtin_diagnose_options();
  opt.max_output_bytes = 4096;
  auto d = diagnose(log, opt);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->found);
  EXPECT_TRUE(d->tail.truncated);
  EXPECT_EQ(d->tail.tail_lines, 400u);
  EXPECT_LE(dump(*d).size(), 4096u);
  EXPECT_FALSE(d->error.empty());
  EXPECT_EQ(d->exception_type, "RuntimeError");
}

TEST(Pipeline, NothingFoundIsUnknownNotAnError) {
  auto d = diagnose("all good\nstill good\n", testing::builtin_diagnose_options());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->found);
  EXPECT_EQ(d->category.name, "unknown");
  EXPECT_EQ(d->signature, "");
  EXPECT_EQ(d->tail.total_lines, 2u);
  auto e = diagnose("", testing::builtin_diagnose_options());
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->found);
}

}  // namespace
}  // namespace dm::logs
