"""dagmedic on an environment of kind mwaa, end to end: `dagmedic serve` (stdio, official Python MCP client) →
InvokeRestApi / CreateCliToken / GetEnvironment on the MWAA TEST DOUBLE (mwaa_double.py: SigV4 checked with
botocore, forwards to the REAL Airflow 3 rig) and CloudWatch Logs on moto, where the rig's Amazon provider wrote the
real task logs (remote logging). Expectations come from the rig's zoo (tests/airflow/zoo.py). The runbook e2e checks
themselves run on this environment in test_mwaa_runbook.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import zoo
from conftest import DENIED, ENV_NAME, GOOD, LOG_GROUP, REGION, aws_env, mwaa_config
from mcpsession import McpSession

FAILED_DAGS = sorted(d for d, e in zoo.EXPECTATIONS.items() if e["state"] == "failed")


def runs(rig: dict, dag_id: str) -> list[str]:
    return [r["run_id"] for r in rig["runs"][dag_id]]


def stream_of(dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 1) -> str:
    """The stream name MWAA (and the provider) use: the local log path template with ":" → "_"."""
    mi = f"map_index={map_index}/" if map_index >= 0 else ""
    return f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/{mi}attempt={try_number}.log".replace(":", "_")


@pytest.fixture(scope="module")
def mcp(mwaa_rig, moto, mwaa_double, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mwaa")
    mwaa_config(tmp / "config.yaml", tmp / "store.db", mwaa_double[0], moto.url)
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
def test_get_failed_tasks_routes_long_paths(mcp, mwaa_rig, dag_id):
    exp = zoo.EXPECTATIONS[dag_id]
    run_id = runs(mwaa_rig, dag_id)[0]
    r = mcp.call("get_failed_tasks", {"dag_id": dag_id, "run_id": run_id})
    assert not r.is_error, r.text
    s = r.structured
    assert s["first_failing_task"] == exp["first_failing"]
    failed = [t for t in s["tasks"] if t["state"] == "failed"]
    assert sorted((t["task_id"], t["map_index"]) for t in failed) == \
        sorted((f["task_id"], f["map_index"]) for f in exp["failed"])


def test_the_provider_wrote_every_zoo_try_under_the_mwaa_stream_name(mwaa_rig, moto):
    """Remote logging (apache-airflow-providers-amazon, the task supervisor's CloudWatchRemoteLogIO) put each try's
    log into the log group under exactly the name dagmedic computes: nothing was copied by the tests."""
    have = set(moto.streams())
    want = set()
    for dag_id, exp in zoo.EXPECTATIONS.items():
        for run_id in runs(mwaa_rig, dag_id):
            for f in exp["failed"]:
                want.add(stream_of(dag_id, run_id, f["task_id"], f["map_index"], exp["tries"][f["task_id"]]))
            for e in exp["errors"]:
                want.add(stream_of(dag_id, run_id, e["task_id"], e["map_index"], e["try_number"]))
    missing = sorted(w for w in want if w not in have or not moto.written(w))
    assert not missing, f"streams missing or empty in {LOG_GROUP}: {missing[:5]} (have e.g. {sorted(have)[:5]})"
    assert all(":" not in s for s in have)
    mapped = {s for s in have if s.startswith("dag_id=zoo_mapped/") and "/task_id=process_partition/" in s
              and moto.written(s)}
    assert len(mapped) == 2 * len(zoo.EXPECTATIONS["zoo_mapped"]["map_indexes"]["process_partition"]), mapped
    # The events are the supervisor's structlog events, one JSON object each (what dagmedic renders).
    ev = moto.client().get_log_events(logGroupName=LOG_GROUP, startFromHead=True, limit=20,
                                      logStreamName=stream_of("zoo_ok", runs(mwaa_rig, "zoo_ok")[0], "say_hello"))
    assert ev["events"] and all(json.loads(e["message"]).get("event") is not None for e in ev["events"])


@pytest.mark.parametrize("dag_id", ["zoo_missing_partition", "zoo_mapped"])
def test_extract_task_errors_reads_cloudwatch(mcp, mwaa_rig, mwaa_double, moto, dag_id):
    err = zoo.EXPECTATIONS[dag_id]["errors"][0]
    run_id = runs(mwaa_rig, dag_id)[0]
    r = mcp.call("extract_task_errors", {"dag_id": dag_id, "run_id": run_id, "task_id": err["task_id"],
                                         "map_index": err["map_index"]})
    assert not r.is_error, r.text
    s = r.structured
    assert s["found"] is True, s
    shown = s["error"] + "\n" + "\n".join(line["text"] for line in s["lines"])
    assert any(c in shown for c in err["contains"]), (err["contains"], shown[:2000])
    # The log came from CloudWatch (moto), never from the REST log endpoint, and from the provider's stream.
    calls = [json.loads(j["body"]) for j in journal(mwaa_double) if j["path"] == f"/restapi/{ENV_NAME}"]
    assert not any("/logs/" in c["Path"] for c in calls)
    asked = {(g["logGroupName"], g["logStreamName"]) for g in moto.requests("GetLogEvents")}
    stream = stream_of(dag_id, run_id, err["task_id"], err["map_index"], err["try_number"])
    assert (LOG_GROUP, stream) in asked, sorted(asked)[:5]
    assert all(moto.written(s) for _, s in asked), "dagmedic asked for a stream the provider never wrote"


def test_task_log_tail_from_cloudwatch(mcp, mwaa_rig):
    run_id = runs(mwaa_rig, "zoo_big_log")[0]
    r = mcp.call("task_log", {"dag_id": "zoo_big_log", "run_id": run_id, "task_id": "replay_events"})
    assert not r.is_error, r.text
    s = r.structured
    assert s["total_lines"] >= 5000
    text = "\n".join(line["text"] for line in s["lines"])
    assert "checksum mismatch in batch 04999" in text, r.text[:2000]


def test_task_log_of_a_try_that_never_ran_is_a_clear_error(mcp, mwaa_rig):
    # The try is checked against Airflow (over InvokeRestApi) before any CloudWatch stream is read.
    run_id = runs(mwaa_rig, "zoo_big_log")[0]
    r = mcp.call("task_log", {"dag_id": "zoo_big_log", "run_id": run_id, "task_id": "replay_events",
                              "try_number": 7})
    assert r.is_error
    assert "try_number 7 does not exist" in r.text and "has run 1 time" in r.text, r.text


def test_access_denied_names_the_iam_action(mwaa_rig, moto, mwaa_double, tmp_path):
    mwaa_config(tmp_path / "config.yaml", tmp_path / "store.db", mwaa_double[0], moto.url)
    with McpSession(tmp_path / "config.yaml", tmp_path / "home", env=aws_env(DENIED)) as s:
        r = s.call("list_recent_failures", {"window_minutes": 10080})
        assert r.is_error
        assert "airflow:InvokeRestApi" in r.text, r.text
        assert DENIED[1] not in r.text


def test_a_wrong_secret_fails_the_signature_check(mwaa_rig, moto, mwaa_double, tmp_path):
    mwaa_config(tmp_path / "config.yaml", tmp_path / "store.db", mwaa_double[0], moto.url)
    with McpSession(tmp_path / "config.yaml", tmp_path / "home", env=aws_env((GOOD[0], "not-the-secret"))) as s:
        r = s.call("list_recent_failures", {"window_minutes": 10080})
        assert r.is_error
        assert "credentials" in r.text.lower() or "signature" in r.text.lower(), r.text
        assert "not-the-secret" not in r.text


def test_the_double_speaks_the_botocore_service_model(mwaa_rig, mwaa_double):
    """boto3's own mwaa client (request built and reply parsed from botocore's service model, mwaa 2020-07-01)
    against the double: the shapes dagmedic was written for are the model's (InvokeRestApi Path/Method/
    QueryParameters/Body → RestApiStatusCode/RestApiResponse; RestApiClientException; ValidationException)."""
    import boto3
    import botocore.config
    import botocore.exceptions

    c = boto3.client("mwaa", region_name=REGION, endpoint_url=mwaa_double[0], aws_access_key_id=GOOD[0],
                     aws_secret_access_key=GOOD[1], config=botocore.config.Config(inject_host_prefix=False))
    r = c.invoke_rest_api(Name=ENV_NAME, Path="/dags", Method="GET", QueryParameters={"dag_id_pattern": "zoo_ok"})
    assert r["RestApiStatusCode"] == 200 and [d["dag_id"] for d in r["RestApiResponse"]["dags"]] == ["zoo_ok"]
    with pytest.raises(c.exceptions.RestApiClientException) as e:
        c.invoke_rest_api(Name=ENV_NAME, Path="/dags/zoo_no_such_dag", Method="GET")
    assert e.value.response["RestApiStatusCode"] == 404
    with pytest.raises(c.exceptions.ValidationException):
        c.invoke_rest_api(Name=ENV_NAME, Path="/dags/" + "x" * 60, Method="GET")
    tok = c.create_cli_token(Name=ENV_NAME)
    assert tok["CliToken"] and tok["WebServerHostname"]
    env = c.get_environment(Name=ENV_NAME)["Environment"]
    assert env["LoggingConfiguration"]["TaskLogs"]["CloudWatchLogGroupArn"].endswith(f":log-group:{LOG_GROUP}:*")
    denied = boto3.client("mwaa", region_name=REGION, endpoint_url=mwaa_double[0], aws_access_key_id=DENIED[0],
                          aws_secret_access_key=DENIED[1], config=botocore.config.Config(inject_host_prefix=False))
    with pytest.raises(denied.exceptions.AccessDeniedException) as e:
        denied.invoke_rest_api(Name=ENV_NAME, Path="/dags", Method="GET")
    assert "not authorized" in e.value.response["Error"]["Message"]


def test_the_cloudwatch_copy_of_the_big_log_is_whole(mwaa_rig, moto):
    """Every line of the 5 MB log reached CloudWatch (rig.py creates the zoo's streams first: watchtower silently
    drops what is emitted while it creates a missing stream), one event per line of the local file."""
    stream = stream_of("zoo_big_log", runs(mwaa_rig, "zoo_big_log")[0], "replay_events")
    local = (Path(mwaa_rig["airflow_home"]) / "logs" / stream).read_text().splitlines()
    cw, n, kw = moto.client(), 0, {}
    while True:
        page = cw.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True, **kw)
        n += len(page["events"])
        if page["nextForwardToken"] == kw.get("nextToken"):
            break
        kw = {"nextToken": page["nextForwardToken"]}
    assert n == len(local) and n > 5000, (n, len(local))
