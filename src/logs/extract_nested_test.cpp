// Nested and multi-line root causes on realistic corpora (tests/logs/extract/), through the whole
// pipeline (redact → extract → signature → category): Spark through py4j, SQLAlchemy wrappers,
// dbt summaries, KubernetesPodOperator, bash exits, sensors and waits, Airflow's own failures.
// Each failure: its cause and category, one signature over three more runs with other per-run ids
// (and over Airflow 2 and 3 where both are given), another signature when what names the cause
// differs.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "logs/pipeline.h"
#include "logs/test_corpus.h"

namespace dm::logs {
namespace {

Diagnosis diag(const std::string& text) {
  static const DiagnoseOptions opt = [] {
    DiagnoseOptions o;
    o.categorizer = *Categorizer::builtin();  // compiled once for all cases
    o.redactor = *Redactor::builtin();
    return o;
  }();
  auto d = diagnose(text, opt);
  EXPECT_TRUE(d.ok());
  return d.ok() ? *d : Diagnosis{};
}

bool shows(const Diagnosis& d, const std::string& needle) {
  for (const auto& l : d.lines) {
    if (l.text.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string sub(const std::string& s, const char* re, const std::string& by) {
  return std::regex_replace(s, std::regex(re), by);
}

// Run k (0..2) of the same failure: every per-run id replaced — dates, times, hosts, IPs, PIDs,
// JVM object ids, Spark task/stage/TID/executor numbers, pod name suffixes (one run's letters
// only), container ids, uids, run-id hashes, temp files.
std::string rerun(std::string s, int k) {
  static const char* dates[] = {"2027-01-09", "2027-02-17", "2028-12-30"};
  static const char* suffixes[] = {"abcdefgh", "k9z8y7x6", "r2d2c3po"};
  const std::string n = std::to_string(k + 2);
  s = sub(s, R"(\d{4}-\d{2}-\d{2})", dates[k]);
  s = sub(s, R"(\d{8}T\d{6})",
          std::string(dates[k]).substr(0, 4) + "0" + n + "0" + n + "T0" + n + "1" + n + "00");
  s = sub(s, R"(\b\d{2}:\d{2}:\d{2}\b)", "1" + n + ":3" + n + ":4" + n);
  s = sub(s, R"(datetime\.datetime\([^)]*\))",
          "datetime.datetime(2027, " + n + ", 1" + n + ", 4, 5, " + n + ", tzinfo=tzlocal())");
  s = sub(s, R"(\bo\d+\.)", "o" + std::to_string(97 + 411 * k) + ".");
  s = sub(s, R"(stage \d+\.\d+)", "stage " + std::to_string(3 + 40 * k) + ".0");
  s = sub(s, R"(Task \d+ in)", "Task " + std::to_string(11 * k + 1) + " in");
  s = sub(s, R"(task \d+\.\d+)", "task " + std::to_string(11 * k + 1) + "." + n);
  s = sub(s, R"(TID \d+)", "TID " + std::to_string(5000 + 77 * k));
  s = sub(s, R"(executor \d+)", "executor " + std::to_string(k + 9));
  s = sub(s, R"(\b10\.\d+\.\d+\.\d+\b)", "10.9" + n + ".1" + n + ".2" + n);
  s = sub(s, R"(ip-10-\d+-\d+-\d+)", "ip-10-9" + n + "-1" + n + "-2" + n);
  s = sub(s, R"(-(x7k2m9qp|qwertyui|m3n8v2rd|p4q7w1zc|h2j5k8l0)\b)",
          std::string("-") + suffixes[k]);
  s = sub(s, R"(containerd://[0-9a-f]+)", "containerd://" + std::string(64, "acf"[k]));
  s = sub(s, R"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
          "1" + n + "345678-9abc-4def-8123-4567890abc" + n + n);
  s = sub(s, R"(T\d{10}-[0-9a-f]{9})",
          "T0" + n + "00000000-" + n + "e" + n + "d" + n + "c" + n + "b" + n);
  s = sub(s, R"(PID: \d+|process \d+)", "PID: " + std::to_string(31000 + 1234 * k));
  s = sub(s, R"(/tmp/tmp\w+)", "/tmp/tmp" + std::string(8, "qwz"[k]));
  return s;
}

// The failure in `text` has the same signature over three reruns, and they did change the log.
void expect_stable(const std::string& text, const std::string& where) {
  const Diagnosis base = diag(text);
  ASSERT_TRUE(base.found) << where;
  for (int k = 0; k < 3; ++k) {
    std::string other = rerun(text, k);
    ASSERT_NE(other, text) << where << ": run " << k << " must change per-run ids";
    const Diagnosis d = diag(other);
    EXPECT_EQ(d.signature, base.signature)
        << where << " run " << k << "\n  " << base.signature_text << "\n  " << d.signature_text;
    EXPECT_EQ(d.category.name, base.category.name) << where << " run " << k;
  }
}

// ---- Spark through py4j ----

TEST(ExtractNested, PysparkStageFailureGivesTheExecutorsOutOfMemoryError) {
  for (const char* f : {"spark_py4j_oom.log", "spark_py4j_oom.jsonl"}) {
    const Diagnosis d = diag(corpus(f));
    EXPECT_EQ(d.kind, "jvm_exception") << f;
    EXPECT_EQ(d.exception_type, "java.lang.OutOfMemoryError") << f;
    EXPECT_EQ(d.message, "Java heap space") << f;
    EXPECT_EQ(d.category.name, "resource_exhaustion") << f;
    EXPECT_EQ(d.signature_text, "OutOfMemoryError: Java heap space") << f;
    expect_stable(corpus(f), f);
  }
  // Airflow 2's text log and Airflow 3's structured event: one failure, one id.
  EXPECT_EQ(diag(corpus("spark_py4j_oom.log")).signature,
            diag(corpus("spark_py4j_oom.jsonl")).signature);
}

TEST(ExtractNested, StageFailureWithoutCausedByNamesTheExecutorsException) {
  // Spark 3 without the "Caused by:" section (trace cut by the log tail): the exception named in
  // the stage failure is the cause, without task, stage, TID or host.
  std::string log =
      "py4j.protocol.Py4JJavaError: An error occurred while calling o233.parquet.\n"
      ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 3.0 "
      "failed 4 times, most recent failure: Lost task 0.3 in stage 3.0 (TID 12) (10.0.1.9 "
      "executor 1): java.io.FileNotFoundException: File s3a://acme-curated/clicks/dt=2026-01-01 "
      "does not exist\n"
      "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages("
      "DAGScheduler.scala:2856)\n";
  const Diagnosis d = diag(log);
  EXPECT_EQ(d.exception_type, "java.io.FileNotFoundException");
  EXPECT_EQ(d.message, "File s3a://acme-curated/clicks/dt=2026-01-01 does not exist");
  EXPECT_EQ(d.category.name, "missing_upstream_data");
  expect_stable(log, "inline stage failure");

  // An executor lost to YARN: no typed exception, the reason stays, the per-run numbers go.
  std::string lost =
      "Exception in thread \"main\" org.apache.spark.SparkException: Job aborted due to stage "
      "failure: Task 5 in stage 9.0 failed 4 times, most recent failure: Lost task 5.3 in stage "
      "9.0 (TID 77) (ip-10-0-2-8.ec2.internal executor 4): ExecutorLostFailure (executor 4 "
      "exited caused by one of the running tasks) Reason: Container killed by YARN for exceeding "
      "memory limits.\n"
      "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages("
      "DAGScheduler.scala:2856)\n";
  const Diagnosis e = diag(lost);
  EXPECT_EQ(e.category.name, "resource_exhaustion");
  EXPECT_EQ(e.message.rfind("Job aborted due to stage failure: ExecutorLostFailure", 0), 0u)
      << e.message;
  EXPECT_EQ(e.message.find("TID"), std::string::npos) << e.message;
  expect_stable(lost, "inline executor lost");
}

// ---- SQLAlchemy / DBAPI ----

TEST(ExtractNested, SqlalchemyWrapperGivesTheDriversError) {
  const Diagnosis op = diag(corpus("sqlalchemy_operational.log"));
  EXPECT_EQ(op.exception_type, "psycopg2.OperationalError");
  EXPECT_EQ(op.message.rfind("connection to server at \"warehouse.internal\"", 0), 0u)
      << op.message;
  EXPECT_EQ(op.category.name, "network");
  expect_stable(corpus("sqlalchemy_operational.log"), "sqlalchemy_operational.log");

  const std::string text = corpus("sqlalchemy_undefined_column.jsonl");
  const Diagnosis col = diag(text);
  EXPECT_EQ(col.exception_type, "psycopg2.errors.UndefinedColumn");
  EXPECT_EQ(col.message, "column \"order_ts\" does not exist");
  EXPECT_EQ(col.category.name, "schema_drift");
  EXPECT_TRUE(shows(col, "Running statement: SELECT order_id, order_ts, amount"));  // what ran
  expect_stable(text, "sqlalchemy_undefined_column.jsonl");
  // The same wrapper over another column is another failure.
  std::string other = std::regex_replace(text, std::regex("order_ts"), "shipped_at");
  EXPECT_NE(diag(other).signature, col.signature);
  // The same driver error raised by psycopg2 directly: the same signature.
  EXPECT_EQ(diag("Traceback (most recent call last):\n"
                 "  File \"/opt/airflow/dags/orders/load.py\", line 48, in load_orders\n"
                 "    cur.execute(sql)\n"
                 "psycopg2.errors.UndefinedColumn: column \"order_ts\" does not exist\n")
                .signature,
            col.signature);
}

// ---- dbt ----

TEST(ExtractNested, DbtDatabaseErrorGivesTheModelAndTheCauseBelowIt) {
  const std::string text = corpus("dbt_database_error.log");
  const Diagnosis d = diag(text);
  EXPECT_EQ(d.exception_type, "DbtDatabaseError");
  EXPECT_EQ(d.message, "model stg_orders: column \"order_ts\" does not exist");
  EXPECT_EQ(d.category.name, "schema_drift");
  EXPECT_NE(d.error.find("Database Error in model stg_orders"), std::string::npos) << d.error;
  EXPECT_TRUE(shows(d, "dbt run --select staging"));  // the command that ran
  EXPECT_TRUE(shows(d, "column \"order_ts\" does not exist"));
  expect_stable(text, "dbt_database_error.log");

  // Two runs failing on two columns: two signatures, one category.
  const std::string other_column = std::regex_replace(text, std::regex("order_ts"), "customer_id");
  const Diagnosis c = diag(other_column);
  EXPECT_NE(c.signature, d.signature);
  EXPECT_EQ(c.category.name, "schema_drift");

  const Diagnosis j = diag(corpus("dbt_database_error.jsonl"));
  EXPECT_EQ(j.message, "model fct_orders: column \"customer_id\" does not exist");
  EXPECT_EQ(j.category.name, "schema_drift");
  EXPECT_NE(j.signature, d.signature);
  expect_stable(corpus("dbt_database_error.jsonl"), "dbt_database_error.jsonl");
}

TEST(ExtractNested, DbtCompilationErrorsAndOlderFormats) {
  // dbt < 1.5: no timestamps; a compilation error names the missing node on the next line.
  std::string log =
      "[2026-01-03, 04:00:05 UTC] {subprocess.py:106} INFO - Compilation Error in model "
      "fct_orders (models/marts/fct_orders.sql)\n"
      "[2026-01-03, 04:00:05 UTC] {subprocess.py:106} INFO -   Model 'model.shop.fct_orders' "
      "(models/marts/fct_orders.sql) depends on a node named 'stg_payments' which was not found\n"
      "[2026-01-03, 04:00:05 UTC] {subprocess.py:110} INFO - Command exited with return code 1\n";
  const Diagnosis d = diag(log);
  EXPECT_EQ(d.exception_type, "DbtCompilationError");
  EXPECT_EQ(d.message,
            "model fct_orders: Model 'model.shop.fct_orders' (models/marts/fct_orders.sql) depends "
            "on a node named 'stg_payments' which was not found");
  EXPECT_EQ(d.category.name, "code_bug");
  expect_stable(log, "dbt compilation error");
  // dbt raised inside a Python task: the exception's next line is the cause.
  const Diagnosis p = diag(
      "Traceback (most recent call last):\n"
      "  File \"/opt/airflow/dags/dbt_task.py\", line 20, in run_models\n"
      "    raise res.exception\n"
      "dbt.exceptions.DbtDatabaseError: Database Error in model stg_orders "
      "(models/staging/stg_orders.sql)\n"
      "  relation \"raw.orders_2026_01_02\" does not exist\n");
  EXPECT_NE(p.message.find("relation \"raw.orders_2026_01_02\" does not exist"), std::string::npos)
      << p.message;
  EXPECT_EQ(p.category.name, "missing_upstream_data");
}

// ---- KubernetesPodOperator ----

TEST(ExtractNested, PodOomKilledBehindTheOperatorsWrapper) {
  for (const char* f : {"k8s_oomkilled.log", "k8s_oomkilled.jsonl"}) {
    const Diagnosis d = diag(corpus(f));
    EXPECT_EQ(d.kind, "oom_kill") << f;
    EXPECT_EQ(d.exit_code, 137) << f;
    EXPECT_EQ(d.category.name, "resource_exhaustion") << f;
    EXPECT_NE(d.error.find("OOMKilled"), std::string::npos) << f << ": " << d.error;
    EXPECT_TRUE(shows(d, "returned a failure.")) << f;  // the operator's wrapper, as context
    expect_stable(corpus(f), f);
  }
  EXPECT_EQ(diag(corpus("k8s_oomkilled.log")).signature,
            diag(corpus("k8s_oomkilled.jsonl")).signature);
}

TEST(ExtractNested, PodImagePullEvictionAndPendingTimeout) {
  const std::string pull_log = corpus("k8s_imagepull.log");
  const Diagnosis pull = diag(pull_log);
  EXPECT_EQ(pull.kind, "pod_failure");
  EXPECT_EQ(pull.exception_type, "ImagePullBackOff");
  EXPECT_EQ(pull.message, "image \"registry.example.com/etl/sessions:2.4.0\" could not be pulled");
  EXPECT_EQ(pull.category.name, "dependency_or_import");
  expect_stable(pull_log, "k8s_imagepull.log");
  EXPECT_NE(diag(std::regex_replace(pull_log, std::regex("etl/sessions"), "etl/ranker")).signature,
            pull.signature);

  const Diagnosis ev = diag(corpus("k8s_evicted.log"));
  EXPECT_EQ(ev.exception_type, "Evicted");
  EXPECT_EQ(ev.message, "The node was low on resource: memory");
  EXPECT_EQ(ev.category.name, "resource_exhaustion");
  expect_stable(corpus("k8s_evicted.log"), "k8s_evicted.log");

  const Diagnosis pend = diag(corpus("k8s_pending.log"));
  EXPECT_EQ(pend.exception_type, "FailedScheduling");
  EXPECT_EQ(pend.message.rfind("0/6 nodes are available: ", 0), 0u) << pend.message;
  EXPECT_NE(pend.message.find("4 Insufficient memory"), std::string::npos) << pend.message;
  EXPECT_EQ(pend.category.name, "resource_exhaustion");
  EXPECT_EQ(pend.category.action, "escalate");  // a plain rerun would wait the same way
  expect_stable(corpus("k8s_pending.log"), "k8s_pending.log");

  // A traceback whose code line tests for OOMKilled is not an OOM kill.
  const Diagnosis code = diag(
      "Traceback (most recent call last):\n"
      "  File \"/opt/airflow/dags/watch.py\", line 30, in check\n"
      "    if status.reason == 'OOMKilled' or status.reason == \"Evicted\":\n"
      "KeyError: 'status'\n");
  EXPECT_EQ(code.exception_type, "KeyError") << code.signature_text;

  // The word alone is no eviction: a later failure stays the cause.
  const Diagnosis cache = diag(
      "[2026-01-01, 00:00:01 UTC] {logging_mixin.py:190} INFO - Evicted 200 keys from the "
      "lookup cache (reason: size limit)\n"
      "[2026-01-01, 00:00:02 UTC] {taskinstance.py:3311} ERROR - Task failed with exception\n"
      "airflow.exceptions.AirflowException: Bash command failed. The command returned a non-zero "
      "exit code 2.\n");
  EXPECT_NE(cache.kind, "pod_failure") << cache.signature_text;

  // A pending timeout with no event that says why: the provider's timeout, not a shell exit.
  const Diagnosis bare = diag(
      "airflow.providers.cncf.kubernetes.utils.pod_manager.PodLaunchTimeoutException: Pod took "
      "too long to start. More than 120s. Check the pod events in kubernetes.\n");
  EXPECT_EQ(bare.category.name, "timeout");
  EXPECT_EQ(bare.category.rule_id, "pod-start-timeout");

  // The wrapper alone (no pod dump): its signature ignores the pod name's random suffix.
  EXPECT_EQ(diag("airflow.exceptions.AirflowException: Pod etl-load-x7k2m9qp returned a "
                 "failure.\n")
                .signature,
            diag("airflow.exceptions.AirflowException: Pod etl-load-abcdefgh returned a "
                 "failure.\n")
                .signature);
}

TEST(ExtractNested, PodContainerOutputIsReadWithoutTheContainerPrefix) {
  const Diagnosis d = diag(
      "[2026-01-02, 01:00:09 UTC] {pod_manager.py:466} INFO - [base] Traceback (most recent "
      "call last):\n"
      "[2026-01-02, 01:00:09 UTC] {pod_manager.py:466} INFO - [base]   File \"/app/job.py\", "
      "line 8, in <module>\n"
      "[2026-01-02, 01:00:09 UTC] {pod_manager.py:466} INFO - [base]     rows['amount']\n"
      "[2026-01-02, 01:00:09 UTC] {pod_manager.py:466} INFO - [base] KeyError: 'amount'\n"
      "[2026-01-02, 01:00:10 UTC] {taskinstance.py:3311} ERROR - Task failed with exception\n"
      "airflow.exceptions.AirflowException: Pod etl-job-x7k2m9qp returned a failure.\n");
  EXPECT_EQ(d.exception_type, "KeyError");
  EXPECT_EQ(d.category.name, "schema_drift");
}

// ---- BashOperator ----

TEST(ExtractNested, BashExitShowsTheCommandAndTheWrapper) {
  for (const char* f : {"bash_exit_code.log", "bash_exit_code.jsonl"}) {
    const Diagnosis d = diag(corpus(f));
    EXPECT_EQ(d.kind, "shell_exit") << f;
    EXPECT_EQ(d.exit_code, 8) << f;
    EXPECT_NE(d.message.find("wget -q -O"), std::string::npos) << f << ": " << d.message;
    EXPECT_TRUE(shows(d, "Running command: ['/usr/bin/bash', '-c', 'wget")) << f;
    EXPECT_TRUE(shows(d, "Bash command failed. The command returned a non-zero exit code 8.")) << f;
    EXPECT_TRUE(shows(d, "Command exited with return code 8")) << f;
    EXPECT_EQ(d.category.rule_id, "download-http-error") << f;  // named by the command
    expect_stable(corpus(f), f);
  }
  EXPECT_EQ(diag(corpus("bash_exit_code.log")).signature,
            diag(corpus("bash_exit_code.jsonl")).signature);
  // curl that cannot connect: the same command-named message, a network failure.
  const Diagnosis curl = diag(
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:88} INFO - Running command: ['/usr/bin/bash', "
      "'-c', 'curl -fsS -o /tmp/rates.json https://api.example.com/rates']\n"
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:99} INFO - Output:\n"
      "[2026-01-01, 00:00:31 UTC] {subprocess.py:110} INFO - Command exited with return code 7\n");
  EXPECT_EQ(curl.message,
            "curl -fsS -o /tmp/rates.json https://api.example.com/rates (exit code 7)");
  EXPECT_EQ(curl.category.name, "network");
  // A traced command with a colon in it, and a command Python quotes with " (it holds a ').
  EXPECT_EQ(diag("[2026-01-01, 00:00:01 UTC] {subprocess.py:106} INFO - + curl -fsS "
                 "https://api.example.com:8443/rates\n"
                 "[2026-01-01, 00:00:31 UTC] {subprocess.py:110} INFO - Command exited with "
                 "return code 7\n")
                .message,
            "curl -fsS https://api.example.com:8443/rates (exit code 7)");
  EXPECT_EQ(diag("[2026-01-01, 00:00:01 UTC] {subprocess.py:88} INFO - Running command: "
                 "['/usr/bin/bash', '-c', \"psql -c 'select 1' -h db\"]\n"
                 "[2026-01-01, 00:00:01 UTC] {subprocess.py:99} INFO - Output:\n"
                 "[2026-01-01, 00:00:02 UTC] {subprocess.py:110} INFO - Command exited with "
                 "return code 2\n")
                .message,
            "psql -c 'select 1' -h db (exit code 2)");
  // Another feed failing the same way is another failure.
  EXPECT_NE(
      diag(std::regex_replace(corpus("bash_exit_code.log"), std::regex("v2/prices"), "v2/rates"))
          .signature,
      diag(corpus("bash_exit_code.log")).signature);
}

// Real logs (tests/airflow/corpus.py, corpus_http_export on the Airflow 2 and 3 rigs): wget
// --no-verbose prints the URL, then its own status line, then exits 8. The status line is the
// message; the 404 in it makes it missing upstream data, and the URL line is shown.
TEST(ExtractNested, DownloadStatusLineBeforeTheExitNamesTheCause) {
  for (const char* f : {"corpus_wget_404.log", "corpus_wget_404.jsonl"}) {
    const Diagnosis d = diag(corpus(f));
    EXPECT_EQ(d.kind, "shell_exit") << f;
    EXPECT_EQ(d.exit_code, 8) << f;
    EXPECT_NE(d.message.find("ERROR 404: File not found. (exit code 8)"), std::string::npos)
        << f << ": " << d.message;
    EXPECT_EQ(d.category.name, "missing_upstream_data") << f;
    EXPECT_EQ(d.category.rule_id, "download-http-error") << f;
    EXPECT_TRUE(shows(d, "exports/orders_2026-01-01.csv:")) << f;  // the URL wget printed
    EXPECT_TRUE(shows(d, "Bash command failed. The command returned a non-zero exit code 8.")) << f;
    expect_stable(corpus(f), f);
  }
  EXPECT_EQ(diag(corpus("corpus_wget_404.log")).signature,
            diag(corpus("corpus_wget_404.jsonl")).signature);
  // wget without --no-verbose names the URL on its request line; curl -f says it in its own words.
  const Diagnosis verbose = diag(
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:106} INFO - --2026-01-01 00:00:01--  "
      "https://vendor.example.com/exports/orders.csv\n"
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:106} INFO - Resolving vendor.example.com... "
      "203.0.113.7\n"
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:106} INFO - HTTP request sent, awaiting "
      "response... 404 Not Found\n"
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:106} INFO - 2026-01-01 00:00:01 ERROR 404: Not "
      "Found.\n"
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:110} INFO - Command exited with return code 8\n");
  EXPECT_EQ(verbose.category.name, "missing_upstream_data");
  EXPECT_TRUE(shows(verbose, "--  https://vendor.example.com/exports/orders.csv"));
  const Diagnosis curl = diag(
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:106} INFO - curl: (22) The requested URL "
      "returned error: 404\n"
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:110} INFO - Command exited with return code 22\n");
  EXPECT_EQ(curl.category.name, "missing_upstream_data");
  // Another status is another cause: a 500 is not missing data.
  const Diagnosis server = diag(
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:106} INFO - 2026-01-01 00:00:01 ERROR 500: "
      "Internal Server Error.\n"
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:110} INFO - Command exited with return code 8\n");
  EXPECT_NE(server.category.name, "missing_upstream_data");
  EXPECT_NE(server.signature, verbose.signature);
}

// Real logs of the corpus's dbt and Spark DAGs (Airflow 2 rig). dbt 1.11 puts "Failure in model"
// (coloured) before the "Database Error" header, and a HINT among the lines under the cause.
// The PySpark job's ValueError is raised in an executor: it shows up four times (executor log,
// task set manager, the driver's Py4JJavaError with its "Job aborted due to stage failure", the
// "Caused by:" PythonException), under a console progress bar that shares its line with a log4j
// record.
TEST(ExtractNested, RealDbtAndSparkLogsGiveTheToolsCause) {
  const Diagnosis dbt = diag(corpus("corpus_dbt_model.log"));
  EXPECT_EQ(dbt.exception_type, "DbtDatabaseError");
  EXPECT_EQ(dbt.message, "model customer_revenue: column \"customer_id\" does not exist");
  EXPECT_EQ(dbt.category.name, "schema_drift");
  EXPECT_TRUE(shows(dbt, "HINT:  Perhaps you meant to reference the column"));
  EXPECT_TRUE(shows(dbt, "Running command: ['/usr/bin/bash', '-c', "));
  expect_stable(corpus("corpus_dbt_model.log"), "corpus_dbt_model.log");

  const Diagnosis spark = diag(corpus("corpus_spark_udf.log"));
  EXPECT_EQ(spark.exception_type, "ValueError");
  EXPECT_EQ(spark.message, "time data '07/12/2025 10:00' does not match format '%Y-%m-%d %H:%M'");
  EXPECT_EQ(spark.category.name, "code_bug");
  ASSERT_FALSE(spark.frames.empty());
  EXPECT_EQ(spark.frames[0].function, "parse");  // the job's own function, not pyspark's worker
  EXPECT_TRUE(spark.frames[0].user);
  // Where it happened: the driver's Py4J call and the stage failure it reports.
  EXPECT_TRUE(shows(spark, "Py4JJavaError: An error occurred while calling z:"));
  EXPECT_TRUE(shows(spark, ": org.apache.spark.SparkException: Job aborted due to stage failure"));
  expect_stable(corpus("corpus_spark_udf.log"), "corpus_spark_udf.log");
  EXPECT_NE(spark.signature, dbt.signature);
  // The BashOperator's exit after the JVM trace is a finding of its own, named by its command;
  // the trace's last line ("... 1 more") is not output that names it.
  const Extraction x = extract_errors(corpus("corpus_spark_udf.log"));
  bool exit_seen = false;
  for (const auto& e : x.errors) {
    if (e.kind != ErrorKind::shell_exit) continue;
    exit_seen = true;
    EXPECT_TRUE(e.message.ends_with("\"$SPARK_JOB\" \"2026-01-01\" (exit code 1)")) << e.message;
    EXPECT_EQ(e.message.find("more"), std::string::npos) << e.message;
  }
  EXPECT_TRUE(exit_seen);
}

// Airflow 3's log as its REST client renders it (the corpus's dbt and wget tasks, through
// dagmedic's own client): `<ts> [info] logger: event key=value …`. The header and the event's
// context keys must not hide a dbt header, a command line or wget's URL: the same diagnosis,
// the same signature as from Airflow 2's text log of the same failure.
TEST(ExtractNested, RenderedAirflow3EventsReadLikeTheCommandsOutput) {
  const Diagnosis dbt = diag(corpus("corpus_dbt_model_rendered.log"));
  EXPECT_EQ(dbt.exception_type, "DbtDatabaseError");
  EXPECT_EQ(dbt.message, "model customer_revenue: column \"customer_id\" does not exist");
  EXPECT_EQ(dbt.category.name, "schema_drift");
  EXPECT_TRUE(shows(dbt, "Running command: ['/usr/bin/bash', '-c', "));
  EXPECT_EQ(dbt.signature, diag(corpus("corpus_dbt_model.log")).signature);
  expect_stable(corpus("corpus_dbt_model_rendered.log"), "corpus_dbt_model_rendered.log");

  const Diagnosis wget = diag(corpus("corpus_wget_404_rendered.log"));
  EXPECT_EQ(wget.kind, "shell_exit");
  EXPECT_EQ(wget.category.name, "missing_upstream_data");
  EXPECT_TRUE(shows(wget, "Running command: ['/usr/bin/bash', '-c', "));
  EXPECT_TRUE(shows(wget, "exports/orders_2026-01-01.csv: dag_id=corpus_http_export"));
  EXPECT_EQ(wget.signature, diag(corpus("corpus_wget_404.log")).signature);
  expect_stable(corpus("corpus_wget_404_rendered.log"), "corpus_wget_404_rendered.log");

  // Only the context keys go (a message's own key=value text stays), and a line that merely
  // starts with a date is left as it is.
  const Diagnosis own = diag(
      "2026-01-01T00:00:01.000001Z [error] task: Task failed exit_code=3 dag_id=d task_id=t\n");
  EXPECT_EQ(own.error, "Task failed exit_code=3");
  const Diagnosis plain =
      diag("2026-01-01T00:00:01Z Command exited with return code 3 dag_id=d task_id=t\n");
  EXPECT_EQ(plain.exit_code, 3);
  EXPECT_TRUE(plain.error.ends_with("return code 3 dag_id=d task_id=t")) << plain.error;
}

TEST(ExtractNested, ContextNamesWhatRan) {
  // bash -x: the traced command that failed, after the BashOperator's own "Running command".
  const Diagnosis x = diag(
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:88} INFO - Running command: ['/usr/bin/bash', "
      "'-c', 'set -ex; ./prepare.sh; ./load.sh --day 2026-01-01']\n"
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:99} INFO - Output:\n"
      "[2026-01-01, 00:00:01 UTC] {subprocess.py:106} INFO - + ./prepare.sh\n"
      "[2026-01-01, 00:00:02 UTC] {subprocess.py:106} INFO - prepared 12 files\n"
      "[2026-01-01, 00:00:02 UTC] {subprocess.py:106} INFO - + ./load.sh --day 2026-01-01\n"
      "[2026-01-01, 00:00:03 UTC] {subprocess.py:106} INFO - load.sh: no space left on device\n"
      "[2026-01-01, 00:00:03 UTC] {subprocess.py:110} INFO - Command exited with return code 4\n");
  EXPECT_EQ(x.kind, "shell_exit");
  EXPECT_TRUE(shows(x, "INFO - + ./load.sh --day"));
  EXPECT_FALSE(shows(x, "INFO - + ./prepare.sh"));  // only the last command before the exit
  EXPECT_EQ(x.category.name, "resource_exhaustion");
  // The HTTP call that failed.
  const Diagnosis h = diag(
      "[2026-01-01, 00:00:01 UTC] {http.py:175} INFO - Sending 'POST' to url: "
      "https://api.example.com/v1/exports\n"
      "[2026-01-01, 00:00:02 UTC] {taskinstance.py:3311} ERROR - Task failed with exception\n"
      "Traceback (most recent call last):\n"
      "  File \"/usr/local/lib/python3.11/site-packages/airflow/providers/http/hooks/http.py\", "
      "line 258, in check_response\n"
      "    raise AirflowException(str(response.status_code) + \":\" + response.reason)\n"
      "airflow.exceptions.AirflowException: 503:Service Unavailable\n");
  EXPECT_TRUE(shows(h, "Sending 'POST' to url: https://api.example.com/v1/exports"));
  // Spark submitted by the provider: its command line.
  EXPECT_TRUE(shows(diag(corpus("spark_submit.log")), "Spark-Submit cmd: spark-submit"));
}

// ---- Sensors and waits ----

TEST(ExtractNested, SensorTimeoutOnMissingDataWaitsForUpstream) {
  const std::string text = corpus("sensor_timeout.log");
  const Diagnosis d = diag(text);
  EXPECT_EQ(d.exception_type, "airflow.exceptions.AirflowSensorTimeout");
  EXPECT_NE(d.message.find("(waiting for: s3://acme-raw/orders/dt=2026-03-01/_SUCCESS)"),
            std::string::npos)
      << d.message;
  EXPECT_EQ(d.category.name, "missing_upstream_data");
  EXPECT_EQ(d.category.action, "wait_for_upstream");
  EXPECT_TRUE(shows(d, "Poking for key : s3://acme-raw/orders/"));
  expect_stable(text, "sensor_timeout.log");
  // Waiting on another dataset is another failure.
  EXPECT_NE(
      diag(std::regex_replace(text, std::regex("acme-raw/orders"), "acme-raw/refunds")).signature,
      d.signature);

  // ExternalTaskSensor: no path, the poke names the upstream DAG and task.
  const std::string ext =
      "[2026-01-02, 06:00:01 UTC] {external_task.py:329} INFO - Poking for tasks ['load'] in dag "
      "billing_export on 2026-01-01T06:00:00+00:00 ... \n"
      "[2026-01-02, 07:00:01 UTC] {taskinstance.py:3311} ERROR - Task failed with exception\n"
      "airflow.exceptions.AirflowSensorTimeout: Sensor has timed out; run duration of 3600.4 "
      "seconds exceeds the specified timeout of 3600.0.\n";
  const Diagnosis e = diag(ext);
  EXPECT_NE(e.message.find("(waiting for: tasks ['load'] in dag billing_export on "),
            std::string::npos)
      << e.message;
  EXPECT_EQ(e.category.name, "missing_upstream_data");
  expect_stable(ext, "external task sensor");
  EXPECT_NE(diag(std::regex_replace(ext, std::regex("billing_export"), "crm_export")).signature,
            e.signature);

  // A hand-written wait that hit its execution_timeout while the marker was absent.
  const Diagnosis w = diag(corpus("wait_timeout.jsonl"));
  EXPECT_EQ(w.exception_type, "AirflowTaskTimeout");
  EXPECT_EQ(w.category.name, "missing_upstream_data");
  EXPECT_EQ(w.category.action, "wait_for_upstream");
  expect_stable(corpus("wait_timeout.jsonl"), "wait_timeout.jsonl");
  // A plain execution_timeout (no poke before it) stays a timeout.
  const Diagnosis t = diag(
      "[2026-01-01, 00:00:05 UTC] {logging_mixin.py:190} INFO - running slow aggregate query\n"
      "[2026-01-01, 00:00:10 UTC] {taskinstance.py:3311} ERROR - Task failed with exception\n"
      "airflow.exceptions.AirflowTaskTimeout: Timeout, PID: 4242\n");
  EXPECT_EQ(t.category.name, "timeout");
}

// ---- Airflow's own failures ----

TEST(ExtractNested, AirflowsOwnFailures) {
  struct Case {
    const char* what;
    std::string log;
    const char* category;
  };
  const Case cases[] = {
      {"SIGTERM",
       "[2026-01-01, 00:10:00 UTC] {local_task_job_runner.py:127} ERROR - Received SIGTERM. "
       "Terminating subprocesses.\n"
       "[2026-01-01, 00:10:00 UTC] {taskinstance.py:3311} ERROR - Task failed with exception\n"
       "Traceback (most recent call last):\n"
       "  File \"/usr/local/lib/python3.11/site-packages/airflow/models/taskinstance.py\", line "
       "2995, in signal_handler\n"
       "    raise AirflowTaskTerminated(\"Task received SIGTERM signal\")\n"
       "airflow.exceptions.AirflowTaskTerminated: Task received SIGTERM signal\n",
       "timeout"},
      {"SIGTERM on Airflow 3",
       "{\"timestamp\":\"2026-01-01T00:10:00.1Z\",\"level\":\"error\",\"event\":\"Process exited "
       "abnormally\",\"exit_code\":-15,\"signal_sent\":\"SIGTERM\",\"logger\":\"supervisor\"}\n",
       "timeout"},
      {"SIGKILL by the OOM killer",
       "[2026-01-01, 00:10:00 UTC] {local_task_job_runner.py:234} INFO - Task exited with return "
       "code -9. For more information, see https://airflow.apache.org/docs/apache-airflow/stable/"
       "troubleshooting.html#LocalTaskJob-killed\n",
       "resource_exhaustion"},
      {"zombie",
       "[2026-01-01, 00:10:00 UTC] {taskinstance.py:1225} ERROR - Detected zombie job: "
       "{'full_filepath': '/opt/airflow/dags/sales.py', 'msg': 'Detected <TaskInstance: "
       "sales.load scheduled__2026-01-01T00:00:00+00:00 [running]> as zombie'}\n",
       "resource_exhaustion"},
      {"heartbeat timeout (Airflow 3)",
       "{\"timestamp\":\"2026-01-01T00:10:00.1Z\",\"level\":\"error\",\"event\":\"Task instance "
       "heartbeat timed out: the task's process stopped sending heartbeats\",\"logger\":"
       "\"airflow.jobs.scheduler_job_runner\"}\n",
       "resource_exhaustion"},
      {"finished although queued",
       "[2026-01-01, 00:10:00 UTC] {scheduler_job_runner.py:843} ERROR - Executor reports task "
       "instance <TaskInstance: sales.load scheduled__2026-01-01T00:00:00+00:00 [queued]> "
       "finished (failed) although the task says it's queued. (Info: None) Was the task killed "
       "externally?\n",
       "resource_exhaustion"},
      {"dagrun_timeout",
       "[2026-01-01, 02:00:00 UTC] {dagrun.py:823} ERROR - Run "
       "scheduled__2026-01-01T00:00:00+00:00 "
       "of sales has timed-out (dagrun_timeout=2:00:00)\n",
       "timeout"},
      {"execution_timeout",
       "[2026-01-01, 00:10:00 UTC] {timeout.py:68} ERROR - Process timed out, PID: 4242\n"
       "[2026-01-01, 00:10:00 UTC] {taskinstance.py:3311} ERROR - Task failed with exception\n"
       "airflow.exceptions.AirflowTaskTimeout: Timeout, PID: 4242\n",
       "timeout"},
      {"DAG import error on the worker",
       "[2026-01-01, 00:10:00 UTC] {cli.py:247} ERROR - Failed to execute job\n"
       "airflow.exceptions.AirflowException: Dag 'sales' could not be found; either it does not "
       "exist or it failed to parse.\n",
       "dependency_or_import"},
      {"import error",
       "Traceback (most recent call last):\n"
       "  File \"/opt/airflow/dags/sales.py\", line 3, in <module>\n"
       "    import pandas_gbq\n"
       "ModuleNotFoundError: No module named 'pandas_gbq'\n",
       "dependency_or_import"},
  };
  for (const Case& c : cases) {
    const Diagnosis d = diag(c.log);
    EXPECT_TRUE(d.found) << c.what;
    EXPECT_EQ(d.category.name, c.category) << c.what << ": " << d.signature_text;
  }
  // A healthy try that mentions heartbeats has no error.
  EXPECT_FALSE(diag("[2026-01-01, 00:00:01 UTC] {local_task_job_runner.py:220} INFO - Heartbeat "
                    "recovered after 12.31 seconds\n"
                    "[2026-01-01, 00:00:09 UTC] {taskinstance.py:1225} INFO - Marking task as "
                    "SUCCESS. dag_id=sales, task_id=load\n")
                   .found);
}

}  // namespace
}  // namespace dm::logs
