"""What each zoo DAG (tests/airflow/dags/) is expected to produce on the rig, for Airflow 2.10 and 3.x alike.

The rig copies this into rig.json["expectations"]; tests import it or read rig.json. Per DAG:
  state            terminal state of every rig run of the DAG
  tags             the DAG's tags, as listed by the REST API
  first_failing    task id that fails first (None when the run succeeds)
  failed           [{"task_id", "map_index"}] task instances that end `failed`
  upstream_failed  task ids that end `upstream_failed` (all map indexes, if mapped)
  tries            {task_id: try_number of the final try} for the failed / retried tasks
  errors           [{"task_id", "map_index", "try_number", "contains": [...]}]: substrings planted in that try's log
                   (every one must appear; search the rendered text of v1 logs or each v2 JSON event)
  secrets          fake credentials the task prints (must appear raw in Airflow's log; dagmedic must redact them)
  min_log_bytes    lower bound for the size of the failing try's log
  recovery         (zoo_recoverable) {"marker", "task_id", "contains"}: the task fails while the file `marker` under
                   rig.json["zoo_data"] is absent and succeeds once it exists; `contains` is in the failing try's log
The import-error file is described by IMPORT_ERROR (it has no DAG and no runs).
"""

from __future__ import annotations

import copy

# Same construction as dags/zoo_lib.py (kept in pieces so secret scanners don't flag the source).
FAKE_AWS_KEY_ID = "AKIA" + "ZQ3X7DMNP4RT2WLS"
FAKE_AWS_SECRET = "wJalr" + "XUtnFEMI/K7MDENG/bPxRfiCYzq3x7dmnP4rt"
FAKE_DB_PASSWORD = "S3cr3t-" + "Pa55w0rd"
FAKE_DB_URI = "postgresql://etl_user:" + FAKE_DB_PASSWORD + "@warehouse.internal:5432/analytics"
FAKE_BEARER = "dmzt_" + "7f3a9c2e5b8d4f1a6e0c9b2d7a4f8e1c3b5d9a2f"  # opaque: Airflow 3 masks JWT-shaped ones itself

# Logical dates of the two rig runs of every DAG (the same failure on two dates must read the same).
RUN_DATES = ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"]


def run_id_for(dag_id: str, logical_date: str) -> str:
    return f"rig__{logical_date[:10]}"


def _fail(task_id, *contains, map_index=-1, try_number=1):
    return {"task_id": task_id, "map_index": map_index, "try_number": try_number, "contains": list(contains)}


EXPECTATIONS: dict[str, dict] = {
    "zoo_missing_partition": {
        "state": "failed",
        "tags": ["business_critical", "team=ingest", "tier=1"],
        "first_failing": "load_orders_partition",
        "failed": [{"task_id": "load_orders_partition", "map_index": -1}],
        "upstream_failed": ["publish_orders"],
        "tries": {"load_orders_partition": 1},
        "errors": [_fail("load_orders_partition", "FileNotFoundError", "No such file or directory", "part-0.parquet")],
    },
    "zoo_permission_denied": {
        "state": "failed",
        "tags": ["team=finance", "tier=2"],
        "first_failing": "export_to_sftp",
        "failed": [{"task_id": "export_to_sftp", "map_index": -1}],
        "upstream_failed": [],
        "tries": {"export_to_sftp": 1},
        "errors": [_fail("export_to_sftp", "PermissionError", "Permission denied", "export_orders.sh")],
    },
    "zoo_schema_drift": {
        "state": "failed",
        "tags": ["team=analytics", "tier=1"],
        "first_failing": "transform_customers",
        "failed": [{"task_id": "transform_customers", "map_index": -1}],
        "upstream_failed": [],
        "tries": {"transform_customers": 1},
        "errors": [_fail("transform_customers", "KeyError", "customer_id")],
    },
    "zoo_timeout": {
        "state": "failed",
        "tags": ["team=analytics", "tier=2"],
        "first_failing": "slow_query",
        "failed": [{"task_id": "slow_query", "map_index": -1}],
        "upstream_failed": [],
        "tries": {"slow_query": 1},
        "errors": [_fail("slow_query", "AirflowTaskTimeout", "execution_timeout=5s")],
    },
    "zoo_memory_error": {
        "state": "failed",
        "tags": ["team=ml", "tier=3"],
        "first_failing": "build_feature_matrix",
        "failed": [{"task_id": "build_feature_matrix", "map_index": -1}],
        "upstream_failed": [],
        "tries": {"build_feature_matrix": 1},
        "errors": [_fail("build_feature_matrix", "MemoryError", "allocating feature matrix")],
    },
    "zoo_connection_refused": {
        "state": "failed",
        "tags": ["business_critical", "team=platform", "tier=1"],
        "first_failing": "sync_to_warehouse",
        "failed": [{"task_id": "sync_to_warehouse", "map_index": -1}],
        "upstream_failed": [],
        "tries": {"sync_to_warehouse": 1},
        "errors": [_fail("sync_to_warehouse", "ConnectionRefusedError", "Connection refused")],
    },
    "zoo_flaky": {
        "state": "success",
        "tags": ["team=ingest", "tier=2"],
        "first_failing": None,
        "failed": [],
        "upstream_failed": [],
        "tries": {"fetch_exchange_rates": 2},
        "errors": [_fail("fetch_exchange_rates", "ConnectionResetError", "reset the connection (transient)")],
        "success_log": {"task_id": "fetch_exchange_rates", "try_number": 2, "contains": ["fetched 168 exchange rates"]},
    },
    "zoo_leaky_log": {
        "state": "failed",
        "tags": ["team=platform", "tier=2"],
        "first_failing": "upload_report",
        "failed": [{"task_id": "upload_report", "map_index": -1}],
        "upstream_failed": [],
        "tries": {"upload_report": 1},
        "errors": [_fail("upload_report", "RuntimeError", "AccessDenied")],
        "secrets": [FAKE_AWS_KEY_ID, FAKE_AWS_SECRET, FAKE_DB_PASSWORD, FAKE_BEARER],
    },
    "zoo_big_log": {
        "state": "failed",
        "tags": ["team=ingest", "tier=3"],
        "first_failing": "replay_events",
        "failed": [{"task_id": "replay_events", "map_index": -1}],
        "upstream_failed": [],
        "tries": {"replay_events": 1},
        "errors": [_fail("replay_events", "ValueError", "checksum mismatch in batch 04999")],
        "min_log_bytes": 5_000_000,
    },
    "zoo_upstream_failed": {
        "state": "failed",
        "tags": ["business_critical", "team=finance", "tier=1"],
        "first_failing": "extract_orders",
        "failed": [{"task_id": "extract_orders", "map_index": -1}],
        "upstream_failed": ["transform_orders", "load_orders"],
        "tries": {"extract_orders": 1},
        "errors": [_fail("extract_orders", "ValueError", "billing API returned 0 rows")],
    },
    "zoo_mapped": {
        "state": "failed",
        "tags": ["team=ml", "tier=2"],
        "first_failing": "process_partition",
        "failed": [{"task_id": "process_partition", "map_index": 2}],
        "upstream_failed": ["merge_partitions"],
        "tries": {"process_partition": 1},
        "errors": [_fail("process_partition", "ValueError", "partition 2: corrupt parquet footer", map_index=2)],
        "map_indexes": {"process_partition": [0, 1, 2, 3]},
    },
    # Fails on both rig dates while the marker is absent. The runbook tests (test_runbook_*.py) create the marker and
    # trigger a third run that succeeds: the recovery case. Its error text lives under "recovery", not "errors", so
    # the per-DAG signature tables keep their scope.
    "zoo_recoverable": {
        "state": "failed",
        "tags": ["team=ingest", "tier=1"],
        "first_failing": "load_vendor_prices",
        "failed": [{"task_id": "load_vendor_prices", "map_index": -1}],
        "upstream_failed": [],
        "tries": {"load_vendor_prices": 1},
        "errors": [],
        "recovery": {"marker": "recoverable/READY", "task_id": "load_vendor_prices",
                     "contains": ["RuntimeError", "vendor price feed not delivered"]},
    },
    "zoo_ok": {
        "state": "success",
        "tags": ["tier=3"],
        "first_failing": None,
        "failed": [],
        "upstream_failed": [],
        "tries": {"say_hello": 1},
        "errors": [],
    },
}

# The zoo's scheduled DAG (dags/zoo_scheduled.py): every minute, created paused, never triggered by the rig.
SCHEDULED = {"dag_id": "zoo_scheduled", "every_seconds": 60}
# The zoo's sleeping DAG (dags/zoo_sleeper.py): one task that sleeps up to 15 minutes, never triggered by the rig.
SLEEPER = {"dag_id": "zoo_sleeper", "task_id": "wait_for_lock"}
IMPORT_ERROR = {"filename": "zoo_import_error.py", "contains": ["not_a_module"]}

DAG_IDS = sorted(EXPECTATIONS)


def expectations() -> dict:
    """A deep copy, safe to serialize or mutate."""
    return {"dags": copy.deepcopy(EXPECTATIONS), "import_error": dict(IMPORT_ERROR), "run_dates": list(RUN_DATES)}
