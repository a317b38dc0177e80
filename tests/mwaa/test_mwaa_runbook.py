"""The runbook end-to-end checks of tests/airflow/test_runbook_e2e.py, run as they are on an environment of kind
mwaa: REST through InvokeRestApi on the MWAA TEST DOUBLE (forwarding to the real Airflow 3 rig), task logs from
CloudWatch Logs on moto where the rig's Amazon provider wrote them. The test functions are imported, not copied:
this module only provides the `mcp` fixture they use (environment named "rig", as there; `rest` comes with them and
finds the rig through conftest's `airflow_rig`), with the AWS secret key added to the strings no answer may
contain. Plus what that file does not cover: propose_action and the resources."""
from __future__ import annotations

import pytest

from conftest import GOOD, aws_env, mwaa_config
from mcpsession import McpSession
import test_runbook_e2e as e2e
from test_runbook_e2e import *  # noqa: F401,F403  (every test_* of the runbook e2e, collected here on kind mwaa)


@pytest.fixture(scope="module")
def mcp(mwaa_rig, moto, mwaa_double, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mwaa-runbook")
    mwaa_config(tmp / "config.yaml", tmp / "store.db", mwaa_double[0], moto.url, env_name="rig")
    with open(tmp / "config.yaml", "a") as f:
        f.write(e2e.RECOVERY_YAML)
    with McpSession(tmp / "config.yaml", tmp / "home", env=aws_env(GOOD)) as session:
        checked = e2e.Checked(session, mwaa_rig)
        checked.forbidden.append(GOOD[1])
        yield checked


def test_propose_action_on_mwaa(mcp, rest):
    """Remediate's read-only step on a diagnosis read from CloudWatch: it proposes, binds the run, never executes."""
    dag_id = "zoo_missing_partition"
    run_id = e2e.rig_runs(mcp.rig, dag_id)[0]
    e = mcp.call("extract_task_errors", {"dag_id": dag_id, "run_id": run_id,
                                         "task_id": "load_orders_partition"}).structured
    s = mcp.call("propose_action", {"signature": e["signature"],
                                    "context": {"dag_id": dag_id, "run_id": run_id,
                                                "category": e["category"]}}).structured
    assert s["signature"] == e["signature"] and s["category"] == e["category"], s
    assert s["action"] in ("clear_failed_tasks", "trigger_dag", "wait_for_upstream", "escalate", "none"), s
    assert s["reason"] and s["next_step"], s
    if s["action"] in ("clear_failed_tasks", "trigger_dag"):
        assert s["requires_approval"] is True and s["params"]["dag_id"] == dag_id, s
    runs_now = {r["dag_run_id"] for r in rest.get(f"/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]}
    assert runs_now == set(e2e.rig_runs(mcp.rig, dag_id)), "propose_action must not start anything"


def test_resources_on_mwaa(mcp):
    uris = {str(r.uri) for r in mcp.s.list_resources()}
    assert uris, "no resources listed"
    for uri in sorted(uris)[:10]:
        text = mcp.s.read_resource(uri)
        for secret in mcp.forbidden:
            assert secret not in text, f"{uri}: a planted secret ({secret[:5]}…)"
