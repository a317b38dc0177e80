"""The runbook tools end to end: `dagmedic serve` (stdio) driven by the official Python MCP client against REAL
Airflow 3 (API v2) and Airflow 2.10 (API v1) rigs, every answer checked against what the zoo did (zoo.py).

One dagmedic process per rig (module fixture `mcp`), config written by mcpsession.rig_config with a SQLite store in a
temp dir and two recovery rules: zoo_recoverable recovers with quiet_minutes 0; zoo_schema_drift escalates after one
more failed run. Every answer of every call is scanned for the zoo's planted secrets and the rig's password, and
checked against the byte cap, as it arrives (McpSession keeps them all; the last test scans the whole session again).
Tests in this file depend on each other's order only through the store (extract_task_errors records sightings that
failure_frequency then counts), and pytest runs a module's tests in file order.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

import corpus
import zoo
from mcpsession import McpSession, rig_config
from rigrest import RigRest
from test_signatures import CASES as SIGNATURE_CASES
from test_signatures import CONTEXT_ONLY

OUTPUT_CAP = 16384  # caps.output_bytes_max in the test config; every tool's default cap is 16 KiB anyway
FAILED_DAGS = sorted(d for d, e in zoo.EXPECTATIONS.items() if e["state"] == "failed")
# The real-world corpus (test_corpus.py) fails on the same rigs when the session runs it too: its DAG → failing task.
CORPUS_FIRST_FAILING = {d: e["task_id"] for d, e in corpus.EXPECTATIONS.items()}
SECRETS = [zoo.FAKE_AWS_KEY_ID, zoo.FAKE_AWS_SECRET, zoo.FAKE_DB_PASSWORD, zoo.FAKE_DB_URI, zoo.FAKE_BEARER]
READ_TOOLS = {
    "list_recent_failures", "list_failed_runs", "get_latest_run",
    "get_run_summary", "get_failed_tasks", "get_task_states",
    "task_log", "extract_errors", "extract_task_errors", "failure_frequency", "summarize_root_cause",
    "suggest_prevention_actions", "check_recovery_rules", "build_timeline",
}
STORE_WRITE_TOOLS = {"generate_postmortem"}  # writes the postmortem to dagmedic's store: not read-only
# (category, exception type) of each failing DAG's first failing try: test_signatures.py's table (the log pipeline on
# the same logs). CONTEXT_ONLY: planted texts printed BEFORE the traceback, which a diagnosis need not show.
CASES = SIGNATURE_CASES
RECOVERY_YAML = """recovery:
  - {dag: zoo_recoverable, quiet_minutes: 0}
  - {dag: zoo_schema_drift, quiet_minutes: 0, escalate_after_failures: 1}
"""


class Checked:
    """An McpSession whose every call is checked on arrival: no secret, under the cap, readable errors."""

    def __init__(self, session: McpSession, rig: dict):
        self.s, self.rig = session, rig
        self.forbidden = SECRETS + [rig["password"]]

    def call(self, tool: str, args: dict | None = None, *, ok: bool = True):
        r = self.s.call(tool, args)
        payload = json.dumps(r.raw, ensure_ascii=False)
        for secret in self.forbidden:
            assert secret not in payload, f"{tool} {args}: a planted secret ({secret[:5]}…) reached the client"
        assert r.size <= OUTPUT_CAP, f"{tool} {args}: {r.size} bytes > cap {OUTPUT_CAP}"
        if ok:
            assert not r.is_error, f"{tool} {args} -> isError: {r.text}"
            assert isinstance(r.structured, dict), f"{tool}: no structuredContent"
            assert r.text.strip(), f"{tool}: empty text"
            assert r.structured.get("truncated") in (None, False, True)
        else:
            assert r.is_error, f"{tool} {args} should fail, got: {r.text[:500]}"
            assert r.text.strip() and len(r.text) < 2000, f"{tool}: unclear error {r.text!r}"
        return r


@pytest.fixture(scope="module")
def mcp(airflow_rig, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runbook-" + airflow_rig["api_version"])
    env = rig_config(airflow_rig, tmp / "config.yaml", tmp / "store.db", RECOVERY_YAML)
    session = McpSession(tmp / "config.yaml", tmp / "home", env=env)
    try:
        yield Checked(session, airflow_rig)
    finally:
        session.close()


@pytest.fixture(scope="module")
def rest(airflow_rig):
    client = RigRest(airflow_rig)
    yield client
    client.close()


def rig_runs(rig: dict, dag_id: str) -> list[str]:
    return [r["run_id"] for r in rig["runs"][dag_id]]


def failing_try(dag_id: str) -> dict:
    exp = zoo.EXPECTATIONS[dag_id]
    if exp["errors"]:
        return exp["errors"][0]
    rec = exp["recovery"]
    return {"task_id": rec["task_id"], "map_index": -1, "try_number": 1, "contains": rec["contains"]}


# ---------------------------------------------------------------- tool list


def test_every_contract_tool_is_listed_with_its_effect_and_schemas(mcp):
    tools = {t.name: t for t in mcp.s.list_tools()}
    missing = (READ_TOOLS | STORE_WRITE_TOOLS) - set(tools)
    assert not missing, f"tools missing from tools/list: {sorted(missing)}"
    for name in READ_TOOLS | STORE_WRITE_TOOLS:
        t = tools[name]
        assert t.annotations is not None and t.annotations.read_only_hint is (name in READ_TOOLS), name
        assert t.output_schema and t.output_schema.get("type") == "object", name
        assert t.input_schema.get("type") == "object", name
        assert t.description, name
    assert mcp.s.init.server_info.name == "dagmedic"


# ---------------------------------------------------------------- Detect


def test_list_recent_failures_finds_every_failed_zoo_dag(mcp):
    r = mcp.call("list_recent_failures", {"window_minutes": 10080})
    s = r.structured
    assert s["environment"] == "rig" and s["window_minutes"] == 10080
    assert s["since"] < s["until"] and s["until"].endswith("Z")
    assert set(FAILED_DAGS) <= set(s["dags_affected"]), s["dags_affected"]
    assert not {"zoo_ok", "zoo_flaky"} & set(s["dags_affected"])
    assert s["count"] >= 2 * len(FAILED_DAGS)
    assert s["failures"], r.text
    for i, f in enumerate(s["failures"]):
        assert f["state"] == "failed" and (f["dag_id"] in FAILED_DAGS or f["dag_id"] in CORPUS_FIRST_FAILING), f
        want = CORPUS_FIRST_FAILING.get(f["dag_id"]) or zoo.EXPECTATIONS[f["dag_id"]]["first_failing"]
        # Contract: "" when unknown (dagmedic looks it up for the newest runs only; the 10 newest at least).
        assert f["first_failing_task"] in ("", want), f
        if i < 10:
            assert f["first_failing_task"] == want, f
    ends = [f["end_date"] or f["run_after"] for f in s["failures"]]
    assert ends == sorted(ends, reverse=True) or [f["run_after"] for f in s["failures"]] == \
        sorted((f["run_after"] for f in s["failures"]), reverse=True), "not newest first"
    errs = [e for e in s["import_errors"] if e["filename"].endswith(zoo.IMPORT_ERROR["filename"])]
    assert len(errs) == 1, s["import_errors"]
    assert "not_a_module" in errs[0]["error"]
    if not s.get("truncated"):
        listed = {(f["dag_id"], f["run_id"]) for f in s["failures"]}
        for dag in FAILED_DAGS:
            for run_id in rig_runs(mcp.rig, dag):
                assert (dag, run_id) in listed


def test_list_recent_failures_default_window_is_sixty_minutes(mcp):
    s = mcp.call("list_recent_failures").structured
    assert s["window_minutes"] == 60
    assert all(f["state"] == "failed" for f in s["failures"])


@pytest.mark.parametrize("dag_id", ["zoo_missing_partition", "zoo_mapped", "zoo_ok"])
def test_list_failed_runs_and_latest_run(mcp, dag_id):
    s = mcp.call("list_failed_runs", {"dag_id": dag_id, "window_minutes": 10080}).structured
    assert s["dag_id"] == dag_id
    ids = [r["run_id"] for r in s["runs"]]
    if zoo.EXPECTATIONS[dag_id]["state"] == "failed":
        assert set(rig_runs(mcp.rig, dag_id)) <= set(ids) and s["count"] >= 2
    else:
        assert ids == [] and s["count"] == 0
    assert all(r["dag_id"] == dag_id and r["state"] == "failed" for r in s["runs"])
    latest = mcp.call("get_latest_run", {"dag_id": dag_id}).structured
    assert latest["found"] is True and latest["run"]["dag_id"] == dag_id
    assert latest["run"]["state"] == zoo.EXPECTATIONS[dag_id]["state"]


# ---------------------------------------------------------------- Triage


def _tier(tags: list[str]) -> str:
    return next((t.split("=", 1)[1] for t in tags if t.startswith("tier=")), "")


@pytest.mark.parametrize("dag_id", FAILED_DAGS)
def test_run_summary_matches_the_zoo(mcp, dag_id):
    exp = zoo.EXPECTATIONS[dag_id]
    run_id = rig_runs(mcp.rig, dag_id)[0]
    s = mcp.call("get_run_summary", {"dag_id": dag_id, "run_id": run_id}).structured
    assert (s["dag_id"], s["run_id"], s["state"]) == (dag_id, run_id, "failed")
    assert s["logical_date"][:10] == zoo.RUN_DATES[0][:10]
    assert sorted(s["tags"]) == exp["tags"]
    tier = _tier(exp["tags"])
    critical = "business_critical" in exp["tags"]
    assert s["tier"] == tier and s["business_critical"] is critical
    assert s["severity"] == ("sev1" if tier == "1" or critical else "sev2" if tier == "2" else "sev3")
    assert s["conf_keys"] == []
    assert s["first_failing_task"]["task_id"] == exp["first_failing"]
    assert s["first_failing_task"]["try_number"] == exp["tries"][exp["first_failing"]]
    assert s["first_failing_task"]["state"] == "failed"
    assert sorted(set(s["failed_tasks"])) == sorted({f["task_id"] for f in exp["failed"]})
    assert sorted(set(s["upstream_failed_tasks"])) == sorted(exp["upstream_failed"])
    assert s["retries_used"] == 0
    assert s["task_counts"].get("failed", 0) == len(exp["failed"])
    assert "dagmedic-zoo" in s["owners"]
    assert s["frequency"]["failed_runs"] >= 2 and s["frequency"]["runs"] >= s["frequency"]["failed_runs"]
    assert s["incident_id"]


@pytest.mark.parametrize("dag_id", FAILED_DAGS)
def test_failed_tasks_first_failing_and_tries(mcp, dag_id):
    exp = zoo.EXPECTATIONS[dag_id]
    run_id = rig_runs(mcp.rig, dag_id)[1]
    s = mcp.call("get_failed_tasks", {"dag_id": dag_id, "run_id": run_id}).structured
    assert s["first_failing_task"] == exp["first_failing"]
    failed = [t for t in s["tasks"] if t["state"] == "failed"]
    upstream = [t for t in s["tasks"] if t["state"] == "upstream_failed"]
    assert sorted((t["task_id"], t["map_index"]) for t in failed) == \
        sorted((f["task_id"], f["map_index"]) for f in exp["failed"])
    assert sorted({t["task_id"] for t in upstream}) == sorted(exp["upstream_failed"])
    assert s["count"] == len(s["tasks"]) == len(failed) + len(upstream)
    assert s["tasks"][: len(failed)] == failed, "failed tasks must come first"
    for t in failed:
        assert t["try_number"] == exp["tries"][t["task_id"]]
        assert t["retries_left"] == 0  # retries=0 everywhere but zoo_flaky (which succeeds)
        assert t["end_date"].endswith("Z") and t["operator"]


def test_task_states_reports_unknown_task_ids(mcp):
    run_id = rig_runs(mcp.rig, "zoo_upstream_failed")[0]
    s = mcp.call("get_task_states", {"dag_id": "zoo_upstream_failed", "run_id": run_id,
                                     "task_ids": ["extract_orders", "load_orders", "no_such_task"]}).structured
    states = {t["task_id"]: t["state"] for t in s["tasks"]}
    assert states == {"extract_orders": "failed", "load_orders": "upstream_failed"}
    assert s["unknown_task_ids"] == ["no_such_task"]
    all_ = mcp.call("get_task_states", {"dag_id": "zoo_upstream_failed", "run_id": run_id}).structured
    assert all_["counts"] == {"failed": 1, "upstream_failed": 2}


# ---------------------------------------------------------------- Diagnose


def test_task_log_of_the_big_log_returns_the_tail_with_the_error(mcp):
    run_id = rig_runs(mcp.rig, "zoo_big_log")[0]
    r = mcp.call("task_log", {"dag_id": "zoo_big_log", "run_id": run_id, "task_id": "replay_events"})
    s = r.structured
    assert s["try_number"] == 1 and s["map_index"] == -1
    assert s["total_bytes"] >= zoo.EXPECTATIONS["zoo_big_log"]["min_log_bytes"]
    assert s["total_lines"] >= 5000
    ns = [line["n"] for line in s["lines"]]
    assert ns == sorted(ns) and ns and ns[-1] <= s["total_lines"]
    assert ns[0] > 1000, "a tail, not the head"
    text = "\n".join(line["text"] for line in s["lines"])
    assert "checksum mismatch in batch 04999" in text, r.text[:2000]
    assert "replayed batch 00000" not in text


def test_task_log_tail_lines_and_leaky_log_redacted(mcp):
    run_id = rig_runs(mcp.rig, "zoo_leaky_log")[0]
    s = mcp.call("task_log", {"dag_id": "zoo_leaky_log", "run_id": run_id, "task_id": "upload_report",
                              "tail_lines": 40}).structured
    assert 0 < len(s["lines"]) <= 40 and s["tail_lines"] == 40
    assert "AccessDenied" in json.dumps(s)  # the error survives; the secrets (checked on arrival) do not


@pytest.mark.parametrize("dag_id", FAILED_DAGS)
def test_extract_task_errors_same_signature_for_both_runs(mcp, dag_id, request):
    err = failing_try(dag_id)
    sigs = []
    for run_id in rig_runs(mcp.rig, dag_id):
        s = mcp.call("extract_task_errors", {"dag_id": dag_id, "run_id": run_id, "task_id": err["task_id"],
                                             "map_index": err["map_index"]}).structured
        assert s["found"] is True, s
        assert (s["dag_id"], s["run_id"], s["task_id"]) == (dag_id, run_id, err["task_id"])
        assert s["try_number"] == err["try_number"] and s["map_index"] == err["map_index"]
        category, exc_type = CASES[dag_id]
        assert s["exception_type"].rsplit(".", 1)[-1] == exc_type, s["exception_type"]
        assert s["category"] == category, (s["category"], s["signature_text"])
        assert s["signature"] and s["category"] and s["incident_id"]
        shown = s["error"] + "\n" + "\n".join(line["text"] for line in s["lines"])
        missing = [c for c in err["contains"] if c not in shown and (dag_id, c) not in CONTEXT_ONLY]
        assert not missing, f"planted text missing: {missing} (error: {s['error']})"
        sigs.append(s["signature"])
    assert sigs[0] == sigs[1], f"{dag_id}: the same failure on two dates gave {sigs}"
    _SIGNATURES.setdefault(mcp.rig["api_version"], {})[dag_id] = sigs[0]


_SIGNATURES: dict[str, dict[str, str]] = {}


def test_signatures_differ_across_dags(mcp):
    sigs = _SIGNATURES.get(mcp.rig["api_version"], {})
    assert set(sigs) == set(FAILED_DAGS), "extract_task_errors tests did not all pass"
    by_sig: dict[str, list[str]] = {}
    for dag, sig in sigs.items():
        by_sig.setdefault(sig, []).append(dag)
    assert all(len(d) == 1 for d in by_sig.values()), f"distinct failures share a signature: {by_sig}"


@pytest.mark.parametrize("dag_id", ["zoo_missing_partition", "zoo_big_log", "zoo_mapped"])
def test_failure_frequency_counts_the_repeat(mcp, dag_id):
    s = mcp.call("failure_frequency", {"dag_id": dag_id, "lookback_hours": 168}).structured
    assert s["dag_id"] == dag_id and s["lookback_hours"] == 168
    assert s["failed_runs"] >= 2 and s["runs"] >= s["failed_runs"]
    assert s["groups"], s
    top = s["groups"][0]
    assert top["count"] >= 2 and top["runs"] >= 2 and top["verdict"] == "repeat", top
    assert zoo.EXPECTATIONS[dag_id]["first_failing"] in top["task_ids"]
    assert dag_id in top["dags_affected"]
    want = _SIGNATURES.get(mcp.rig["api_version"], {}).get(dag_id)
    assert want is None or top["signature"] == want
    counts = [g["count"] for g in s["groups"]]
    assert counts == sorted(counts, reverse=True)


def test_root_cause_summary_and_prevention(mcp):
    run_id = rig_runs(mcp.rig, "zoo_missing_partition")[0]
    e = mcp.call("extract_task_errors", {"dag_id": "zoo_missing_partition", "run_id": run_id,
                                         "task_id": "load_orders_partition"}).structured
    s = mcp.call("summarize_root_cause", {"signature": e["signature"], "short_context": e["error"]}).structured
    assert s["signature"] == e["signature"] and s["category"] == e["category"]
    assert s["method"] == "deterministic"  # the client offers no sampling
    assert s["summary"] and s["history"]["count"] >= 2
    assert "zoo_missing_partition" in s["history"]["dags_affected"]
    p = mcp.call("suggest_prevention_actions", {"signature": e["signature"]}).structured
    assert p["signature"] == e["signature"] and p["category"] == e["category"]
    assert p["actions"] and all(a["kind"] and a["title"] for a in p["actions"])
    by_cat = mcp.call("suggest_prevention_actions", {"category": e["category"]}).structured
    assert by_cat["actions"]


# ---------------------------------------------------------------- Verify


def test_check_recovery_rules_escalates_after_repeated_failure(mcp):
    first = rig_runs(mcp.rig, "zoo_schema_drift")[0]
    s = mcp.call("check_recovery_rules", {"dag_id": "zoo_schema_drift", "run_id": first}).structured
    assert s["verdict"] == "escalate", s
    assert s["failures_since"] >= 1 and s["rule"]["escalate_after_failures"] == 1
    assert s["recovering_run"] is None or s["recovering_run"]["state"] != "success", s["recovering_run"]
    assert s["reason"] and s["advice"]
    assert not re.search(r"\bjust (re)?try\b|\bretry it\b", s["advice"], re.I)


def test_check_recovery_rules_before_and_after_a_real_fix(mcp, rest):
    rig = mcp.rig
    rec = zoo.EXPECTATIONS["zoo_recoverable"]["recovery"]
    marker = Path(rig["zoo_data"]) / rec["marker"]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    incident = rig_runs(rig, "zoo_recoverable")[1]
    if marker.exists():  # a kept rig (DM_RIG_KEEP) fixed by an earlier session: break it again for a new incident
        marker.unlink()
        incident = f"e2e_broken__{stamp}"
        assert rest.trigger_and_wait("zoo_recoverable", incident)["state"] == "failed"

    before = mcp.call("check_recovery_rules", {"dag_id": "zoo_recoverable", "run_id": incident}).structured
    assert before["verdict"] in ("not_yet", "escalate"), before
    assert before["recovering_run"] is None and before["rule"]["quiet_minutes"] == 0
    assert before["advice"]

    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("fixed by test_runbook_e2e\n")  # fix the cause, then a new run (writes are not tools yet)
    fixed = f"e2e_fixed__{stamp}"
    assert rest.trigger_and_wait("zoo_recoverable", fixed)["state"] == "success"

    after = mcp.call("check_recovery_rules", {"dag_id": "zoo_recoverable", "run_id": incident}).structured
    assert after["verdict"] == "recovered", after
    assert after["recovering_run"]["run_id"] == fixed and after["recovering_run"]["state"] == "success"
    assert {t["task_id"]: t["state"] for t in after["critical_tasks"]} == {rec["task_id"]: "success"}
    assert after["failures_since"] == 0
    _RECOVERED[rig["api_version"]] = (incident, fixed)


_RECOVERED: dict[str, tuple[str, str]] = {}


# ---------------------------------------------------------------- Postmortem


def test_timeline_of_the_recovered_incident(mcp):
    incident, fixed = _RECOVERED.get(mcp.rig["api_version"], (None, None))
    assert incident, "the recovery test did not pass"
    s = mcp.call("build_timeline", {"dag_id": "zoo_recoverable", "run_id": incident}).structured
    ev = s["events"]
    assert s["incident_id"] and ev
    ats = [e["at"] for e in ev]
    assert ats == sorted(ats), "events not in time order"
    blob = json.dumps(ev)
    assert "load_vendor_prices" in blob and fixed in blob
    assert all(e["kind"] and e["at"] for e in ev)
    assert "failed" in blob and "success" in blob, blob[:2000]


@pytest.mark.parametrize("dag_id", ["zoo_missing_partition", "zoo_leaky_log"])
def test_postmortem_contains_what_happened(mcp, dag_id):
    run_id = rig_runs(mcp.rig, dag_id)[0]
    task = zoo.EXPECTATIONS[dag_id]["first_failing"]
    e = mcp.call("extract_task_errors", {"dag_id": dag_id, "run_id": run_id, "task_id": task}).structured
    t = mcp.call("build_timeline", {"dag_id": dag_id, "run_id": run_id}).structured
    assert any(task in json.dumps(x) for x in t["events"])
    s = mcp.call("generate_postmortem", {"dag_id": dag_id, "run_id": run_id}).structured
    md = s["markdown"]
    for section in ("Summary", "Impact", "Timeline", "Root cause", "Actions", "Prevention", "Safe rerun"):
        assert re.search(rf"^#+ .*{section}", md, re.M | re.I), f"no {section} section:\n{md[:1500]}"
    assert dag_id in md and run_id in md and task in md
    assert e["signature"] in md and e["category"] in md
    assert s["incident_id"] == e["incident_id"] and s["uri"].endswith(s["incident_id"])
    assert md[:200] in mcp.s.read_resource(s["uri"])
    assert s["incident_id"] in mcp.s.read_resource("dagmedic://incidents")


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("tool,args,needle", [
    ("get_latest_run", {"dag_id": "zoo_does_not_exist"}, "zoo_does_not_exist"),
    ("get_run_summary", {"dag_id": "zoo_missing_partition", "run_id": "no_such_run"}, "no_such_run"),
    ("list_failed_runs", {"dag_id": "zoo_ok", "window_minutes": 10081}, "window_minutes"),
    ("list_recent_failures", {"window_minutes": 999999}, "window_minutes"),
    ("list_recent_failures", {"window_minutes": "sixty"}, "window_minutes"),
    ("task_log", {"dag_id": "zoo_big_log", "run_id": "rig__2026-01-01", "task_id": "replay_events",
                  "tail_lines": -5}, "tail_lines"),
    ("task_log", {"dag_id": "zoo_big_log", "run_id": "rig__2026-01-01", "task_id": "no_such_task"}, "no_such_task"),
    ("failure_frequency", {"dag_id": "zoo_ok", "lookback_hours": 100000}, "lookback_hours"),
    ("get_failed_tasks", {"dag_id": "bad dag id!", "run_id": "x"}, "dag_id"),
    ("get_failed_tasks", {"dag_id": 42, "run_id": "x"}, "dag_id"),
    ("check_recovery_rules", {"dag_id": "zoo_recoverable"}, "run_id"),
    ("list_recent_failures", {"environment": "nowhere"}, "nowhere"),
])
def test_bad_arguments_are_clear_errors(mcp, tool, args, needle):
    r = mcp.call(tool, args, ok=False)
    assert needle in r.text, f"{tool} {args}: error does not name {needle!r}: {r.text}"


# ---------------------------------------------------------------- the whole session


def test_no_secret_in_any_answer_of_the_session(mcp):
    leaky = rig_runs(mcp.rig, "zoo_leaky_log")[0]
    mcp.call("get_run_summary", {"dag_id": "zoo_leaky_log", "run_id": leaky})
    mcp.call("task_log", {"dag_id": "zoo_leaky_log", "run_id": leaky, "task_id": "upload_report",
                          "tail_lines": 500})
    mcp.s.list_resources()
    assert len(mcp.s.outputs) >= 40, "the session should have answered every test above"
    tools_seen = {c.tool for c in mcp.s.calls if not c.is_error}
    assert {"task_log", "extract_task_errors", "generate_postmortem"} <= tools_seen
    for what, payload in mcp.s.outputs:
        for secret in mcp.forbidden:
            assert secret not in payload, f"{what}: a planted secret ({secret[:5]}…) reached the client"
    for c in mcp.s.calls:
        assert c.size <= OUTPUT_CAP, f"{c.tool}: {c.size} bytes"
