"""The real-world log corpus: DAGs (tests/airflow/dags/corpus_*.py) that fail for a real reason with a real operator,
and what a human calls the cause of each failure. Written before looking at what dagmedic says about them.

The rig (rig.py up --corpus) seeds the warehouse database, triggers every corpus DAG on three logical dates and records
the runs in rig.json["corpus_runs"]; tests/airflow/test_corpus.py fetches each failing try's log and runs
`dagmedic logs extract -` on it. Unlike the zoo, nothing here is a hand-raised string: the errors come from wget,
json, PostgreSQL through the Postgres provider, dbt-postgres and a local Spark.

Per DAG:
  task_id     the task that fails (the DAG's only task; no retries)
  operator    what runs it
  cause       the cause in a human's words
  category    the category a human gives it (rules/categories.yaml)
  exception   the exception type's last dotted part, when the failure is an exception (None: a command's exit)
  signature   regexes that must all match the signature text: what names the cause (column, table, exit code, …)
  log         substrings that must be in Airflow's log of the failing try (the failure really happened)
"""

from __future__ import annotations

import copy

# Three logical dates: the same failure on three dates must give one signature.
RUN_DATES = ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"]

# The warehouse the SQL and dbt DAGs query: a database of the rig's own PostgreSQL, seeded by rig.py before the runs.
# `orders` has `ordered_at` and `customer_ref`; the DAGs still use the old names `order_ts` and `customer_id`. There is
# no `staging_orders`: the missing table.
WAREHOUSE_DB = "warehouse"
WAREHOUSE_CONN_ID = "corpus_warehouse"
WAREHOUSE_SQL = """
CREATE TABLE orders (order_id integer PRIMARY KEY, customer_ref text NOT NULL, amount numeric(10, 2) NOT NULL,
                     ordered_at timestamptz NOT NULL);
INSERT INTO orders VALUES (1, 'C-100', 12.50, '2026-01-01 08:00+00'), (2, 'C-101', 7.00, '2026-01-01 09:30+00'),
                          (3, 'C-100', 3.25, '2026-01-02 10:15+00'), (4, 'C-102', 99.90, '2026-01-03 11:45+00');
CREATE TABLE orders_daily (day date PRIMARY KEY, revenue numeric(12, 2) NOT NULL);
"""

EXPECTATIONS: dict[str, dict] = {
    "corpus_http_export": {
        "task_id": "fetch_vendor_export",
        "operator": "BashOperator: wget of a file the vendor has not published (HTTP 404, wget exit 8)",
        "cause": "the export is not there: HTTP 404 for the file, wget exit code 8",
        "category": "missing_upstream_data",
        "exception": None,
        "signature": [r"\b404\b", r"\b8\b"],
        "log": ["wget", "404", "exit"],
    },
    "corpus_json_manifest": {
        "task_id": "parse_manifest",
        "operator": "PythonOperator: json.load of a truncated manifest",
        "cause": "json.decoder.JSONDecodeError: Expecting value (the manifest file is cut short)",
        "category": "code_bug",
        "exception": "JSONDecodeError",
        "signature": [r"JSONDecodeError", r"Expecting value"],
        "log": ["JSONDecodeError", "Expecting value"],
    },
    "corpus_sql_missing_column": {
        "task_id": "daily_revenue",
        "operator": "SQLExecuteQueryOperator (Postgres provider) on the rig's PostgreSQL",
        "cause": 'column "order_ts" does not exist (renamed to ordered_at)',
        "category": "schema_drift",
        "exception": "UndefinedColumn",
        "signature": [r'column "?order_ts"? does not exist'],
        "log": ["UndefinedColumn", 'column "order_ts" does not exist'],
    },
    "corpus_sql_missing_table": {
        "task_id": "load_orders_daily",
        "operator": "SQLExecuteQueryOperator (Postgres provider) on the rig's PostgreSQL",
        "cause": 'relation "staging_orders" does not exist (the upstream never created it)',
        "category": "missing_upstream_data",
        "exception": "UndefinedTable",
        "signature": [r'relation "?staging_orders"? does not exist'],
        "log": ["UndefinedTable", 'relation "staging_orders" does not exist'],
    },
    "corpus_dbt_model": {
        "task_id": "dbt_run",
        "operator": "BashOperator: dbt run (dbt-core + dbt-postgres) on the rig's PostgreSQL",
        "cause": 'model customer_revenue: column "customer_id" does not exist',
        "category": "schema_drift",
        "exception": None,
        "signature": [r"customer_revenue", r'column "?customer_id"? does not exist'],
        "log": ["Database Error in model customer_revenue", 'column "customer_id" does not exist'],
    },
    "corpus_spark_udf": {
        "task_id": "parse_events",
        "operator": "BashOperator: a local PySpark job whose Python function fails inside an executor",
        "cause": "ValueError: time data '07/12/2025 10:00' does not match format '%Y-%m-%d %H:%M' (in the executor)",
        "category": "code_bug",
        "exception": "ValueError",
        "signature": [r"ValueError", r"does not match format"],
        "log": ["Py4JJavaError", "Job aborted due to stage failure", "ValueError: time data"],
    },
}

DAG_IDS = sorted(EXPECTATIONS)


def run_id_for(dag_id: str, logical_date: str) -> str:
    return f"rig__{logical_date[:10]}"


def expectations() -> dict:
    """A deep copy, safe to serialize or mutate."""
    return {"dags": copy.deepcopy(EXPECTATIONS), "run_dates": list(RUN_DATES)}
