#!/usr/bin/env python3
"""Deterministic generator of a realistic Airflow/Spark/worker log with ground-truth templates.

usage: gen.py LINES OUT_LOG OUT_TRUTH
Writes OUT_LOG (one log line per line) and OUT_TRUTH (the index of the generating template for
each line). Variables are what changes between runs: timestamps, numbers, ids, hosts, paths,
UUIDs, durations, run ids, dates in partitions, try numbers. Words that name things (DAG, task,
table names) come from small sets and are part of the ground truth template only where the
template says so; where they vary inside one template they are variables of that template.
"""
import random
import sys

R = random.Random(20260101)
DAGS = ["sales_daily", "orders_hourly", "finance_reconcile", "clicks_agg", "crm_sync"]
TASKS = ["extract", "transform_orders", "load_dim", "publish", "validate", "merge_facts"]
TABLES = ["orders", "customers", "order_items", "refunds", "sessions"]
BUCKETS = ["acme-raw", "acme-curated"]


def ts():
    return "2026-%02d-%02d, %02d:%02d:%02d UTC" % (R.randint(1, 12), R.randint(1, 28), R.randint(0, 23),
                                                  R.randint(0, 59), R.randint(0, 59))


def iso():
    return "2026-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (R.randint(1, 12), R.randint(1, 28), R.randint(0, 23),
                                                        R.randint(0, 59), R.randint(0, 59), R.randint(0, 999999))


def hexid(n):
    return "".join(R.choice("0123456789abcdef") for _ in range(n))


def uuid():
    return "%s-%s-%s-%s-%s" % (hexid(8), hexid(4), hexid(4), hexid(4), hexid(12))


def host():
    return "ip-10-%d-%d-%d.ec2.internal" % (R.randint(0, 255), R.randint(0, 255), R.randint(0, 255))


def run_id():
    kind = R.choice(["manual", "scheduled"])
    return "%s__%s" % (kind, iso())


def dt():
    return "2026-%02d-%02d" % (R.randint(1, 12), R.randint(1, 28))


def rec(src, level, msg):
    return "[%s] {%s:%d} %s - %s" % (ts(), src, R.randint(50, 3400), level, msg)


T = [
    lambda: rec("taskinstance.py", "INFO", "Starting attempt %d of %d" % (R.randint(1, 3), 3)),
    lambda: rec("taskinstance.py", "INFO", "Executing <Task(PythonOperator): %s> on %s" % (R.choice(TASKS), iso())),
    lambda: rec("standard_task_runner.py", "INFO", "Started process %d to run task" % R.randint(100, 99999)),
    lambda: rec("task_command.py", "INFO", "Running <TaskInstance: %s.%s %s [running]> on host %s" % (
        R.choice(DAGS), R.choice(TASKS), run_id(), host())),
    lambda: rec("logging_mixin.py", "INFO", "reading s3://%s/%s/dt=%s/part-%05d.parquet" % (
        R.choice(BUCKETS), R.choice(TABLES), dt(), R.randint(0, 9999))),
    lambda: rec("logging_mixin.py", "INFO", "loaded %d rows in %.2f s" % (R.randint(0, 10**7), R.random() * 100)),
    lambda: rec("sql.py", "INFO", "Running statement: SELECT count(*) FROM public.%s WHERE dt = '%s', parameters: None" % (
        R.choice(TABLES), dt())),
    lambda: rec("sql.py", "INFO", "Rows affected: %d" % R.randint(0, 10**6)),
    lambda: rec("base.py", "INFO", "Using connection ID '%s' for task execution." % R.choice(["aws_default", "postgres_dw", "snowflake_default"])),
    lambda: rec("taskinstance.py", "INFO", "Marking task as SUCCESS. dag_id=%s, task_id=%s, run_id=%s, execution_date=%s, start_date=%s, end_date=%s" % (
        R.choice(DAGS), R.choice(TASKS), run_id(), "20260101T000000", "20260101T000001", "20260101T000102")),
    lambda: rec("local_task_job_runner.py", "INFO", "Task exited with return code %d" % R.choice([0, 0, 0, 1])),
    lambda: rec("taskinstance.py", "WARNING", "Dependency Trigger Rule: %d upstream tasks not yet finished" % R.randint(1, 20)),
    lambda: rec("s3.py", "INFO", "Uploaded %d bytes to s3://%s/exports/%s/%s.csv.gz" % (
        R.randint(10**3, 10**9), R.choice(BUCKETS), dt().replace("-", "/"), uuid())),
    lambda: rec("http.py", "INFO", "Sending 'GET' to url: https://api.acme.io/v2/orders?page=%d&since=%s" % (R.randint(1, 500), iso())),
    lambda: rec("http.py", "WARNING", "HTTP error %d on attempt %d, retrying in %d seconds" % (
        R.choice([429, 500, 502, 503]), R.randint(1, 5), R.randint(1, 60))),
    lambda: rec("subprocess.py", "INFO", "Output: %d models ran, %d passed, %d warnings in %.1fs" % (
        R.randint(1, 300), R.randint(1, 300), R.randint(0, 9), R.random() * 900)),
    lambda: "%02d/%02d/%02d %02d:%02d:%02d INFO TaskSetManager: Finished task %d.0 in stage %d.0 (TID %d) in %d ms on %s (executor %d) (%d/%d)" % (
        26, R.randint(1, 12), R.randint(1, 28), R.randint(0, 23), R.randint(0, 59), R.randint(0, 59), R.randint(0, 999),
        R.randint(0, 99), R.randint(0, 99999), R.randint(1, 90000), host(), R.randint(1, 64), R.randint(1, 999), 1000),
    lambda: "%02d/%02d/%02d %02d:%02d:%02d INFO BlockManagerInfo: Added broadcast_%d_piece0 in memory on %s:%d (size: %.1f KiB, free: %.1f GiB)" % (
        26, R.randint(1, 12), R.randint(1, 28), R.randint(0, 23), R.randint(0, 59), R.randint(0, 59), R.randint(0, 999),
        host(), R.randint(30000, 60000), R.random() * 100, R.random() * 30),
    lambda: "%02d/%02d/%02d %02d:%02d:%02d WARN TaskSetManager: Lost task %d.%d in stage %d.0 (TID %d) (%s executor %d): java.io.IOException: Connection reset by peer" % (
        26, R.randint(1, 12), R.randint(1, 28), R.randint(0, 23), R.randint(0, 59), R.randint(0, 59), R.randint(0, 999),
        R.randint(0, 3), R.randint(0, 99), R.randint(0, 99999), host(), R.randint(1, 64)),
    lambda: "%s worker-%d celery.worker.strategy INFO Task airflow.executors.celery_executor.execute_command[%s] received" % (
        iso(), R.randint(0, 15), uuid()),
    lambda: "%s worker-%d celery.app.trace INFO Task airflow.executors.celery_executor.execute_command[%s] succeeded in %.3fs: None" % (
        iso(), R.randint(0, 15), uuid(), R.random() * 600),
    lambda: "%s scheduler INFO DAG %s is at (or above) max_active_runs (%d of %d), not creating any more runs" % (
        iso(), R.choice(DAGS), R.randint(1, 16), 16),
    lambda: "%s scheduler INFO Setting next_dagrun for %s to %s, run_after=%s" % (iso(), R.choice(DAGS), iso(), iso()),
    lambda: "%s kubelet Killing container with id containerd://%s: Need to kill Pod etl-worker-%s-%s" % (
        iso(), hexid(64), hexid(9), "".join(R.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(5))),
    lambda: "GET /api/v1/dags/%s/dagRuns/%s/taskInstances?limit=%d HTTP/1.1 200 %d %dms" % (
        R.choice(DAGS), run_id(), R.choice([50, 100]), R.randint(100, 90000), R.randint(1, 3000)),
    lambda: rec("connectionpool.py", "WARNING", "Retrying (Retry(total=%d, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError': /v2/orders" % R.randint(0, 4)),
    lambda: rec("dbapi.py", "INFO", "Query %s finished: %d rows in %.3f s, %d bytes scanned" % (uuid(), R.randint(0, 10**6), R.random() * 60, R.randint(0, 10**12))),
    lambda: rec("taskinstance.py", "ERROR", "Task failed with exception"),
    lambda: "KeyError: '%s'" % R.choice(["customer_id", "order_id", "amount"]),
    lambda: "  File \"/usr/local/airflow/dags/%s.py\", line %d, in %s" % (R.choice(DAGS), R.randint(1, 500), R.choice(TASKS)),
    # Hard cases: a variable with a variable number of words (Drain splits it by token count) and
    # free-text names that no masking recognises.
    lambda: rec("python.py", "INFO", "Done. Returned value was: %s" % R.choice(
        ["None", "ok", "3 files copied", "{'rows': %d, 'status': 'done'}" % R.randint(0, 999), "[]"])),
    lambda: rec("views.py", "INFO", "User %s %s triggered %s" % (
        R.choice(["ana", "bo", "chen", "dana", "eli", "femi"]), R.choice(["smith", "lee", "ng", "kaur"]), R.choice(DAGS))),
]
# Realistic skew: a few templates dominate.
WEIGHTS = [30, 10, 8, 8, 40, 40, 15, 15, 10, 8, 8, 5, 6, 12, 3, 4, 60, 30, 2, 20, 20, 4, 4, 1, 25, 2, 10, 1, 1, 3, 12, 3]
assert len(WEIGHTS) == len(T)


def main():
    n, out_log, out_truth = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    idx = list(range(len(T)))
    with open(out_log, "w") as log, open(out_truth, "w") as truth:
        for _ in range(n):
            t = R.choices(idx, WEIGHTS)[0]
            log.write(T[t]() + "\n")
            truth.write("%d\n" % t)


if __name__ == "__main__":
    main()
