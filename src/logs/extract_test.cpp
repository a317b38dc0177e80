// Extractors on realistic corpora (tests/logs/extract/): Airflow 2 text, Airflow 3 JSON events,
// Spark/JVM, SQL engines, shell exits, OOM kills.
#include "logs/extract.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "logs/test_corpus.h"

namespace dm::logs {
namespace {

const ExtractedError& primary(const Extraction& x) {
  static const ExtractedError none;
  EXPECT_GE(x.primary, 0);
  return x.primary_error() ? *x.primary_error() : none;
}

bool has_line(const ExtractedError& e, std::uint64_t n) {
  for (const auto& l : e.lines) {
    if (l.number == n) return true;
  }
  return false;
}

TEST(Extract, Airflow2PythonTracebackUserFramesFirst) {
  auto x = extract_errors(corpus("airflow2_keyerror.log"));
  const auto& e = primary(x);
  EXPECT_EQ(e.kind, ErrorKind::python_exception);
  EXPECT_EQ(e.exception_type, "KeyError");
  EXPECT_EQ(e.message, "'customer_id'");
  EXPECT_EQ(e.root_cause_line, "KeyError: 'customer_id'");
  EXPECT_EQ(e.root_cause_line_number, 30u);
  ASSERT_GE(e.frames.size(), 2u);
  // Innermost user frame first, then its caller; library frames after.
  EXPECT_EQ(e.frames[0].file, "/usr/local/airflow/dags/lib/enrich.py");
  EXPECT_EQ(e.frames[0].lineno, 17u);
  EXPECT_EQ(e.frames[0].function, "enrich");
  EXPECT_TRUE(e.frames[0].user);
  EXPECT_EQ(e.frames[0].code, "return frame.merge(lookup, on=frame.attrs[\"customer_id\"])");
  EXPECT_EQ(e.frames[1].function, "transform_orders");
  EXPECT_EQ(e.first_line, 10u);  // the "Task failed with exception" marker belongs to it
  EXPECT_TRUE(has_line(e, 10));
  EXPECT_TRUE(has_line(e, 30));
  ASSERT_EQ(e.chain.size(), 1u);
}

TEST(Extract, Airflow3ErrorDetailEvent) {
  auto x = extract_errors(corpus("airflow3_keyerror.jsonl"));
  const auto& e = primary(x);
  EXPECT_EQ(e.kind, ErrorKind::python_exception);
  EXPECT_EQ(e.exception_type, "KeyError");
  EXPECT_EQ(e.message, "'customer_id'");
  EXPECT_EQ(e.root_cause_line_number, 5u);  // the JSON event's line
  ASSERT_FALSE(e.frames.empty());
  EXPECT_EQ(e.frames[0].file, "/opt/airflow/dags/lib/enrich.py");
  EXPECT_TRUE(e.frames[0].user);
  for (const auto& f : e.frames) {
    if (f.file.find("task-sdk") != std::string::npos) {
      EXPECT_FALSE(f.user) << f.file;
    }
  }
}

TEST(Extract, Airflow3StderrTracebackEvents) {
  auto x = extract_errors(corpus("airflow3_stderr_traceback.jsonl"));
  const auto& e = primary(x);
  EXPECT_EQ(e.exception_type, "ModuleNotFoundError");
  EXPECT_EQ(e.message, "No module named 'pandas_gbq'");
  EXPECT_EQ(e.root_cause_line_number, 5u);
  ASSERT_FALSE(e.frames.empty());
  EXPECT_EQ(e.frames[0].file, "/opt/airflow/dags/ingest.py");
  EXPECT_EQ(e.frames[0].code, "import pandas_gbq");
}

TEST(Extract, SubprocessTracebackBeatsBashWrapper) {
  auto x = extract_errors(corpus("airflow2_bash_psycopg.log"));
  const auto& e = primary(x);
  EXPECT_EQ(e.exception_type, "psycopg2.errors.UndefinedTable");
  EXPECT_EQ(e.message, "relation \"staging.customers_20260301\" does not exist");
  EXPECT_EQ(e.root_cause_line_number, 11u);
  EXPECT_TRUE(has_line(e, 12));  // "LINE 1: MERGE …" continuation
  ASSERT_FALSE(e.frames.empty());
  EXPECT_EQ(e.frames[0].function, "main");
  // The AirflowException wrapper and the exit code are found but rank lower.
  bool wrapper = false, exit = false;
  for (const auto& f : x.errors) {
    wrapper |= f.exception_type == "airflow.exceptions.AirflowException";
    exit |= f.kind == ErrorKind::shell_exit && f.exit_code == 1;
  }
  EXPECT_TRUE(wrapper);
  EXPECT_TRUE(exit);
}

TEST(Extract, ChainedExceptionsRootIsTheFirst) {
  auto x = extract_errors(corpus("airflow2_chained.log"));
  const auto& e = primary(x);
  ASSERT_EQ(e.chain.size(), 3u);
  EXPECT_EQ(e.chain[0].type, "psycopg2.errors.UndefinedColumn");
  EXPECT_EQ(e.chain[1].type, "sqlalchemy.exc.ProgrammingError");
  EXPECT_EQ(e.chain[2].type, "RuntimeError");
  EXPECT_EQ(e.exception_type, "psycopg2.errors.UndefinedColumn");
  EXPECT_EQ(e.message, "column \"amount\" does not exist");
  EXPECT_EQ(e.root_cause_line_number, 8u);
  EXPECT_EQ(x.errors.size(), 2u);  // the chain + "Marking task as FAILED"
}

TEST(Extract, SparkJvmRootCauseIsLastCausedBy) {
  auto x = extract_errors(corpus("spark_submit.log"));
  const auto& e = primary(x);
  EXPECT_EQ(e.kind, ErrorKind::jvm_exception);
  EXPECT_EQ(e.exception_type, "java.io.FileNotFoundException");
  EXPECT_EQ(e.message,
            "No such file or directory: "
            "s3a://acme-curated/events/2026/05/01/part-00012.snappy.parquet");
  EXPECT_EQ(e.root_cause_line_number, 10u);
  ASSERT_FALSE(e.frames.empty());
  EXPECT_EQ(e.frames[0].file, "com.acme.etl.io.Reader.open");
  EXPECT_EQ(e.frames[0].lineno, 40u);
  EXPECT_TRUE(e.frames[0].user);
  ASSERT_EQ(e.chain.size(), 2u);
  EXPECT_EQ(e.chain[1].type, "org.apache.spark.SparkException");
}

TEST(Extract, Py4JWrapperYieldsToJavaError) {
  auto x = extract_errors(corpus("pyspark_py4j.log"));
  const auto& e = primary(x);
  EXPECT_EQ(e.kind, ErrorKind::jvm_exception);
  EXPECT_EQ(e.exception_type, "org.apache.spark.sql.AnalysisException");
  EXPECT_NE(e.message.find("`order_total` cannot be resolved"), std::string::npos);
}

TEST(Extract, PostgresMysqlSnowflakeBigQuery) {
  {
    auto found1 = extract_errors(corpus("sql_engines.log"));
    const auto& e = primary(found1);
    EXPECT_EQ(e.kind, ErrorKind::sql_error);
    EXPECT_EQ(e.exception_type, "PostgresError");
    EXPECT_EQ(e.message, "permission denied for table fact_sales");
  }
  {
    auto found2 = extract_errors(corpus("mysql_cli.log"));
    const auto& e = primary(found2);
    EXPECT_EQ(e.exception_type, "MySQLError");
    EXPECT_EQ(e.message, "1146 (42S02): Table 'shop.order_items_2026_06' doesn't exist");
  }
  {
    auto found3 = extract_errors(corpus("snowflake.log"));
    const auto& e = primary(found3);
    EXPECT_EQ(e.exception_type, "snowflake.connector.errors.ProgrammingError");
    // The message continues on the next line: both parts are kept.
    EXPECT_NE(e.message.find("SQL compilation error: Object "
                             "'ANALYTICS.STAGING.ORDERS_20260603' does not exist"),
              std::string::npos)
        << e.message;
  }
  {
    auto found4 = extract_errors(corpus("bigquery.log"));
    const auto& e = primary(found4);
    EXPECT_EQ(e.exception_type, "google.api_core.exceptions.BadRequest");
    EXPECT_EQ(e.message.rfind("400 Unrecognized name: customer_segment", 0), 0u);
  }
  {
    auto x = extract_errors(
        "[2026-06-04, 00:00:09 UTC] {bigquery.py:1650} ERROR - BigQuery job failed. Final error "
        "was: {'reason': 'notFound', 'message': 'Not found: Table p:d.t was not found'}\n");
    EXPECT_EQ(primary(x).exception_type, "BigQueryError");
  }
}

TEST(Extract, ShellExitTakesTheLastOutputLine) {
  auto x = extract_errors(corpus("shell_exit.log"));
  const auto& e = primary(x);
  EXPECT_EQ(e.kind, ErrorKind::shell_exit);
  EXPECT_EQ(e.exit_code, 127);
  EXPECT_EQ(e.message, "/usr/bin/bash: line 1: dbt: command not found (exit code 127)");
  EXPECT_EQ(e.root_cause_line_number, 4u);
  EXPECT_TRUE(has_line(e, 3));
}

TEST(Extract, OomKillInBothAirflowVersions) {
  {
    auto found5 = extract_errors(corpus("oom_airflow2.log"));
    const auto& e = primary(found5);
    EXPECT_EQ(e.kind, ErrorKind::oom_kill);
    EXPECT_EQ(e.exit_code, -9);
    EXPECT_EQ(e.root_cause_line_number, 4u);
  }
  {
    auto found6 = extract_errors(corpus("airflow3_oom.jsonl"));
    const auto& e = primary(found6);
    EXPECT_EQ(e.kind, ErrorKind::oom_kill);
    EXPECT_EQ(e.exit_code, -9);
    EXPECT_EQ(e.root_cause_line_number, 2u);
  }
  for (const char* text :
       {"Killed\n", "/bin/bash: line 1:  4242 Killed   python job.py\n",
        "Command exited with return code 137\n",
        "Container killed by YARN for exceeding memory limits. 8.1 GB of 8 GB\n"}) {
    auto found7 = extract_errors(text);
    const auto& e = primary(found7);
    EXPECT_EQ(e.kind, ErrorKind::oom_kill) << text;
  }
  auto found8 = extract_errors(corpus("memoryerror.log"));
  const auto& m = primary(found8);
  EXPECT_EQ(m.exception_type, "MemoryError");
}

TEST(Extract, MarkerAndErrorLineFallbacks) {
  auto x = extract_errors(
      "[2026-01-01, 00:00:00 UTC] {taskinstance.py:1} INFO - start\n"
      "[2026-01-01, 00:00:05 UTC] {timeout.py:68} ERROR - Process timed out, PID: 4242\n"
      "[2026-01-01, 00:00:05 UTC] {taskinstance.py:1225} INFO - Marking task as FAILED.\n");
  const auto& e = primary(x);
  EXPECT_EQ(e.kind, ErrorKind::airflow_marker);
  EXPECT_EQ(e.message, "Process timed out, PID: 4242");
  EXPECT_EQ(e.root_cause_line_number, 2u);

  auto y = extract_errors(
      "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"level\":\"error\",\"event\":\"cannot reach "
      "api\",\"logger\":\"task\"}\n");
  EXPECT_EQ(primary(y).kind, ErrorKind::error_line);
  EXPECT_EQ(primary(y).message, "cannot reach api");
}

TEST(Extract, NothingInACleanLog) {
  auto x = extract_errors(
      "[2026-01-01, 00:00:00 UTC] {taskinstance.py:1} INFO - start\n"
      "[2026-01-01, 00:00:01 UTC] {taskinstance.py:2} INFO - Marking task as SUCCESS.\n");
  EXPECT_EQ(x.primary, -1);
  EXPECT_EQ(x.primary_error(), nullptr);
}

TEST(Extract, TruncatedAndMalformedInputDoesNotBreak) {
  auto x = extract_errors("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n");
  EXPECT_EQ(x.primary, -1);  // no exception line: nothing claimed
  auto y =
      extract_errors("{\"event\": {\"nested\": 1}, \"level\": 5, \"error_detail\": [1, {}]}\n");
  (void)y;
  auto z = extract_errors(std::string(1 << 16, 'x') + "\nValueError: " + std::string(5000, 'y'));
  ASSERT_GE(z.primary, 0);
  EXPECT_LE(primary(z).message.size(), kMaxFieldBytes);
  EXPECT_LE(primary(z).lines[0].text.size(), kMaxFieldBytes);
}

TEST(Extract, RelevantLinesAreCapped) {
  std::string text = "Traceback (most recent call last):\n";
  for (int k = 0; k < 500; ++k) {
    text += "  File \"/usr/lib/python3.11/site-packages/m" + std::to_string(k) +
            ".py\", line 1, in f\n    g()\n";
  }
  text += "RecursionError: maximum recursion depth exceeded\n";
  ExtractOptions opt;
  opt.max_relevant_lines = 20;
  auto x = extract_errors(text, opt);
  const auto& e = primary(x);
  EXPECT_EQ(e.exception_type, "RecursionError");
  EXPECT_EQ(e.lines.size(), 20u);
  EXPECT_TRUE(has_line(e, e.root_cause_line_number));
  EXPECT_LE(e.frames.size(), opt.max_frames);
}

TEST(Extract, CapUtf8NeverSplitsACharacter) {
  std::string s = "ab\xC3\xA9\xC3\xA9\xC3\xA9";  // "abééé"
  for (std::size_t max = 0; max < s.size() + 2; ++max) {
    std::string c = cap_utf8(s, max);
    EXPECT_LE(c.size(), std::max<std::size_t>(max, 0));
    if (c.size() >= 1) {
      unsigned char last = static_cast<unsigned char>(c.back());
      EXPECT_FALSE(last == 0xC3) << max;  // never ends in a lead byte
    }
  }
}

}  // namespace
}  // namespace dm::logs
