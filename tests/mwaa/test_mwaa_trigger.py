"""Guarded trigger_dag on an environment of kind mwaa, end to end: the agent asks over MCP (request_approval), a
DIFFERENT human approves with `dagmedic approvals approve` (principal from the config's identity.principal), then
trigger_dag goes through MWAA's CLI path: CreateCliToken on the MWAA TEST DOUBLE → POST /aws_mwaa/cli → the real
`airflow dags trigger` of the real Airflow 3 rig. The run must appear in Airflow with its conf exactly as approved,
and `dagmedic audit verify` must pass. Refusals: the requester (an agent) cannot approve; an approval is used once;
a hostile conf value cannot add CLI arguments."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ENV_NAME, GOOD, aws_env, guard_sections, mwaa_config
from mcpsession import DAGMEDIC, McpSession
from rigrest import RigRest
from test_runbook_e2e import rest  # noqa: F401  (fixture: RigRest on the rig, found through airflow_rig)

ENV = "mwaa"
DAG = "zoo_ok"
CLEAR_DAG = "zoo_schema_drift"  # fails on every run: a cleared task runs again and fails again
CONF_SCHEMA = {"type": "object", "additionalProperties": False,
               "properties": {**{k: {"type": "string", "maxLength": 400} for k in ("note", "n1", "n2", "n3")},
                              "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}}}
# Values that would add CLI arguments or run commands if the command line were built or split carelessly; one
# trigger carries them all (each `airflow dags trigger` costs ~30 s on a busy 2-core machine).
HOSTILE = {"note": "x' --run-id evil", "n1": "x' --conf '{}' --run-id evil2 '", "n2": "$(touch /tmp/dm-pwned) `id`",
           "n3": "a\nb\t--run-id=evil3 \\' \""}
WAIT_S = 240


class Ws:
    """A dagmedic workspace on the mwaa environment: one store and audit key, one config per principal."""

    def __init__(self, root: Path, double_url: str, logs_url: str):
        self.root, self.double_url, self.logs_url = root, double_url, logs_url
        root.mkdir(parents=True, exist_ok=True)
        self.env = aws_env(GOOD)

    def config(self, principal: str) -> Path:
        path = self.root / f"config-{principal.replace(':', '_')}.yaml"
        if not path.exists():
            mwaa_config(path, self.root / "dagmedic.db", self.double_url, self.logs_url, env_name=ENV,
                        extra=guard_sections(self.root, ENV, principal, [DAG, CLEAR_DAG], CONF_SCHEMA))
        return path

    def cli(self, *args: str, principal: str = "operator") -> subprocess.CompletedProcess:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root / "home-cli"), **self.env}
        return subprocess.run([str(DAGMEDIC), *args, "--config", str(self.config(principal))], env=env,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def ws(mwaa_rig, moto, mwaa_double, tmp_path_factory):
    w = Ws(tmp_path_factory.mktemp("mwaa-guard") / "ws", mwaa_double[0], moto.url)
    w.session = McpSession(w.config("operator"), w.root / "home-serve", env=w.env)
    try:
        yield w
    finally:
        w.session.close()


def runs_of(rest: RigRest, dag: str = DAG) -> dict[str, dict]:
    return {r["dag_run_id"]: r for r in rest.get(f"/dags/{dag}/dagRuns", limit=100)["dag_runs"]}


def poll(fetch, done, what: str) -> dict:
    """fetch() every 2 s until done(answer); fails after WAIT_S naming `what` and the last answer."""
    deadline = time.monotonic() + WAIT_S
    while True:
        got = fetch()
        if done(got):
            return got
        assert time.monotonic() < deadline, f"{what} not reached in {WAIT_S}s: {json.dumps(got)[:300]}"
        time.sleep(2)


def wait_run(rest: RigRest, run_id: str) -> dict:
    return poll(lambda: rest.dag_run(DAG, run_id), lambda r: r["state"] in ("success", "failed"),
                f"{DAG} {run_id} finished")


def cli_calls(mwaa_double) -> list[list[str]]:
    """The argument words the double's CLI endpoint ran (`airflow <words>`), oldest first."""
    p = Path(str(mwaa_double[1]) + ".cli")
    return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


def request(ws: Ws, conf: dict):
    c = ws.session.call("request_approval", {"environment": ENV, "action": "trigger_dag",
                                             "params": {"dag_id": DAG, "conf": conf}, "reason": "INC-7 rerun"})
    assert not c.is_error, c.text
    return c["approval_id"]


def trigger(ws: Ws, aid: str, conf: dict):
    return ws.session.call("trigger_dag", {"environment": ENV, "dag_id": DAG, "conf": conf, "approval_id": aid})


def audit_ok(ws: Ws) -> None:
    r = ws.cli("audit", "verify")
    assert r.returncode == 0 and "ok" in r.stdout.lower(), f"audit verify: rc={r.returncode}\n{r.stdout}\n{r.stderr}"


def test_requester_cannot_approve_and_a_human_can(ws):
    aid = request(ws, {"date": "2026-02-01"})
    r = ws.cli("approvals", "approve", aid, "--reason", "lgtm", principal="agent:mcp")  # the requester itself
    assert r.returncode != 0 and re.search(r"agent|requester", r.stdout + r.stderr, re.I), r.stdout + r.stderr
    assert "pending" in ws.cli("approvals", "show", aid).stdout
    t = trigger(ws, aid, {"date": "2026-02-01"})
    assert t.is_error and re.search(r"pending|approv", t.text, re.I), t.text
    audit_ok(ws)


def test_guarded_trigger_through_the_cli_token_path(ws, rest, mwaa_double):
    conf = {"note": "rerun after the fix", "date": "2026-02-02"}
    aid = request(ws, conf)
    run_id = f"dagmedic__{aid}"
    before_cli = len(cli_calls(mwaa_double))
    r = ws.cli("approvals", "approve", aid, "--reason", "checked the parameters", principal="bob")
    assert r.returncode == 0, r.stdout + r.stderr
    t = trigger(ws, aid, conf)
    assert not t.is_error, t.text
    assert t["run_id"] == run_id and t["status"] == "triggered", t.structured

    # It went CreateCliToken → /aws_mwaa/cli → `airflow dags trigger`, not a REST POST.
    j = [json.loads(line) for line in mwaa_double[1].read_text().splitlines()]
    assert any(e["path"] == f"/clitoken/{ENV_NAME}" for e in j)
    posts = [json.loads(e["body"]) for e in j if e["path"] == f"/restapi/{ENV_NAME}"]
    assert not any(p["Method"] == "POST" and p["Path"].endswith("/dagRuns") for p in posts)
    new = cli_calls(mwaa_double)[before_cli:]
    assert len(new) == 1 and new[0][:3] == ["dags", "trigger", DAG], new

    run = runs_of(rest)[run_id]
    assert run["conf"] == conf
    assert wait_run(rest, run_id)["state"] == "success"
    audit_ok(ws)

    # The same approval a second time: refused, no second run, nothing sent to the CLI.
    again = trigger(ws, aid, conf)
    assert again.is_error and re.search(r"used|consumed", again.text, re.I), again.text
    assert len(cli_calls(mwaa_double)) == before_cli + 1
    assert list(runs_of(rest)).count(run_id) == 1
    audit_ok(ws)


def test_hostile_conf_is_one_cli_word_and_arrives_exactly(ws, rest, mwaa_double):
    conf = dict(HOSTILE)
    before = set(runs_of(rest))
    aid = request(ws, conf)
    assert ws.cli("approvals", "approve", aid, "--reason", "ok", principal="bob").returncode == 0
    n = len(cli_calls(mwaa_double))
    t = trigger(ws, aid, conf)
    assert not t.is_error, t.text
    words = cli_calls(mwaa_double)[n]
    assert words[:3] == ["dags", "trigger", DAG] and len(words) == 5, words
    assert words[3] == f"--run-id=dagmedic__{aid}", words
    assert words[4].startswith("--conf=") and json.loads(words[4][len("--conf="):]) == conf, words
    after = runs_of(rest)
    assert set(after) - before == {f"dagmedic__{aid}"}, sorted(set(after) - before)
    assert after[f"dagmedic__{aid}"]["conf"] == conf
    assert not Path("/tmp/dm-pwned").exists()
    audit_ok(ws)


def test_guarded_clear_failed_tasks_through_invoke_rest_api(ws, rest, mwaa_rig, mwaa_double):
    """clear_failed_tasks on mwaa: approved by another human, sent as InvokeRestApi POST clearTaskInstances with
    dry_run false; the failed task really runs again (try 2) in the real Airflow."""
    run_id = mwaa_rig["runs"][CLEAR_DAG][1]["run_id"]
    task = "transform_customers"
    c = ws.session.call("request_approval", {"environment": ENV, "action": "clear_failed_tasks",
                                             "params": {"dag_id": CLEAR_DAG, "run_id": run_id},
                                             "reason": "INC-7 clear after the schema fix"})
    assert not c.is_error, c.text
    aid = c["approval_id"]
    assert ws.cli("approvals", "approve", aid, "--reason", "ok", principal="bob").returncode == 0
    t = ws.session.call("clear_failed_tasks", {"environment": ENV, "dag_id": CLEAR_DAG, "run_id": run_id,
                                               "approval_id": aid})
    assert not t.is_error, t.text
    assert task in json.dumps(t.structured), t.structured
    j = [json.loads(e["body"]) for e in (json.loads(line) for line in mwaa_double[1].read_text().splitlines())
         if e["path"] == f"/restapi/{ENV_NAME}"]
    clears = [b for b in j if b["Path"] == f"/dags/{CLEAR_DAG}/clearTaskInstances"]
    assert len(clears) == 1 and clears[0]["Method"] == "POST", clears
    assert clears[0]["Body"]["dry_run"] is False and run_id in json.dumps(clears[0]["Body"]), clears[0]
    poll(lambda: rest.get(f"/dags/{CLEAR_DAG}/dagRuns/{run_id}/taskInstances/{task}"),
         lambda ti: ti["try_number"] == 2 and ti["state"] in ("failed", "success"), f"{task} ran again (try 2)")
    again = ws.session.call("clear_failed_tasks", {"environment": ENV, "dag_id": CLEAR_DAG, "run_id": run_id,
                                                   "approval_id": aid})
    assert again.is_error and re.search(r"used|consumed", again.text, re.I), again.text
    audit_ok(ws)


def test_no_secret_in_any_answer_of_the_step(mwaa_rig):
    """Last test of the step (files run in name order): every answer every dagmedic session of tests/mwaa sent (kept
    in mcpsession.ALL_OUTPUTS) is free of the zoo's planted secrets, the AWS secret keys and the rig's password."""
    from conftest import DENIED
    from mcpsession import ALL_OUTPUTS
    from test_runbook_e2e import SECRETS

    forbidden = [*SECRETS, GOOD[1], DENIED[1], "not-the-secret", mwaa_rig["password"]]
    assert len(ALL_OUTPUTS) >= 8, "the trigger tests alone make more calls than that"
    for what, payload in ALL_OUTPUTS:
        for secret in forbidden:
            assert secret not in payload, f"{what}: a secret ({secret[:5]}…) reached the client"
