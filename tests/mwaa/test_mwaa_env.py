"""dagmedic on an environment of kind mwaa, end to end: `dagmedic serve` (stdio, official Python MCP client) →
InvokeRestApi / CreateCliToken / GetEnvironment on the MWAA TEST DOUBLE (mwaa_double.py: SigV4 checked with
botocore, forwards to the REAL Airflow 3 rig) and CloudWatch Logs on moto (the rig's real task logs).
Expectations come from the rig's zoo (tests/airflow/zoo.py), as in tests/airflow/test_runbook_e2e.py."""
from __future__ import annotations

import json

import pytest

import zoo
from conftest import DENIED, ENV_NAME, GOOD, LOG_GROUP, aws_env, mwaa_config
from mcpsession import McpSession

FAILED_DAGS = sorted(d for d, e in zoo.EXPECTATIONS.items() if e["state"] == "failed")


def runs(rig: dict, dag_id: str) -> list[str]:
    return [r["run_id"] for r in rig["runs"][dag_id]]


@pytest.fixture(scope="module")
def mcp(airflow3, moto_logs, mwaa_double, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mwaa")
    mwaa_config(tmp / "config.yaml", tmp / "store.db", mwaa_double[0], moto_logs)
    s = McpSession(tmp / "config.yaml", tmp / "home", env=aws_env(GOOD))
    try:
        yield s
    finally:
        s.close()


def journal(mwaa_double) -> list[dict]:
    return [json.loads(line) for line in mwaa_double[1].read_text().splitlines()]


def test_list_recent_failures_through_invoke_rest_api(mcp, mwaa_double):
    r = mcp.call("list_recent_failures", {"window_minutes": 10080})
    assert not r.is_error, r.text
    s = r.structured
    assert set(FAILED_DAGS) <= set(s["dags_affected"]), s["dags_affected"]
    assert not {"zoo_ok", "zoo_flaky"} & set(s["dags_affected"])
    calls = [json.loads(j["body"]) for j in journal(mwaa_double) if j["path"] == f"/restapi/{ENV_NAME}"]
    assert any(c["Path"] == "/dags/~/dagRuns" and c["Method"] == "GET" for c in calls), calls[:5]
    assert all(len(c["Path"]) <= 64 for c in calls)


@pytest.mark.parametrize("dag_id", ["zoo_upstream_failed", "zoo_mapped"])
def test_get_failed_tasks_routes_long_paths(mcp, airflow3, dag_id):
    exp = zoo.EXPECTATIONS[dag_id]
    run_id = runs(airflow3, dag_id)[0]
    r = mcp.call("get_failed_tasks", {"dag_id": dag_id, "run_id": run_id})
    assert not r.is_error, r.text
    s = r.structured
    assert s["first_failing_task"] == exp["first_failing"]
    failed = [t for t in s["tasks"] if t["state"] == "failed"]
    assert sorted((t["task_id"], t["map_index"]) for t in failed) == \
        sorted((f["task_id"], f["map_index"]) for f in exp["failed"])


@pytest.mark.parametrize("dag_id", ["zoo_missing_partition", "zoo_mapped"])
def test_extract_task_errors_reads_cloudwatch(mcp, airflow3, mwaa_double, dag_id):
    err = zoo.EXPECTATIONS[dag_id]["errors"][0]
    run_id = runs(airflow3, dag_id)[0]
    r = mcp.call("extract_task_errors", {"dag_id": dag_id, "run_id": run_id, "task_id": err["task_id"],
                                         "map_index": err["map_index"]})
    assert not r.is_error, r.text
    s = r.structured
    assert s["found"] is True, s
    shown = s["error"] + "\n" + "\n".join(line["text"] for line in s["lines"])
    assert any(c in shown for c in err["contains"]), (err["contains"], shown[:2000])
    # The log came from CloudWatch (moto), never from the REST log endpoint.
    calls = [json.loads(j["body"]) for j in journal(mwaa_double) if j["path"] == f"/restapi/{ENV_NAME}"]
    assert not any("/logs/" in c["Path"] for c in calls)


def test_task_log_tail_from_cloudwatch(mcp, airflow3):
    run_id = runs(airflow3, "zoo_big_log")[0]
    r = mcp.call("task_log", {"dag_id": "zoo_big_log", "run_id": run_id, "task_id": "replay_events"})
    assert not r.is_error, r.text
    s = r.structured
    assert s["total_lines"] >= 5000
    text = "\n".join(line["text"] for line in s["lines"])
    assert "checksum mismatch in batch 04999" in text, r.text[:2000]


def test_task_log_of_a_try_that_never_ran_is_a_clear_error(mcp, airflow3):
    # The try is checked against Airflow (over InvokeRestApi) before any CloudWatch stream is read.
    run_id = runs(airflow3, "zoo_big_log")[0]
    r = mcp.call("task_log", {"dag_id": "zoo_big_log", "run_id": run_id, "task_id": "replay_events",
                              "try_number": 7})
    assert r.is_error
    assert "try_number 7 does not exist" in r.text and "has run 1 time" in r.text, r.text


def test_access_denied_names_the_iam_action(airflow3, moto_logs, mwaa_double, tmp_path):
    mwaa_config(tmp_path / "config.yaml", tmp_path / "store.db", mwaa_double[0], moto_logs)
    with McpSession(tmp_path / "config.yaml", tmp_path / "home", env=aws_env(DENIED)) as s:
        r = s.call("list_recent_failures", {"window_minutes": 10080})
        assert r.is_error
        assert "airflow:InvokeRestApi" in r.text, r.text
        assert DENIED[1] not in r.text


def test_a_wrong_secret_fails_the_signature_check(airflow3, moto_logs, mwaa_double, tmp_path):
    mwaa_config(tmp_path / "config.yaml", tmp_path / "store.db", mwaa_double[0], moto_logs)
    with McpSession(tmp_path / "config.yaml", tmp_path / "home", env=aws_env((GOOD[0], "not-the-secret"))) as s:
        r = s.call("list_recent_failures", {"window_minutes": 10080})
        assert r.is_error
        assert "credentials" in r.text.lower() or "signature" in r.text.lower(), r.text
        assert "not-the-secret" not in r.text
