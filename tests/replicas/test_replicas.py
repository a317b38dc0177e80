"""Issue 13, "replicas with no sticky sessions": the runbook Detect → Triage → Diagnose → Remediate → Verify →
Postmortem on a failed run of the REAL Airflow 3 rig, through ONE MCP client (official Python SDK, 2026-07-28, no
session) that only knows HAProxy's URL, with two `dagmedic serve --transport http` replicas behind it (roundrobin,
no stickiness) sharing one config: store on one PostgreSQL, one audit key (stack.py).

What must hold:
  * both replicas answer the session's requests, alternately (no stickiness), each answer names its replica
    (`X-Dm-Replica`, set by HAProxy);
  * an approval requested through one replica and approved out of band by other humans (`dagmedic approvals approve`
    as bob, and carol for the prod tier's second approval, on the same store) is consumed through the OTHER replica,
    exactly once: the replay through the first replica is refused;
  * after one replica is SIGKILLed, the next calls (the first of them aimed at the dead one by roundrobin: HAProxy
    retries it elsewhere) succeed through the survivor, Verify and Postmortem included;
  * `dagmedic audit verify` on the shared store is OK, and Airflow has exactly one run triggered by dagmedic and
    exactly one new try of the cleared task.

The tests run in file order and hand results on through `S`; a failure makes the later ones fail with a pointer.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

import zoo
from rigrest import RigRest
from stack import APPROVERS, REPLICAS, deadline_poll

DAG = "zoo_recoverable"
REC = zoo.EXPECTATIONS[DAG]["recovery"]
TASK = REC["task_id"]
WINDOW = 10080
RUN_WAIT_S = 240
S: dict = {}  # state handed from one test to the next


def other(replica: str) -> str:
    return next(r for r in REPLICAS if r != replica)


def need(*keys: str) -> None:
    missing = [k for k in keys if k not in S]
    assert not missing, f"an earlier test did not pass (missing {missing})"


def ok(a):
    assert not a.is_error, f"{a.tool} {a.arguments} via {a.replica or '?'} -> isError: {a.text}"
    assert isinstance(a.structured, dict), f"{a.tool}: no structuredContent"
    assert a.replica in REPLICAS, f"{a.tool}: answer without a known X-Dm-Replica header ({a.replica!r})"
    return a


def refused(a, pattern: str):
    assert a.is_error, f"{a.tool} {a.arguments} via {a.replica} was NOT refused: {a.text}"
    assert re.search(pattern, a.text, re.I), f"{a.tool}: unclear refusal: {a.text}"
    return a


def call_on(client, replica: str, tool: str, args: dict):
    """A call answered by `replica`. HAProxy's roundrobin alternates between the two replicas, so when the previous
    request went to `replica` one read goes first (to the other). The header of the answer is checked either way."""
    if client.last_replica() == replica:
        ok(client.call("get_latest_run", {"dag_id": DAG}))
    a = client.call(tool, args)
    assert a.replica == replica, f"{tool} was answered by {a.replica}, not {replica}: {client.dump()[-2000:]}"
    return a


def dag_runs(rest: RigRest) -> dict[str, dict]:
    return {r["dag_run_id"]: r for r in rest.get(f"/dags/{DAG}/dagRuns", limit=100)["dag_runs"]}


def task_try(rest: RigRest, run_id: str) -> dict:
    return next(t for t in rest.task_instances(DAG, run_id) if t["task_id"] == TASK)


@pytest.fixture(scope="module")
def rest(airflow3):
    r = RigRest(airflow3)
    yield r
    r.close()


@pytest.fixture(scope="module")
def marker(airflow3) -> Path:
    return Path(airflow3["zoo_data"]) / REC["marker"]


@pytest.fixture(scope="module", autouse=True)
def broken_feed(airflow3, rest, marker):
    """The incident: the newest run of zoo_recoverable failed because the vendor feed is missing. A fresh rig has two
    such runs; a kept rig (DM_RIG_KEEP) fixed by an earlier session is broken again and gets a new failed run."""
    runs = sorted(dag_runs(rest).values(), key=lambda r: r.get("run_after") or r.get("logical_date") or "")
    if marker.exists() or not runs or runs[-1]["state"] != "failed":
        marker.unlink(missing_ok=True)
        run_id = "replicas_broken__" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        r = rest.http.post(f"{rest.base}/dags/{DAG}/dagRuns",
                           json={"dag_run_id": run_id, "logical_date": datetime.now(timezone.utc).isoformat(),
                                 "conf": {}})
        assert r.status_code in (200, 201), r.text[:300]
        deadline_poll(f"{DAG} {run_id} to fail", lambda: rest.dag_run(DAG, run_id)["state"] == "failed", RUN_WAIT_S, 1)
    yield


# ---------------------------------------------------------------- the stack


def test_both_replicas_serve_behind_haproxy(stack, client):
    assert stack.health() == {"r1": "UP", "r2": "UP"}
    seen = set()
    for _ in range(4):  # alternating answers, both with the full tool list
        tools, replica = client.list_tools()
        names = {t.name for t in tools}
        assert {"list_recent_failures", "request_approval", "trigger_dag", "clear_failed_tasks",
                "generate_postmortem"} <= names
        seen.add(replica)
    assert seen == set(REPLICAS), f"tools/list answered only by {seen}"
    S["state_key"] = stack.state_key
    print(f"server.request_state_key_file in the config: {stack.state_key}")


# ---------------------------------------------------------------- Detect / Triage / Diagnose


def test_detect(client, rest):
    S["runs_before"] = set(dag_runs(rest))
    rf = ok(client.call("list_recent_failures", {"window_minutes": WINDOW}))
    assert DAG in rf["dags_affected"], rf["dags_affected"]
    fr = ok(client.call("list_failed_runs", {"dag_id": DAG, "window_minutes": WINDOW}))
    assert fr["count"] >= 1 and all(r["state"] == "failed" for r in fr["runs"])
    incident = fr["runs"][0]["run_id"]  # newest first
    latest = ok(client.call("get_latest_run", {"dag_id": DAG}))
    assert latest["found"] and latest["run"]["run_id"] == incident and latest["run"]["state"] == "failed"
    S["incident"] = incident


def test_triage(client, rest):
    need("incident")
    ids = {"dag_id": DAG, "run_id": S["incident"]}
    s = ok(client.call("get_run_summary", ids))
    assert s["state"] == "failed" and s["first_failing_task"]["task_id"] == TASK
    assert s["severity"] == "sev1" and s["incident_id"]  # tier=1
    f = ok(client.call("get_failed_tasks", ids))
    assert f["first_failing_task"] == TASK and [t["task_id"] for t in f["tasks"]] == [TASK]
    S["try_before"] = task_try(rest, S["incident"])["try_number"]
    S["incident_id"] = s["incident_id"]


def test_diagnose(client):
    need("incident")
    ids = {"dag_id": DAG, "run_id": S["incident"], "task_id": TASK}
    log = ok(client.call("task_log", {**ids, "tail_lines": 50}))
    assert any(REC["contains"][1] in line["text"] for line in log["lines"]), log.text[:1500]
    e = ok(client.call("extract_task_errors", ids))
    assert e["found"] and e["exception_type"].rsplit(".", 1)[-1] == "RuntimeError", e.structured
    assert e["signature"] and e["category"] and e["incident_id"] == S["incident_id"]
    freq = ok(client.call("failure_frequency", {"dag_id": DAG, "lookback_hours": 168}))
    assert freq["failed_runs"] >= 1 and freq["groups"][0]["signature"] == e["signature"]
    S["signature"] = e["signature"]


# ---------------------------------------------------------------- Remediate


def test_remediate_dev_clear_requested_on_one_replica_consumed_on_the_other(stack, client, marker):
    need("signature")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("delivered during tests/replicas\n")  # the cause is fixed: the feed landed
    ids = {"dag_id": DAG, "run_id": S["incident"]}
    p = ok(client.call("propose_action", {"signature": S["signature"], "context": {**ids, "upstream_ready": True}}))
    assert p["action"] == "clear_failed_tasks" and p["requires_approval"] is True, p.structured
    req_args = p["params"]
    assert req_args["action"] == "clear_failed_tasks" and req_args["params"]["run_id"] == S["incident"]
    env = req_args.get("environment") or "dev"

    req = ok(client.call("request_approval", {**req_args, "reason": "vendor feed landed; rerun the failed load"}))
    aid, asked_on = req["approval_id"], req.replica
    assert req["state"] == "pending" and req["required_approvals"] == 1 and req["task_ids"] == [TASK]

    r = stack.cli("approvals", "approve", aid, "--reason", "feed confirmed; rerun is safe", principal="bob")
    assert r.returncode == 0, r.stdout + r.stderr

    write = {**ids, "approval_id": aid, "environment": env}
    c = ok(call_on(client, other(asked_on), "clear_failed_tasks", write))
    assert c["task_ids"] == [TASK], c.structured
    replay = refused(call_on(client, asked_on, "clear_failed_tasks", write), r"already used")
    S["clear"] = {"approval_id": aid, "asked_on": asked_on, "consumed_on": c.replica, "replay_on": replay.replica,
                  "args": write}


def test_remediate_prod_trigger_two_approvers_across_replicas(stack, client, rest):
    need("clear")
    args = {"environment": "prod", "action": "trigger_dag", "params": {"dag_id": DAG, "conf": {}},
            "reason": "a fresh run on prod after the vendor feed landed"}
    req = ok(client.call("request_approval", args))
    aid, asked_on = req["approval_id"], req.replica
    assert req["state"] == "pending" and req["required_approvals"] == 2
    write = {"environment": "prod", "dag_id": DAG, "conf": {}, "approval_id": aid}

    r = stack.cli("approvals", "approve", aid, "--reason", "checked the parameters", principal=APPROVERS[0])
    assert r.returncode == 0, r.stdout + r.stderr
    early = refused(call_on(client, other(asked_on), "trigger_dag", write), r"pending|approv")
    assert f"dagmedic__{aid}" not in dag_runs(rest), "one approval of two was enough to trigger"

    r = stack.cli("approvals", "approve", aid, "--reason", "second pair of eyes", principal=APPROVERS[1])
    assert r.returncode == 0, r.stdout + r.stderr
    t = ok(call_on(client, other(asked_on), "trigger_dag", write))
    assert t["status"] == "triggered" and t["run_id"] == f"dagmedic__{aid}", t.structured
    assert f"dagmedic__{aid}" in dag_runs(rest)
    replay = refused(call_on(client, asked_on, "trigger_dag", write), r"already used")
    S["trigger"] = {"approval_id": aid, "asked_on": asked_on, "refused_on": early.replica,
                    "consumed_on": t.replica, "replay_on": replay.replica, "args": write}


def test_mrtr_an_approval_asked_through_one_replica_is_decided_through_the_other(stack, client):
    """2026-07-28 input_required: the first round (a form elicitation, requestState sealed) is answered by one
    replica, the SDK's retry by the other, which opens the state with the shared server.request_state_key_file."""
    need("trigger")
    assert stack.state_key, "the replicas do not share a request_state key"
    mark, seen = len(client.exchanges), len(client.elicited)
    client.elicit = lambda params: ("accept", {"approve": True, "reason": "confirmed at the client"})
    try:
        a = ok(client.call("request_approval", {"environment": "dev", "action": "trigger_dag",
                                                "params": {"dag_id": DAG, "conf": {}},
                                                "reason": "asked and answered across replicas"}))
    finally:
        client.elicit = None
    rounds = [e for e in client.exchanges[mark:] if e.method == "tools/call" and e.name == "request_approval"]
    assert len(rounds) == 2 and all(e.status == 200 for e in rounds), client.dump()[-2000:]
    assert rounds[0].replica != rounds[1].replica, rounds
    asked = client.elicited[seen:]
    assert len(asked) == 1 and asked[0].get("mode", "form") == "form", asked
    assert a["approval_id"] in asked[0]["message"], asked[0]["message"]
    assert a["state"] == "approved" and a["elicitation"] == "form:accepted", a.structured
    S["mrtr"] = {"approval_id": a["approval_id"], "rounds": [e.replica for e in rounds]}


# ---------------------------------------------------------------- a replica dies


def test_sigkill_a_replica_the_client_carries_on(stack, client, rest):
    need("trigger", "mrtr")
    survivor = client.last_replica()
    victim = other(survivor)  # roundrobin's next pick: the next request is aimed at the dead replica
    n_log = len(stack.requests())
    n_exchanges = len(client.exchanges)
    stack.kill(victim)
    assert not stack.alive(victim) and stack.alive(survivor)
    S["victim"], S["survivor"], S["kill_at"] = victim, survivor, n_exchanges

    # The replays of both writes, through the survivor, at once: refused; nothing runs twice.
    refused(client.call("trigger_dag", S["trigger"]["args"]), r"already used")
    # HAProxy writes a request's log line when the exchange ends, which may be just after the client has the answer.
    first = deadline_poll("HAProxy's log line of the replay", lambda: stack.requests()[n_log:], 10)
    assert first and first[0].name == "trigger_dag", first
    assert first[0].server == survivor and (first[0].retries >= 1 or first[0].redispatched), \
        f"HAProxy did not retry the request aimed at the dead {victim}: {first[0]}"
    refused(client.call("clear_failed_tasks", S["clear"]["args"]), r"already used")

    # Watch both runs end through the survivor (the cleared incident run, the new prod run).
    for run_id in (S["incident"], f"dagmedic__{S['trigger']['approval_id']}"):
        def done(run_id=run_id):
            s = ok(client.call("get_run_summary", {"dag_id": DAG, "run_id": run_id}))
            return s["state"] if s["state"] in ("success", "failed") else None
        assert deadline_poll(f"{DAG} {run_id} to finish", done, RUN_WAIT_S, 2) == "success"

    deadline_poll(f"HAProxy to mark {victim} DOWN", lambda: stack.health()[victim].startswith("DOWN"), 30)
    after = client.exchanges[n_exchanges:]
    assert after and {e.replica for e in after} == {survivor}, after
    assert all(e.status == 200 for e in after), after


# ---------------------------------------------------------------- Verify / Postmortem (through the survivor)


def test_verify_recovered(client):
    need("survivor")
    v = ok(client.call("check_recovery_rules", {"dag_id": DAG, "run_id": S["incident"]}))
    assert v["verdict"] == "recovered", v.structured
    assert v["recovering_run"]["state"] == "success"
    assert {t["task_id"]: t["state"] for t in v["critical_tasks"]} == {TASK: "success"}
    assert v.replica == S["survivor"]


def test_postmortem_names_who_asked_and_who_approved(client):
    need("survivor")
    ids = {"dag_id": DAG, "run_id": S["incident"]}
    t = ok(client.call("build_timeline", ids))
    blob = json.dumps(t["events"])
    assert TASK in blob and "success" in blob
    pm = ok(client.call("generate_postmortem", ids))
    md = pm["markdown"]
    assert pm["incident_id"] == S["incident_id"] and S["signature"] in md
    actions = md[md.find("## Actions"):] if "## Actions" in md else ""
    assert actions, md[:2000]
    assert "bob" in actions and S["clear"]["approval_id"][:8] in actions, actions[:2000]
    text, replica = client.read_resource(pm["uri"])
    assert md[:200] in text and replica == S["survivor"]
    assert {a.replica for a in client.answers[-2:]} == {S["survivor"]}


# ---------------------------------------------------------------- the shared store, Airflow, the balancing


def test_audit_verifies_and_exactly_one_run_was_triggered(stack, rest):
    need("survivor")
    r = stack.cli("audit", "verify")
    assert r.returncode == 0 and "ok" in r.stdout.lower(), f"audit verify rc={r.returncode}\n{r.stdout}\n{r.stderr}"
    ex = stack.cli("audit", "export")
    assert ex.returncode == 0, ex.stderr
    entries = [json.loads(x)["entry"] for x in ex.stdout.splitlines() if x.strip().startswith("{")]
    for w, tool in (("clear", "clear_failed_tasks"), ("trigger", "trigger_dag")):
        aid = S[w]["approval_id"]
        mine = [e for e in entries if e.get("approval_id") == aid]
        consumed = [e for e in mine if e["tool"] == "consume_approval" and e["decision"] == "allowed"]
        assert len(consumed) == 1 and consumed[0]["approval_event"] == "consumed", f"{w}: {json.dumps(mine)}"
        replays = [e for e in mine if e["tool"] == "consume_approval" and e["upstream_status"] == "conflict"]
        assert len(replays) == 2, f"{w}: the two replays (other replica, survivor) were not both refused: {replays}"
        ran = [e for e in mine if e["tool"] == tool and e["phase"] == "complete"]
        assert [e["upstream_status"] for e in ran] == ["ok"], f"{w}: {ran}"
        approvers = {e["principal"] for e in mine if e["tool"] == "approve" and e["decision"] == "allowed"}
        assert approvers == ({"bob"} if w == "clear" else set(APPROVERS)), (w, approvers)
        early = [e for e in mine if e["tool"] == "consume_approval" and e["upstream_status"] == "failed_precondition"]
        assert len(early) == (1 if w == "trigger" else 0), f"{w}: {early}"
        requested = [e for e in mine if e["tool"] == "request_approval" and e["approval_event"] == "requested"]
        assert [e["principal"] for e in requested] == ["agent:replicas-e2e"], requested
    runs = dag_runs(rest)
    new = set(runs) - S["runs_before"]
    assert new == {f"dagmedic__{S['trigger']['approval_id']}"}, f"new runs of {DAG}: {sorted(new)}"
    assert runs[S["incident"]]["state"] == "success"
    assert task_try(rest, S["incident"])["try_number"] == S["try_before"] + 1, "the cleared task ran more than once"


def test_no_stickiness_both_replicas_answered_alternately_until_one_died(stack, client):
    need("survivor")
    before = client.exchanges[:S["kill_at"]]
    after = client.exchanges[S["kill_at"]:]
    assert all(e.status == 200 and e.replica in REPLICAS for e in client.exchanges), client.dump()[-2000:]
    seq = [e.replica for e in before]
    assert len(seq) >= 20 and set(seq) == set(REPLICAS)
    assert all(a != b for a, b in zip(seq, seq[1:])), f"not alternating: {seq}"
    assert {e.replica for e in after} == {S["survivor"]}
    c, t = S["clear"], S["trigger"]
    assert c["consumed_on"] != c["asked_on"] and c["replay_on"] == c["asked_on"]
    assert t["consumed_on"] != t["asked_on"] and t["refused_on"] != t["asked_on"] and t["replay_on"] == t["asked_on"]
    n = len(client.exchanges)
    log = deadline_poll(f"HAProxy's log of all {n} requests",
                        lambda: x if len(x := stack.requests()) >= n else None, 10)
    assert len(log) == n, (len(log), n)
    assert [line.server for line in log] == [e.replica for e in client.exchanges]
