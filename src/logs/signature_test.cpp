// Signature stability: same root cause on other dates, runs, hosts, PIDs, temp paths and Airflow
// versions → same id; another column, table, module, bucket or exit code → another id.
#include "logs/signature.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "logs/signature_mask.h"
#include "logs/test_corpus.h"

namespace dm::logs {
namespace {

Signature sig_of_log(const std::string& text) {
  auto x = extract_errors(text);
  EXPECT_NE(x.primary_error(), nullptr);
  return x.primary_error() ? signature_of(*x.primary_error()) : Signature{};
}

// Same failure, another day on another worker: dates, hosts, PIDs, run ids, temp dirs, query ids.
std::string perturb(std::string s) {
  s = std::regex_replace(s, std::regex(R"(\d{4}-\d{2}-\d{2})"), "2031-12-30");
  s = std::regex_replace(s, std::regex(R"(\d{4}/\d{2}/\d{2})"), "2031/12/30");
  s = std::regex_replace(s, std::regex(R"(\b(\d{2}):\d{2}:\d{2})"), "$1:47:13");
  s = std::regex_replace(s, std::regex(R"(2026(\d{4}))"), "2031$1");
  s = std::regex_replace(s, std::regex(R"(ip-\d+-\d+-\d+-\d+)"), "ip-172-31-9-200");
  s = std::regex_replace(s, std::regex(R"(PID: \d+|process \d+)"), "PID: 777");
  s = std::regex_replace(s, std::regex(R"(/tmp/tmp\w+)"), "/tmp/tmpq9z_w1x2");
  s = std::regex_replace(s, std::regex(R"(01b2c3d4-0602-8a1f-0000-00a1b2c3d4e5)"),
                         "01ffeedd-0700-1b2c-0000-0098badc0ffe");
  s = std::regex_replace(s, std::regex(R"(part-\d+)"), "part-00421");
  return s;
}

TEST(Signature, IdShapeAndDeterminism) {
  Signature a = signature_of(ErrorKind::python_exception, "KeyError", "'customer_id'");
  Signature b = signature_of(ErrorKind::python_exception, "KeyError", "'customer_id'");
  EXPECT_EQ(a.id, b.id);
  ASSERT_EQ(a.id.size(), 12u);
  EXPECT_EQ(a.id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a.text, "KeyError: 'customer_id'");
  // The id is the first 12 hex digits of SHA-256("v1\n" + text): pinned, so a change is visible.
  EXPECT_EQ(a.id, short_hash("v1\nKeyError: 'customer_id'"));
  EXPECT_EQ(short_hash("abc"), "ba7816bf8f01");  // SHA-256("abc") test vector
}

TEST(Signature, SameFailureOnOtherDatesHostsRunsIsStable) {
  for (const char* f : {"airflow2_keyerror.log",
                        "airflow3_keyerror.jsonl",
                        "airflow2_bash_psycopg.log",
                        "airflow2_chained.log",
                        "spark_submit.log",
                        "pyspark_py4j.log",
                        "sql_engines.log",
                        "mysql_cli.log",
                        "snowflake.log",
                        "bigquery.log",
                        "shell_exit.log",
                        "oom_airflow2.log",
                        "airflow3_oom.jsonl",
                        "airflow3_stderr_traceback.jsonl",
                        "memoryerror.log",
                        "spark_py4j_oom.log",
                        "spark_py4j_oom.jsonl",
                        "dbt_database_error.log",
                        "dbt_database_error.jsonl",
                        "sqlalchemy_operational.log",
                        "sqlalchemy_undefined_column.jsonl",
                        "k8s_oomkilled.log",
                        "k8s_oomkilled.jsonl",
                        "k8s_imagepull.log",
                        "k8s_evicted.log",
                        "k8s_pending.log",
                        "bash_exit_code.log",
                        "bash_exit_code.jsonl",
                        "sensor_timeout.log",
                        "wait_timeout.jsonl",
                        "corpus_wget_404.log",
                        "corpus_wget_404.jsonl",
                        "corpus_dbt_model.log",
                        "corpus_spark_udf.log",
                        "corpus_dbt_model_rendered.log",
                        "corpus_wget_404_rendered.log"}) {
    std::string text = corpus(f);
    std::string other = perturb(text);
    ASSERT_NE(text, other) << f << ": the perturbation must change something";
    Signature a = sig_of_log(text), b = sig_of_log(other);
    EXPECT_EQ(a.id, b.id) << f << "\n  " << a.text << "\n  " << b.text;
  }
}

TEST(Signature, OpaquePerRunNamesAreNormalized) {
  // py4j's JVM object ids change with every run; "o518" would otherwise stay (like "ec2").
  Signature a = signature_of(ErrorKind::python_exception, "py4j.protocol.Py4JJavaError",
                             "An error occurred while calling o518.save.");
  Signature b = signature_of(ErrorKind::python_exception, "Py4JJavaError",
                             "An error occurred while calling o97.save.");
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.text, "Py4JJavaError: An error occurred while calling o<n>.save.");
  // …but what was called stays.
  EXPECT_NE(a.id, signature_of(ErrorKind::python_exception, "Py4JJavaError",
                               "An error occurred while calling o518.parquet.")
                      .id);
  // Kubernetes pod suffixes, letters-only ones too; the name before the suffix stays.
  auto pod = [](std::string_view m) {
    return signature_of(ErrorKind::python_exception, "AirflowException", m);
  };
  EXPECT_EQ(pod("Pod etl-load-x7k2m9qp returned a failure.").id,
            pod("Pod etl-load-qwertyui returned a failure.").id);
  EXPECT_EQ(pod("Pod etl-load-x7k2m9qp returned a failure.").text,
            "AirflowException: Pod etl-load-<pod> returned a failure.");
  EXPECT_NE(pod("Pod etl-load-x7k2m9qp returned a failure.").id,
            pod("Pod etl-export-x7k2m9qp returned a failure.").id);
  EXPECT_EQ(pod("deleting pod/ml-train-abcde").text,
            "AirflowException: deleting pod/ml-train-<pod>");
  // YARN container ids: the epoch changes with the resource manager, not with the failure.
  EXPECT_EQ(pod("Container container_e42_1700000000000_0012_01_000003 killed").id,
            pod("Container container_e7_1700000999000_0431_01_000001 killed").id);
  // Words that merely follow "pod" elsewhere are not touched.
  EXPECT_EQ(pod("Podcast feed missing").text, "AirflowException: Podcast feed missing");
}

TEST(Signature, Airflow2And3FormatsGiveTheSameId) {
  EXPECT_EQ(sig_of_log(corpus("airflow2_keyerror.log")).id,
            sig_of_log(corpus("airflow3_keyerror.jsonl")).id);
  EXPECT_EQ(sig_of_log(corpus("oom_airflow2.log")).id, sig_of_log(corpus("airflow3_oom.jsonl")).id);
  // A module path on the type (Airflow 2 prints it, structlog's exc_type does not).
  EXPECT_EQ(
      signature_of(ErrorKind::python_exception, "psycopg2.errors.UndefinedTable",
                   "relation \"x\" does not exist")
          .id,
      signature_of(ErrorKind::python_exception, "UndefinedTable", "relation \"x\" does not exist")
          .id);
}

struct Case {
  const char* type;
  const char* a;
  const char* b;
};

TEST(Signature, VariablePartsAreMasked) {
  const Case same[] = {
      {"FileNotFoundError", "[Errno 2] No such file or directory: '/tmp/tmpab12cd_x/extract.csv'",
       "[Errno 2] No such file or directory: '/tmp/tmp9_zzqk3p/extract.csv'"},
      {"NoSuchKey", "s3://acme-raw/orders/dt=2026-01-14/part-00000.parquet not found",
       "s3://acme-raw/orders/dt=2026-02-01/part-00017.parquet not found"},
      {"NoSuchKey", "s3://acme-raw/orders/2026/01/14/data.json",
       "s3://acme-raw/orders/2025/12/31/data.json"},
      {"AirflowTaskTimeout", "Timeout, PID: 48213", "Timeout, PID: 7"},
      {"ConnectionRefusedError", "[Errno 111] Connection refused (10.0.3.17:5432)",
       "[Errno 111] Connection refused (10.0.9.250:5432)"},
      {"ClientError",
       "An error occurred (AccessDenied) when calling GetObject: Access Denied "
       "(Request ID: 4F1C2D3E5A6B7C8D)",
       "An error occurred (AccessDenied) when calling GetObject: Access Denied "
       "(Request ID: 9AB0C1D2E3F4A5B6)"},
      {"DagRunNotFound", "DagRun manual__2026-01-14T03:00:00+00:00 not found",
       "DagRun scheduled__2026-02-01T00:00:00+00:00 not found"},
      {"ValueError", "attempt 2 of 3 failed at 2026-01-14 03:00:05,123 on worker-7",
       "attempt 3 of 3 failed at 2026-02-01 11:22:33,999 on worker-12"},
      {"ProgrammingError",
       "002003 (42S02): 01b2c3d4-0602-8a1f-0000-00a1b2c3d4e5: Object "
       "'DB.S.ORDERS_20260603' does not exist",
       "002003 (42S02): 01ffeedd-0700-1b2c-0000-0098badc0ffe: Object 'DB.S.ORDERS_20260701' "
       "does not exist"},
      {"OSError", "pod etl-worker-7f9c8d5b6-x2x9k evicted at 0x7f3a2b1c",
       "pod etl-worker-5d4c3b2a1-qq8wz evicted at 0x7f00aa11"},
      {"RuntimeError", "job application_1767225600000_0042 failed",
       "job application_1767312000000_0107 failed"},
  };
  for (const Case& c : same) {
    EXPECT_EQ(signature_of(ErrorKind::python_exception, c.type, c.a).text,
              signature_of(ErrorKind::python_exception, c.type, c.b).text)
        << c.a;
  }
}

TEST(Signature, WhatNamesTheCauseStays) {
  const Case differ[] = {
      {"KeyError", "'customer_id'", "'order_id'"},
      {"UndefinedTable", "relation \"staging.customers\" does not exist",
       "relation \"staging.orders\" does not exist"},
      {"ModuleNotFoundError", "No module named 'pandas_gbq'", "No module named 'boto3'"},
      {"NoSuchBucket", "s3://acme-raw/orders/dt=2026-01-14/x",
       "s3://acme-curated/orders/dt=2026-01-14/x"},
      {"NoSuchKey", "s3://acme-raw/orders/dt=2026-01-14/x",
       "s3://acme-raw/refunds/dt=2026-01-14/x"},
      {"OSError", "[Errno 2] No such file", "[Errno 13] Permission denied"},
      {"HTTPError", "403 Client Error: Forbidden for url", "404 Client Error: Forbidden for url"},
      {"MySQLError", "1146 (42S02): x", "1054 (42S22): x"},
      {"CalledProcessError", "returned non-zero exit status 1", "returned non-zero exit status 2"},
  };
  for (const Case& c : differ) {
    EXPECT_NE(signature_of(ErrorKind::python_exception, c.type, c.a).id,
              signature_of(ErrorKind::python_exception, c.type, c.b).id)
        << c.a << " vs " << c.b;
  }
  EXPECT_NE(signature_of(ErrorKind::python_exception, "KeyError", "'x'").id,
            signature_of(ErrorKind::python_exception, "IndexError", "'x'").id);
  EXPECT_NE(signature_of(ErrorKind::shell_exit, "", "exit code 1").id,
            signature_of(ErrorKind::shell_exit, "", "exit code 127").id);
}

TEST(Signature, AnotherColumnInTheSameLogGivesAnotherId) {
  std::string a = corpus("airflow2_keyerror.log");
  std::string b = std::regex_replace(a, std::regex("customer_id"), "order_id");
  EXPECT_NE(sig_of_log(a).id, sig_of_log(b).id);
  std::string c = corpus("airflow2_bash_psycopg.log");
  std::string d = std::regex_replace(c, std::regex("staging.customers"), "staging.suppliers");
  EXPECT_NE(sig_of_log(c).id, sig_of_log(d).id);
}

TEST(Mask, ReadableTemplates) {
  EXPECT_EQ(mask_variables("reading s3://acme-raw/orders/dt=2026-01-14/part-00000.parquet",
                           MaskMode::signature),
            "reading s3://acme-raw/orders/dt=<date>/part-<n>.parquet");
  EXPECT_EQ(mask_variables("[2026-01-14, 03:00:02 UTC] started 2026-01-14T03:00:02.123+00:00",
                           MaskMode::templates),
            "[<date>, <time> UTC] started <ts>");
  EXPECT_EQ(mask_variables("run manual__2026-01-14T03_00_00+00_00/task_id=x", MaskMode::templates),
            "run <run_id>/task_id=x");
  EXPECT_EQ(mask_variables("id 123e4567-e89b-12d3-a456-426614174000 ok", MaskMode::templates),
            "id <uuid> ok");
  EXPECT_EQ(mask_variables("cast int64 to v2 in 512MB", MaskMode::templates),
            "cast int64 to v2 in <n>MB");
  EXPECT_EQ(mask_variables("exit code 137, HTTP 503", MaskMode::signature),
            "exit code 137, HTTP 503");
  EXPECT_EQ(mask_variables("exit code 137, HTTP 503", MaskMode::templates),
            "exit code <n>, HTTP <n>");
  EXPECT_EQ(mask_variables("", MaskMode::templates), "");
}

}  // namespace
}  // namespace dm::logs
