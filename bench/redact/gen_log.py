#!/usr/bin/env python3
"""gen_log.py OUT [MB]: a deterministic, realistic Airflow-like task log (Airflow 2 text lines,
Airflow 3 JSON events, tracebacks, SQL, S3 paths, hashes) of about MB megabytes (default 100),
with a few planted secrets per MB. Prints {"bytes":…, "lines":…, "secrets":…} as JSON."""
import json
import random
import sys

R = random.Random(1234)
HEX = "0123456789abcdef"
AL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def h(n):
    return "".join(R.choice(HEX) for _ in range(n))


def a(n):
    return "".join(R.choice(AL) for _ in range(n))


def ts(i):
    return "2026-01-%02d, %02d:%02d:%02d UTC" % (1 + i % 28, i % 24, i % 60, (i * 7) % 60)


NORMAL = [
    lambda i: "[%s] {taskinstance.py:1234} INFO - Dependencies all met for dep_context=non-requeueable deps ti=<TaskInstance: etl_%d.load scheduled__2026-01-01T00:00:00+00:00 [queued]>" % (ts(i), i % 50),
    lambda i: "[%s] {s3.py:88} INFO - Uploaded s3://acme-datalake/raw/orders/dt=2026-01-%02d/part-%05d-%s.snappy.parquet" % (ts(i), 1 + i % 28, i % 1000, h(32)),
    lambda i: "[%s] {sql.py:418} INFO - Running statement: SELECT order_id, customer_id, SUM(amount) FROM orders WHERE dt = '2026-01-%02d' GROUP BY 1, 2, parameters: None" % (ts(i), 1 + i % 28),
    lambda i: "[%s] {sql.py:427} INFO - Rows affected: %d" % (ts(i), i * 37 % 100000),
    lambda i: "[%s] {http.py:177} INFO - GET https://api.partner.example/v2/orders?page=%d&page_size=100 -> 200 (%d ms)" % (ts(i), i % 90, i % 900),
    lambda i: "[%s] {checks.py:12} INFO - md5=%s sha256=%s" % (ts(i), h(32), h(64)),
    lambda i: "[%s] {git.py:31} INFO - Checking out commit %s from origin/main" % (ts(i), h(40)),
    lambda i: "[%s] {pod_manager.py:210} INFO - pod etl-load-%s in namespace airflow is Running" % (ts(i), h(8)),
    lambda i: "[%s] {subprocess.py:93} INFO - %d/%d tasks done, %.1f%% complete" % (ts(i), i % 100, 100, (i % 100) * 1.0),
    lambda i: '{"timestamp": "2026-01-01T03:04:%02d.123456Z", "level": "info", "event": "Task instance is in running state", "logger": "task", "ti_id": "%s-%s-%s-%s-%s"}' % (i % 60, h(8), h(4), h(4), h(4), h(12)),
    lambda i: '{"timestamp": "2026-01-01T03:04:%02d.123456Z", "level": "info", "event": "Pushing xcom", "key": "return_value", "value": %d}' % (i % 60, i),
    lambda i: '{"timestamp": "2026-01-01T03:04:%02d.123456Z", "level": "warning", "event": "Retrying request", "attempt": %d, "url": "https://api.partner.example/v2/items/%d"}' % (i % 60, i % 5, i),
    lambda i: "Traceback (most recent call last):",
    lambda i: '  File "/usr/local/lib/python3.11/site-packages/airflow/models/taskinstance.py", line %d, in _execute_task' % (100 + i % 3000),
    lambda i: "    result = execute_callable(context=context, **execute_callable_kwargs)",
    lambda i: "KeyError: 'customer_id'",
    lambda i: "\tat org.apache.spark.sql.execution.SparkPlan.executeQuery(SparkPlan.scala:%d)" % (100 + i % 200),
]

SECRETS = [
    lambda: "[x] {subprocess.py:93} INFO - export AWS_ACCESS_KEY_ID=AKIA%s" % "".join(R.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
    lambda: "[x] {subprocess.py:93} INFO - export AWS_SECRET_ACCESS_KEY=%s" % (a(38) + "+/"),
    lambda: "[x] {base.py:84} INFO - AIRFLOW_CONN_DWH=postgres://etl:%s@dwh.internal:5432/dwh" % a(14),
    lambda: '{"event": "calling API", "level": "info", "params": {"token": "%s"}}' % a(40),
    lambda: "[x] {http.py:177} INFO - headers={'Authorization': 'Bearer %s'}" % a(48),
    lambda: "[x] {hooks.py:10} INFO - configured client with ghp_%s" % a(36),
    lambda: '    conn = connect(host="db", password="%s")' % a(12),
]


def main():
    out = sys.argv[1]
    mb = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0
    target = int(mb * 1e6)
    size = lines = secrets = 0
    i = 0
    buf = []
    next_secret = R.randint(100_000, 400_000)  # about 4 secrets per MB
    with open(out, "w") as f:
        while size < target:
            i += 1
            if size >= next_secret:
                line = R.choice(SECRETS)()
                secrets += 1
                next_secret = size + R.randint(100_000, 400_000)
            else:
                line = NORMAL[(i * 7 + (i >> 3)) % len(NORMAL)](i)
            buf.append(line)
            size += len(line) + 1
            lines += 1
            if len(buf) >= 10000:
                f.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            f.write("\n".join(buf) + "\n")
    print(json.dumps({"bytes": size, "lines": lines, "secrets": secrets}))


if __name__ == "__main__":
    main()
