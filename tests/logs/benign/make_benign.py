#!/usr/bin/env python3
"""Writes the benign corpus (benign.log): realistic log lines with NO secret, many of them near
misses for the redaction rules (hashes, ids, paths, words like token/key/password in prose).
Deterministic; rerun after editing and commit the output. Over-redaction is measured on it by
src/logs/redact_corpus_test.cpp."""
import hashlib
import os
import random
import uuid

R = random.Random(7)
HERE = os.path.dirname(os.path.abspath(__file__))


def sha(n=40):
    return "".join(R.choice("0123456789abcdef") for _ in range(n))


def uid():
    return str(uuid.UUID(int=R.getrandbits(128)))


def ts():
    return "2026-%02d-%02d, %02d:%02d:%02d UTC" % (R.randint(1, 12), R.randint(1, 28), R.randint(0, 23), R.randint(0, 59), R.randint(0, 59))


def a2(msg, src="taskinstance.py:1234", level="INFO"):
    return "[%s] {%s} %s - %s" % (ts(), src, level, msg)


T = [
    lambda: a2("Dependencies all met for dep_context=non-requeueable deps ti=<TaskInstance: etl.load scheduled__2026-01-01T00:00:00+00:00 [queued]>"),
    lambda: a2("Executing <Task(PythonOperator): transform> on 2026-01-01 00:00:00+00:00"),
    lambda: a2("Exporting env vars: AIRFLOW_CTX_DAG_OWNER='data' AIRFLOW_CTX_DAG_ID='etl' AIRFLOW_CTX_TASK_ID='load' AIRFLOW_CTX_RUN_ID='manual__2026-01-01T03:00:00+00:00'"),
    lambda: a2("Checking out commit %s from origin/main" % sha(40), "git.py:31"),
    lambda: a2("Uploaded s3://acme-datalake/raw/orders/dt=2026-01-%02d/part-%05d-%s.snappy.parquet" % (R.randint(1, 28), R.randint(0, 999), uid()), "s3.py:88"),
    lambda: a2("md5=%s sha256=%s size=%d" % (sha(32), sha(64), R.randint(1, 10**9)), "checks.py:12"),
    lambda: a2("request_id=%s trace_id=%s span_id=%s" % (uid(), sha(32), sha(16)), "http.py:201"),
    lambda: a2("s3_key=raw/events/2026/01/%02d/events-%s.json.gz bucket=acme-raw" % (R.randint(1, 28), sha(12)), "s3.py:40"),
    lambda: a2("cache_key=%s hit=false" % sha(64), "cache.py:19"),
    lambda: a2("Using connection ID 'postgres_default' for task execution.", "base.py:84"),
    lambda: a2("Running statement: SELECT order_id, customer_id, SUM(amount) FROM orders WHERE dt = '2026-01-01' GROUP BY 1, 2, parameters: None", "sql.py:418"),
    lambda: a2("Rows affected: %d" % R.randint(0, 10**6), "sql.py:427"),
    lambda: a2("psycopg2.OperationalError: FATAL:  password authentication failed for user \"airflow\"", level="ERROR"),
    lambda: a2("Bearer authentication failed: token expired, refreshing", "auth.py:77", "WARNING"),
    lambda: a2("token_type=bearer expires_in=3600 scope=read", "oauth.py:55"),
    lambda: a2("max_tokens=4096 temperature=0.2 model=gpt-x", "llm.py:30"),
    lambda: a2("primary_key=order_id partition_key=dt sort_key=updated_at", "schema.py:9"),
    lambda: a2("secret_name=prod/warehouse/credentials region=eu-west-1", "secrets.py:21"),
    lambda: a2("Fetched secret from AWS Secrets Manager: arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf", "secrets.py:33"),
    lambda: a2("timezone=Asia/Tokyo start_date=2026-01-01T00:00:00+09:00", "dag.py:12"),
    lambda: a2("Using basic configuration for logging", "logging_config.py:50"),
    lambda: a2("Authorization failed for user data-eng: missing role", "auth.py:90", "ERROR"),
    lambda: a2("PWD=/home/airflow HOME=/home/airflow SHELL=/bin/bash", "subprocess.py:93"),
    lambda: a2("Spark job job_%s finished: stage 12 (count at NativeMethodAccessorImpl.java:0) took 3.2 s" % sha(8), "spark.py:143"),
    lambda: a2("pod etl-load-%s in namespace airflow is Running on node ip-10-0-%d-%d.eu-west-1.compute.internal" % (sha(8), R.randint(0, 255), R.randint(0, 255)), "pod_manager.py:210"),
    lambda: a2("Successfully installed pandas-2.2.3 numpy-2.1.0 pyarrow-17.0.0 boto3-1.35.0", "subprocess.py:93"),
    lambda: a2("Task exited with return code 1", "local_task_job_runner.py:243"),
    lambda: a2("Marking task as FAILED. dag_id=etl, task_id=load, run_id=scheduled__2026-01-01T00:00:00+00:00, execution_date=20260101T000000, start_date=20260101T000105, end_date=20260101T000210", "taskinstance.py:1206"),
    lambda: a2("GET https://api.partner.example/v2/orders?page=%d&page_size=100 -> 200 (%d ms)" % (R.randint(1, 50), R.randint(10, 900)), "http.py:177"),
    lambda: a2("Waiting for s3://acme-landing/exports/%s/_SUCCESS (poke %d)" % (uid(), R.randint(1, 20)), "s3_key_sensor.py:120"),
    lambda: a2("Key dt=2026-01-01 not found in partition list", "glue.py:64", "WARNING"),
    lambda: a2("Session duration 1h, role arn:aws:iam::123456789012:role/airflow-exec assumed", "sts.py:40"),
    lambda: a2("Pass %d of 3 completed; passed=%d failed=0" % (R.randint(1, 3), R.randint(1, 100)), "checks.py:88"),
    lambda: a2("Processing file /opt/airflow/dags/etl_%s.py" % sha(6), "processor.py:150"),
    lambda: a2("Signature verification: algorithm=RS256 kid=%s ok" % sha(16), "jwt.py:30"),
    lambda: '{"timestamp": "2026-01-01T03:04:05.123456Z", "level": "info", "event": "Task instance is in running state", "logger": "task", "ti_id": "%s"}' % uid(),
    lambda: '{"timestamp": "2026-01-01T03:04:05.123456Z", "level": "error", "event": "Task failed with exception", "error_detail": [{"exc_type": "KeyError", "exc_value": "\'customer_id\'", "frames": [{"filename": "/opt/airflow/dags/etl.py", "lineno": %d, "name": "transform"}]}]}' % R.randint(1, 400),
    lambda: '{"timestamp": "2026-01-01T03:04:05.123456Z", "level": "info", "event": "Pushing xcom", "key": "return_value", "value": "%s"}' % uid(),
    lambda: 'Traceback (most recent call last):',
    lambda: '  File "/usr/local/lib/python3.11/site-packages/airflow/models/taskinstance.py", line %d, in _execute_task' % R.randint(100, 3000),
    lambda: '    result = execute_callable(context=context, **execute_callable_kwargs)',
    lambda: "KeyError: 'customer_id'",
    lambda: 'botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: Access Denied',
    lambda: 'java.lang.OutOfMemoryError: Java heap space',
    lambda: '\tat org.apache.spark.sql.execution.SparkPlan.executeQuery(SparkPlan.scala:%d)' % R.randint(100, 300),
    lambda: 'ERROR:  column "customer_id" does not exist at character %d' % R.randint(1, 200),
    lambda: 'INSERT INTO staging.orders (order_id, amount, created_at) VALUES (%d, %d.%02d, \'2026-01-01 00:00:00\');' % (R.randint(1, 10**6), R.randint(1, 999), R.randint(0, 99)),
    lambda: 'Command exited with return code 137',
    lambda: 'version: %s commit: %s built: 2026-01-01T00:00:00Z' % ("2.10.%d" % R.randint(0, 5), sha(40)),
    lambda: 'docker pull 123456789012.dkr.ecr.eu-west-1.amazonaws.com/etl@sha256:%s' % sha(64),
]


def main():
    lines = [R.choice(T)() for _ in range(3000)]
    with open(os.path.join(HERE, "benign.log"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
