"""The C++ Airflow client (src/airflow, driven through build/airflow-probe) against the REAL rigs.

Every test runs against Airflow 3 (API v2, JWT) and Airflow 2.10 (API v1, basic auth) through the `airflow_rig`
fixture of conftest.py, and checks what the client returns against the zoo's expectations (zoo.py) and the runs the
rig recorded in rig.json.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

import zoo
from local_server import free_port
from probe import env_of, run_probe

FAILING = [d for d, e in zoo.EXPECTATIONS.items() if e["state"] == "failed"]


def probe(rig_or_env: dict, op: str, args: dict | None = None, *, expect_rc: int | None = None) -> dict:
    env = rig_or_env if "name" in rig_or_env else env_of(rig_or_env)
    rc, out, _ = run_probe(env, op, args)
    if expect_rc is not None:
        assert rc == expect_rc, out
    assert rc == (0 if out["ok"] else (2 if out["error"]["code"] == "usage" else 1)), (rc, out)
    return out


def ok(rig: dict, op: str, args: dict | None = None):
    out = probe(rig, op, args)
    assert out["ok"], f"{op} {args}: {out['error']}"
    return out["result"]


def rig_run_ids(rig: dict, dag_id: str) -> set[str]:
    return {r["run_id"] for r in rig["runs"][dag_id]}


def test_server_info_matches_the_rig(airflow_rig):
    info = ok(airflow_rig, "server_info")
    assert info["api_version"] == airflow_rig["api_version"]
    assert info["version"] == airflow_rig["airflow_version"]
    # Configured dialect skips detection and agrees.
    pinned = env_of(airflow_rig, api_version=airflow_rig["api_version"])
    assert ok(pinned, "server_info")["api_version"] == airflow_rig["api_version"]


@pytest.mark.parametrize("dag_id", zoo.DAG_IDS)
def test_runs_of_each_dag_newest_first(airflow_rig, dag_id):
    exp = zoo.EXPECTATIONS[dag_id]
    runs = ok(airflow_rig, "list_runs", {"dag_id": dag_id, "states": [exp["state"]]})
    ids = [r["run_id"] for r in runs]
    assert rig_run_ids(airflow_rig, dag_id) <= set(ids), (dag_id, ids)
    assert all(r["state"] == exp["state"] and r["dag_id"] == dag_id for r in runs)
    assert len(ids) == len(set(ids))
    after = [r["run_after"] for r in runs]
    assert after == sorted(after, reverse=True)
    for r in runs:
        if r["run_id"] in rig_run_ids(airflow_rig, dag_id):
            assert r["logical_date"][:10] in {d[:10] for d in zoo.RUN_DATES}


def test_failed_runs_across_all_dags_paged_to_the_end(airflow_rig):
    big = ok(airflow_rig, "list_runs", {"states": ["failed"]})
    small = ok(env_of(airflow_rig, page_size=3), "list_runs", {"states": ["failed"]})
    key = lambda rs: [(r["dag_id"], r["run_id"]) for r in rs]  # noqa: E731
    assert key(big) == key(small)  # 3 per page → many pages, same answer
    got = set(key(big))
    for dag_id in FAILING:
        for run_id in rig_run_ids(airflow_rig, dag_id):
            assert (dag_id, run_id) in got
    assert not any(d in ("zoo_ok", "zoo_flaky") for d, _ in got)
    limited = ok(env_of(airflow_rig, page_size=3), "list_runs", {"states": ["failed"], "limit": 4})
    assert key(limited) == key(big)[:4]


def test_time_window_excludes_everything_in_the_future(airflow_rig):
    runs = ok(airflow_rig, "list_runs", {"states": ["failed"], "since": "2099-01-01T00:00:00Z"})
    assert runs == []
    both = ok(airflow_rig, "list_runs", {"states": ["failed"], "since": "2000-01-01T00:00:00Z",
                                         "until": "2099-01-01T00:00:00Z"})
    assert len(both) >= 2 * len(FAILING)


@pytest.mark.parametrize("dag_id", FAILING)
def test_failed_tasks_with_try_numbers(airflow_rig, dag_id):
    exp = zoo.EXPECTATIONS[dag_id]
    for run_id in rig_run_ids(airflow_rig, dag_id):
        failed = ok(airflow_rig, "list_tasks", {"dag_id": dag_id, "run_id": run_id, "states": ["failed"]})
        assert sorted((t["task_id"], t["map_index"]) for t in failed) == \
            sorted((f["task_id"], f["map_index"]) for f in exp["failed"])
        for t in failed:
            assert t["try_number"] == exp["tries"][t["task_id"]], t
            assert t["state"] == "failed" and t["run_id"] == run_id
        upstream = ok(airflow_rig, "list_tasks", {"dag_id": dag_id, "run_id": run_id, "states": ["upstream_failed"]})
        assert sorted({t["task_id"] for t in upstream}) == sorted(exp["upstream_failed"])
        everything = ok(airflow_rig, "list_tasks", {"dag_id": dag_id, "run_id": run_id})
        for task_id, indexes in exp.get("map_indexes", {}).items():
            assert sorted(t["map_index"] for t in everything if t["task_id"] == task_id) == indexes


@pytest.mark.parametrize("dag_id", [d for d, e in zoo.EXPECTATIONS.items() if e["errors"]])
def test_log_contains_the_planted_error(airflow_rig, dag_id):
    exp = zoo.EXPECTATIONS[dag_id]
    for run_id in rig_run_ids(airflow_rig, dag_id):
        for err in exp["errors"]:
            res = ok(airflow_rig, "read_log", {
                "dag_id": dag_id, "run_id": run_id, "task_id": err["task_id"], "try_number": err["try_number"],
                "map_index": err["map_index"], "grep": err["contains"], "tail_lines": 0, "head_lines": 0})
            missing = [s for s, n in res["matches"].items() if n == 0]
            assert not missing, f"{dag_id} {run_id} {err['task_id']}: not in log: {missing} ({res['lines']} lines)"
            assert not res["stopped_by_sink"]


def test_flaky_task_second_try_log(airflow_rig):
    exp = zoo.EXPECTATIONS["zoo_flaky"]["success_log"]
    for run_id in rig_run_ids(airflow_rig, "zoo_flaky"):
        res = ok(airflow_rig, "read_log", {"dag_id": "zoo_flaky", "run_id": run_id, "task_id": exp["task_id"],
                                           "try_number": exp["try_number"], "grep": exp["contains"]})
        assert all(n > 0 for n in res["matches"].values()), res["matches"]


def test_multi_megabyte_log_is_streamed_fully_and_can_be_cut_short(airflow_rig):
    exp = zoo.EXPECTATIONS["zoo_big_log"]
    err = exp["errors"][0]
    run_id = sorted(rig_run_ids(airflow_rig, "zoo_big_log"))[0]
    args = {"dag_id": "zoo_big_log", "run_id": run_id, "task_id": err["task_id"], "try_number": 1,
            "grep": err["contains"], "tail_lines": 40, "head_lines": 0}
    full = ok(airflow_rig, "read_log", args)
    assert full["bytes"] >= exp["min_log_bytes"], full["bytes"]
    assert full["lines"] > 5000
    assert all(n > 0 for n in full["matches"].values())
    assert len(full["tail"]) == 40  # a bounded tail kept while the whole log streamed through
    cut = ok(airflow_rig, "read_log", {**args, "stop_after_lines": 100})
    assert cut["stopped_by_sink"] and cut["lines"] == 100


def test_unknown_dag_run_and_task_are_not_found(airflow_rig):
    for op, args in [
        ("get_dag", {"dag_id": "no_such_dag"}),
        ("get_run", {"dag_id": "zoo_ok", "run_id": "no_such_run"}),
        ("get_run", {"dag_id": "no_such_dag", "run_id": "x"}),
        ("list_tasks", {"dag_id": "zoo_ok", "run_id": "no_such_run"}),
        ("latest_run", {"dag_id": "no_such_dag"}),
        ("read_log", {"dag_id": "zoo_schema_drift", "run_id": sorted(rig_run_ids(airflow_rig, "zoo_schema_drift"))[0],
                      "task_id": "no_such_task", "try_number": 1}),
        ("trigger", {"dag_id": "no_such_dag", "dag_run_id": "x", "conf": {}}),
    ]:
        out = probe(airflow_rig, op, args, expect_rc=1)
        assert out["error"]["code"] == "not_found", (op, out)
        assert out["error"]["message"].startswith(f'environment "rig{airflow_rig["api_version"]}": '), out


def test_dag_details_and_tags(airflow_rig):
    for dag_id in ("zoo_missing_partition", "zoo_upstream_failed", "zoo_ok"):
        d = ok(airflow_rig, "get_dag", {"dag_id": dag_id})
        assert sorted(d["tags"]) == sorted(zoo.EXPECTATIONS[dag_id]["tags"])
        assert d["is_paused"] is False and d["dag_id"] == dag_id and d["owners"]


def test_import_errors(airflow_rig):
    errs = [e for e in ok(airflow_rig, "import_errors") if e["filename"].endswith(zoo.IMPORT_ERROR["filename"])]
    assert len(errs) == 1
    assert all(s in errs[0]["stack_trace"] for s in zoo.IMPORT_ERROR["contains"])


def test_latest_run(airflow_rig):
    latest = ok(airflow_rig, "latest_run", {"dag_id": "zoo_schema_drift"})
    first = ok(airflow_rig, "list_runs", {"dag_id": "zoo_schema_drift", "limit": 1})
    assert latest == first[0]


def test_trigger_with_conf_and_run_id_then_duplicate_is_conflict(airflow_rig):
    run_id = f"dagmedic_test__{uuid.uuid4().hex[:12]}"
    conf = {"reason": "afclient integration test", "marker": run_id[-12:]}
    run = ok(airflow_rig, "trigger", {"dag_id": "zoo_ok", "dag_run_id": run_id, "conf": conf, "note": "by dagmedic"})
    assert run["run_id"] == run_id and run["conf"] == conf and run["dag_id"] == "zoo_ok"
    dup = probe(airflow_rig, "trigger", {"dag_id": "zoo_ok", "dag_run_id": run_id, "conf": conf}, expect_rc=1)
    assert dup["error"]["code"] == "conflict", dup
    assert run_id in dup["error"]["message"]
    # The run really happens, with our conf.
    deadline = time.time() + 240
    state = run["state"]
    while state not in ("success", "failed") and time.time() < deadline:
        time.sleep(2)
        state = ok(airflow_rig, "get_run", {"dag_id": "zoo_ok", "run_id": run_id})["state"]
    assert state == "success", f"zoo_ok {run_id} ended {state}"
    log = ok(airflow_rig, "read_log", {"dag_id": "zoo_ok", "run_id": run_id, "task_id": "say_hello",
                                       "try_number": 1, "grep": [conf["marker"]]})
    assert log["matches"][conf["marker"]] > 0


def test_clear_dry_run_changes_nothing(airflow_rig):
    dag_id = "zoo_connection_refused"
    run_id = sorted(rig_run_ids(airflow_rig, dag_id))[0]
    task_id = zoo.EXPECTATIONS[dag_id]["first_failing"]
    before = ok(airflow_rig, "list_tasks", {"dag_id": dag_id, "run_id": run_id})
    would = ok(airflow_rig, "clear", {"dag_id": dag_id, "dag_run_id": run_id, "task_ids": [task_id], "dry_run": True})
    assert [t["task_id"] for t in would] == [task_id]
    after = ok(airflow_rig, "list_tasks", {"dag_id": dag_id, "run_id": run_id})
    strip = lambda ts: [(t["task_id"], t["map_index"], t["state"], t["try_number"]) for t in ts]  # noqa: E731
    assert strip(after) == strip(before)
    assert ok(airflow_rig, "get_run", {"dag_id": dag_id, "run_id": run_id})["state"] == "failed"
    # The probe refuses a clear without an explicit dry_run (the client always sends one).
    out = probe(airflow_rig, "clear", {"dag_id": dag_id, "dag_run_id": run_id, "task_ids": [task_id]}, expect_rc=2)
    assert out["error"]["code"] == "usage"


def test_wrong_password_is_unauthenticated(airflow_rig):
    out = probe(env_of(airflow_rig, password="not-the-password"), "list_runs", {"states": ["failed"]}, expect_rc=1)
    assert out["error"]["code"] == "unauthenticated", out
    assert "wrong username or password" in out["error"]["message"]
    assert "not-the-password" not in out["error"]["message"]


def test_stopped_airflow_is_unavailable_and_named():
    port = free_port()
    env = {"name": "stopped", "url": f"http://127.0.0.1:{port}", "username": "u", "password": "p",
           "timeout_seconds": 5, "max_attempts": 2}
    out = probe(env, "list_runs", {"states": ["failed"]}, expect_rc=1)
    assert out["error"]["code"] == "unavailable", out
    msg = out["error"]["message"]
    assert msg.startswith(f'environment "stopped": list DAG runs: Airflow at http://127.0.0.1:{port} refused'), msg
