"""Watch mode on the REAL Airflow 3 and Airflow 2 rigs (docs/watch.md): `dagmedic watch --once` detects every failed run of the
zoo in one cycle, once; a second cycle opens nothing; the incidents are the ones the Triage and Diagnose tools
would open (same ids, same signature), which `dagmedic serve` then finds and updates rather than duplicating.
Plus the bad inputs: Airflow unreachable (exit 1, the environment named, the cursor kept) and a malformed `watch:`
section (exit 1 before anything runs, the key named).

The rig is shared by the session: other test files may have cleared or triggered zoo runs before this one runs, so
the reference is Airflow's own list of failed runs (REST, state=failed), read just before and just after the cycle.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import corpus
import zoo
from webhook_receiver import Receiver
from mcpsession import DAGMEDIC, McpSession, rig_config
from rigrest import RigRest

FAILED_DAGS = sorted(d for d, e in zoo.EXPECTATIONS.items() if e["state"] == "failed")
# When the session also runs the real-world corpus (test_corpus.py, rig.py --corpus), its DAGs fail on the same rig: a
# failure of either family is expected, and the zoo's assertions are checked on the zoo's DAGs.
CORPUS_DAGS = set(corpus.DAG_IDS)
WATCH_YAML = """watch:
  interval_seconds: 60
  overlap_seconds: 300
  initial_lookback_minutes: 10080
  max_runs_per_cycle: 1000
"""


def run_dagmedic(home: Path, env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    home.mkdir(parents=True, exist_ok=True)
    full_env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    return subprocess.run([str(DAGMEDIC), *args], capture_output=True, text=True, timeout=timeout, env=full_env,
                          stdin=subprocess.DEVNULL)


def failed_runs(rest: RigRest) -> set[tuple[str, str]]:
    out, offset = set(), 0
    while True:
        page = rest.get("/dags/~/dagRuns", state="failed", limit=100, offset=offset)
        out |= {(r["dag_id"], r["dag_run_id"]) for r in page["dag_runs"]}
        offset += len(page["dag_runs"])
        if not page["dag_runs"] or offset >= page["total_entries"]:
            return out


@pytest.fixture(scope="module")
def rig(airflow_rig):
    """Both rigs (ids af3, af2): every test below runs against Airflow 3 (/api/v2) and Airflow 2 (/api/v1)."""
    return airflow_rig


def expected_severity(tags: list[str]) -> str:
    """runbook/triage_facts.h: sev1 for tier 1 or business critical, sev2 for tier 2, sev3 otherwise."""
    if "tier=1" in tags or "business_critical" in tags:
        return "sev1"
    return "sev2" if "tier=2" in tags else "sev3"


@pytest.fixture(scope="module")
def setup(rig, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("watch")
    env = rig_config(rig, tmp / "config.yaml", tmp / "store.db", WATCH_YAML)
    return {"tmp": tmp, "env": env, "config": tmp / "config.yaml"}


@pytest.fixture(scope="module")
def cycles(rig, setup):
    """Two `watch --once` cycles, with Airflow's failed runs read before and after the first."""
    rest = RigRest(rig)
    try:
        before = failed_runs(rest)
        first = run_dagmedic(setup["tmp"] / "home", setup["env"], "watch", "--once", "--json",
                             "--config", str(setup["config"]))
        after = failed_runs(rest)
        second = run_dagmedic(setup["tmp"] / "home", setup["env"], "watch", "--once", "--json",
                              "--config", str(setup["config"]))
    finally:
        rest.close()
    return {"before": before, "after": after, "first": first, "second": second}


def report(p: subprocess.CompletedProcess) -> dict:
    assert p.returncode == 0, f"watch --once exit {p.returncode}\nstdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}"
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stdout
    r = json.loads(lines[0])
    assert r["ok"] is True and len(r["environments"]) == 1, r
    env = r["environments"][0]
    assert env["environment"] == "rig" and env["ok"] is True, env
    return env


def runs_of(env: dict) -> list[dict]:
    """The failed runs a cycle handled (its other entries are import errors)."""
    return [h for h in env["handled"] if h["kind"] == "dag_run"]


def test_one_cycle_detects_every_zoo_failure_once(cycles):
    env = report(cycles["first"])
    handled = [(h["dag_id"], h["run_id"]) for h in runs_of(env)]
    assert len(handled) == len(set(handled)), "a run was handled twice in one cycle"
    assert cycles["before"] <= set(handled) <= cycles["after"], (
        f"missed: {sorted(cycles['before'] - set(handled))}; not failed: {sorted(set(handled) - cycles['after'])}")
    assert {d for d, _ in handled} >= set(FAILED_DAGS), sorted(set(FAILED_DAGS) - {d for d, _ in handled})
    # The zoo's DAG file that cannot be imported is an incident of its own, once.
    imports = [h for h in env["handled"] if h["kind"] == "import_error"]
    assert [Path(h["run_id"]).name for h in imports] == [zoo.IMPORT_ERROR["filename"]], imports
    assert imports[0]["opened"] and imports[0]["severity"] == "sev2" and imports[0]["signature"], imports
    assert env["import_errors"] == 1, env
    assert env["opened"] == sum(1 for h in env["handled"] if h["opened"])
    assert all(h["opened"] for h in runs_of(env))
    # A zoo DAG whose last 3 runs all failed (the rig's two dates and the runbook tests' reruns) is also an incident.
    for h in env["handled"]:
        assert h["kind"] in ("dag_run", "import_error", "not_succeeding"), h
        if h["kind"] == "not_succeeding":
            assert (h["dag_id"] in FAILED_DAGS or h["dag_id"] in CORPUS_DAGS) and h["severity"], h
    assert env["deferred"] == 0 and env["cursor_after"], env
    for h in runs_of(env):
        if h["dag_id"] in CORPUS_DAGS:
            assert h["first_failing_task"] == corpus.EXPECTATIONS[h["dag_id"]]["task_id"], h
            assert h["signature"] and h["category"], h
            continue
        exp = zoo.EXPECTATIONS[h["dag_id"]]
        assert h["first_failing_task"] == exp["first_failing"], h
        assert h["severity"] == expected_severity(exp["tags"]), h
        if exp["errors"]:  # a failing task with a log: diagnosed
            assert h["signature"] and h["category"], h


def test_second_cycle_opens_nothing(cycles):
    first = report(cycles["first"])
    env = report(cycles["second"])
    assert env["handled"] == [] and env["opened"] == 0, env
    assert env["already_handled"] >= 1
    assert env["cursor_after"] >= first["cursor_after"]


def test_incidents_are_the_triage_tools_own(rig, setup, cycles):
    env = report(cycles["first"])
    by_run = {(h["dag_id"], h["run_id"]): h for h in runs_of(env)}
    one_per_dag = {}
    for (dag, run), h in sorted(by_run.items()):
        one_per_dag.setdefault(dag, h)
    with McpSession(setup["config"], setup["tmp"] / "home-serve", env=setup["env"]) as s:
        for dag, h in one_per_dag.items():
            summary = s.call("get_run_summary", {"dag_id": dag, "run_id": h["run_id"]})
            assert summary["incident_id"] == h["incident_id"], (dag, summary.text)
            assert summary["severity"] == h["severity"], dag
            if dag == "zoo_mapped":  # its failing task is mapped: diagnosed per map index
                assert h["first_failing_map_index"] >= 0, h
            if h["signature"]:
                args = {"dag_id": dag, "run_id": h["run_id"], "task_id": h["first_failing_task"]}
                if h["first_failing_map_index"] >= 0:  # a mapped task: the failed try's own index
                    args["map_index"] = h["first_failing_map_index"]
                x = s.call("extract_task_errors", args)
                assert x["signature"] == h["signature"] and x["category"] == h["category"], (dag, x.text)
                assert x["incident_id"] == h["incident_id"]
        doc = json.loads(s.read_resource("dagmedic://incidents"))
    ids = {i["id"] for i in doc["incidents"]}
    if doc["count"] < 100:  # the resource lists the 100 most recently updated
        assert {h["incident_id"] for h in runs_of(env)} <= ids
    # The tools updated the watcher's incidents; a third cycle still opens nothing.
    third = report(run_dagmedic(setup["tmp"] / "home", setup["env"], "watch", "--once", "--json",
                                "--config", str(setup["config"])))
    assert third["opened"] == 0 and third["handled"] == [], third


def test_status_shows_cursor_last_cycle_and_incidents_opened(setup, cycles):
    env = report(cycles["first"])
    p = run_dagmedic(setup["tmp"] / "home", setup["env"], "watch", "status", "--json",
                     "--config", str(setup["config"]))
    assert p.returncode == 0, p.stderr
    st = json.loads(p.stdout)["environments"]
    assert len(st) == 1 and st[0]["environment"] == "rig" and st[0]["watched"] is True, st
    assert st[0]["cycles"] >= 2 and st[0]["last_outcome"] == "ok", st
    assert st[0]["incidents_opened"] == env["opened"], st
    assert st[0]["cursor"] >= env["cursor_after"]
    text = run_dagmedic(setup["tmp"] / "home", setup["env"], "watch", "status", "--config", str(setup["config"]))
    assert text.returncode == 0 and text.stdout.startswith("rig: cursor "), text.stdout


def test_airflow_down_reports_the_environment_and_keeps_the_cursor(rig, setup, cycles, tmp_path):
    report(cycles["first"])
    down = dict(rig, url="http://127.0.0.1:9")  # discard port: nothing listens
    cfg = tmp_path / "down.yaml"
    env = rig_config(down, cfg, setup["tmp"] / "store.db", WATCH_YAML)  # the same store
    before = json.loads(run_dagmedic(setup["tmp"] / "home", env, "watch", "status", "--json",
                                     "--config", str(cfg)).stdout)["environments"][0]
    p = run_dagmedic(setup["tmp"] / "home", env, "watch", "--once", "--config", str(cfg), timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "dagmedic watch: environment rig:" in p.stderr and "Airflow could not be read" in p.stderr, p.stderr
    after = json.loads(run_dagmedic(setup["tmp"] / "home", env, "watch", "status", "--json",
                                    "--config", str(cfg)).stdout)["environments"][0]
    assert after["cursor"] == before["cursor"] and after["last_outcome"] == "error", after
    assert after["incidents_opened"] == before["incidents_opened"]


@pytest.mark.parametrize("yaml_text,key", [
    ("watch: {interval_seconds: 0}\n", "watch.interval_seconds"),
    ("watch: {overlap: 60}\n", "watch.overlap"),
    ("watch: {environments: {nowhere: {enabled: true}}}\n", "watch.environments.nowhere"),
])
def test_malformed_watch_section_stops_start_up(rig, tmp_path, yaml_text, key):
    env = rig_config(rig, tmp_path / "bad.yaml", tmp_path / "store.db", yaml_text)
    p = run_dagmedic(tmp_path / "home", env, "watch", "--once", "--config", str(tmp_path / "bad.yaml"), timeout=60)
    assert p.returncode == 1 and p.stdout == "", p.stdout
    assert p.stderr.startswith("dagmedic watch: ") and key in p.stderr, p.stderr
    assert not (tmp_path / "store.db").exists(), "nothing may run before the config is checked"


def test_serve_watch_notifies_a_subscribed_client_of_a_new_failure(rig, tmp_path):
    """`serve --watch`: the loop runs inside the MCP server; a client subscribed to dagmedic://incidents (the official
    Python SDK, resources/subscribe) is told when the watcher opens the incident of a run that failed after it
    subscribed, and the list it then reads holds that run's incident."""
    import datetime
    import uuid

    cfg = tmp_path / "config.yaml"
    env = rig_config(rig, cfg, tmp_path / "store.db", WATCH_YAML.replace("interval_seconds: 60", "interval_seconds: 5"))
    rest = RigRest(rig)
    dag = "zoo_permission_denied"  # fails on its first try, quickly
    run_id = "serve_watch_" + uuid.uuid4().hex[:12]
    try:
        with McpSession(cfg, tmp_path / "home", env=env, serve_args=["--watch"]) as s:
            s.subscribe("dagmedic://incidents")
            # The first cycle handles the zoo's earlier failures (maybe before the subscription). The new run's
            # failure comes later, so its incident must reach the client through a notification.
            mark = len(s.notifications)
            rest.trigger(dag, run_id, datetime.datetime.now(datetime.timezone.utc).isoformat())

            def listed() -> dict | None:
                doc = json.loads(s.read_resource("dagmedic://incidents"))
                return next((i for i in doc["incidents"] if i["dag_id"] == dag and i["run_id"] == run_id
                             and i["kind"] == "dag_run"), None)

            deadline = 600.0
            got = None
            while deadline > 0 and got is None:
                n = s.wait_notification(lambda m, p: m == "notifications/resources/updated"
                                        and p.get("uri") == "dagmedic://incidents", 30, since=mark)
                deadline -= 30
                if n is not None:
                    got = listed()
                    mark = len(s.notifications)
            assert got is not None, f"no incident of {dag}/{run_id} announced; stderr: {s.stderr()[-2000:]}"
            assert got["state"] == "open" and got["signature"], got
            assert got["category"] == "permissions", got  # as the zoo run of this DAG (test_signatures.py)
            assert "dagmedic serve: watching" in s.stderr()
    finally:
        rest.close()


def test_every_failure_is_notified_once_to_every_kind_and_a_receiver_back_up_gets_the_rest(rig, tmp_path):
    """The outbox on the real rig (docs/watch.md "Notifications"): one `watch --once` on a fresh store handles every
    zoo failure and sends one message per failure to each target (Slack, PagerDuty, Teams, signed JSON), with each
    format's documented fields; a receiver answering 503 gets nothing delivered, then everything once it is back."""
    import hashlib
    import hmac
    import time

    rx = Receiver()
    rx.status["/down"] = 503
    u = rx.url
    notify = f"""notify:
  base_url: https://dagmedic.example.com
  backoff_initial_seconds: 1
  backoff_max_seconds: 2
  max_per_cycle: 10000
  targets:
    chat: {{kind: slack, url: '{u}/slack'}}
    pd: {{kind: pagerduty, url: '{u}/pd', routing_key_env: DM_TEST_PD_KEY}}
    teams: {{kind: teams, url: '{u}/teams'}}
    hook: {{kind: json, url: '{u}/json', secret_env: DM_TEST_HOOK_KEY}}
    down: {{kind: json, url: '{u}/down', secret_env: DM_TEST_HOOK_KEY, max_attempts: 10}}
"""
    cfg = tmp_path / "config.yaml"
    # Failures only: no recovery checks here (test_recovered_incidents_are_resolved covers resolves).
    env = rig_config(rig, cfg, tmp_path / "store.db", WATCH_YAML + "  recovery_checks_per_cycle: 0\n" + notify)
    env.update(DM_TEST_PD_KEY="pd-key", DM_TEST_HOOK_KEY="hook-key")
    try:
        first = report(run_dagmedic(tmp_path / "home", env, "watch", "--once", "--json", "--config", str(cfg)))
        incidents = {h["incident_id"] for h in first["handled"]}
        assert {h["dag_id"] for h in first["handled"]} >= set(FAILED_DAGS)

        def by_incident(path: str, key) -> dict:
            got: dict = {}
            for r in rx.at(path):
                got.setdefault(key(json.loads(r["body"])), []).append(r)
            return got

        slack = by_incident("/slack", lambda b: next(i for i in incidents if i in b["text"]))
        pd = by_incident("/pd", lambda b: b["dedup_key"])
        teams = by_incident("/teams", lambda b: next(i for i in incidents if i in json.dumps(b)))
        hook = by_incident("/json", lambda b: b["incident_id"])
        for name, got in (("slack", slack), ("pagerduty", pd), ("teams", teams), ("json", hook)):
            assert set(got) == incidents and all(len(v) == 1 for v in got.values()), name  # once each
        for inc, (r,) in pd.items():
            b = json.loads(r["body"])
            assert b["routing_key"] == "pd-key" and b["event_action"] == "trigger"
            assert set(b["payload"]) >= {"summary", "source", "severity", "timestamp", "custom_details"}
            assert b["payload"]["severity"] in {"critical", "error", "warning", "info"}
            assert len(b["payload"]["summary"]) <= 1024
            assert b["links"][0]["href"] == f"https://dagmedic.example.com/incidents/{inc}"
        for (r,) in teams.values():
            att = json.loads(r["body"])["attachments"][0]
            assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
            assert att["content"]["type"] == "AdaptiveCard" and att["content"]["body"]
        for (r,) in hook.values():
            ts = r["headers"]["X-Dagmedic-Timestamp"]
            want = "sha256=" + hmac.new(b"hook-key", ts.encode() + b"." + r["body"], hashlib.sha256).hexdigest()
            assert hmac.compare_digest(r["headers"]["X-Dagmedic-Signature"], want)
        # The leaky zoo DAG's secrets never leave redaction.
        for r in rx.requests:
            for secret in (zoo.FAKE_AWS_KEY_ID, zoo.FAKE_AWS_SECRET, zoo.FAKE_DB_PASSWORD, zoo.FAKE_BEARER):
                assert secret.encode() not in r["body"], r["path"]
        assert rx.at("/down"), "the receiver that is down was tried"

        # The receiver comes back; after the backoff, the next cycle delivers everything it missed, once each.
        tried = {json.loads(r["body"])["incident_id"] for r in rx.at("/down")}
        rx.status["/down"] = 200
        time.sleep(3)  # the backoff (at most backoff_max_seconds), not a timing assertion
        again = run_dagmedic(tmp_path / "home", env, "watch", "--once", "--json", "--config", str(cfg))
        assert again.returncode == 0, again.stderr
        delivered_down = [json.loads(r["body"])["incident_id"] for r in rx.at("/down")]
        assert set(delivered_down) == incidents and tried <= incidents
        st = json.loads(run_dagmedic(tmp_path / "home", env, "watch", "status", "--json",
                                     "--config", str(cfg)).stdout)["outbox"]
        counts = {t["target"]: (t["pending"], t["delivered"], t["dead"]) for t in st["targets"]}
        n = len(incidents)
        assert counts == {k: (0, n, 0) for k in ("chat", "pd", "teams", "hook", "down")}, counts
        for path in ("/slack", "/pd", "/teams", "/json"):
            assert len(rx.at(path)) == n, path  # nothing sent twice
    finally:
        rx.stop()


def _watch_to_hook(rig, tmp_path: Path, rx: Receiver, watch_extra: str = "", notify_extra: str = "") -> tuple:
    """A config for `watch` on the rig (WATCH_YAML + `watch_extra` under watch:) sending to rx's signed-JSON hook at
    /json (and any `notify_extra` targets); returns (config path, environment)."""
    extra = WATCH_YAML + watch_extra + f"""notify:
  targets:
    hook: {{kind: json, url: '{rx.url}/json', secret_env: DM_TEST_HOOK_KEY}}
{notify_extra}"""
    cfg = tmp_path / "config.yaml"
    env = rig_config(rig, cfg, tmp_path / "store.db", extra)
    env.update(DM_TEST_HOOK_KEY="hook-key", DM_TEST_PD_KEY="pd-key")
    return cfg, env


def test_recovered_incidents_are_resolved_and_import_errors_announced(rig, tmp_path):
    """Resolves on the real rig (docs/watch.md "Recovery and resolves"): a zoo_recoverable run fails, the watcher
    announces it; the cause is fixed and a new run succeeds; the next `watch --once` finds the incident recovered (the
    check_recovery_rules logic, quiet_minutes 0) and sends one resolve per target — PagerDuty event_action resolve with
    the incident as dedup_key, the JSON hook incident.resolved — and a third cycle sends nothing more. The zoo's DAG
    file that fails to import is announced as an import_error incident."""
    import uuid

    rx = Receiver()
    u = rx.url
    cfg, env = _watch_to_hook(rig, tmp_path, rx, notify_extra=(
        f"    pd: {{kind: pagerduty, url: '{u}/pd', routing_key_env: DM_TEST_PD_KEY}}\n"
        "recovery:\n  - {dag: zoo_recoverable, quiet_minutes: 0}\n"))
    rest = RigRest(rig)
    rec = zoo.EXPECTATIONS["zoo_recoverable"]["recovery"]
    marker = Path(rig["zoo_data"]) / rec["marker"]
    tag = uuid.uuid4().hex[:10]
    watch = ("watch", "--once", "--json", "--config", str(cfg))
    try:
        marker.unlink(missing_ok=True)  # break it (test_runbook_e2e may have fixed it)
        broken = f"watch_broken__{tag}"
        assert rest.trigger_and_wait("zoo_recoverable", broken)["state"] == "failed"
        first = report(run_dagmedic(tmp_path / "home", env, *watch))
        incident = next(h["incident_id"] for h in first["handled"] if h["run_id"] == broken)
        hooks = [json.loads(r["body"]) for r in rx.at("/json")]
        assert [b["event"] for b in hooks if b["incident_id"] == incident] == ["incident.failure"]
        imports = [b for b in hooks if b["kind"] == "import_error"]
        assert len(imports) == 1 and Path(imports[0]["run_id"]).name == zoo.IMPORT_ERROR["filename"], imports
        assert "not_a_module" in imports[0]["error"], imports

        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("fixed by test_watch\n")
        assert rest.trigger_and_wait("zoo_recoverable", f"watch_fixed__{tag}")["state"] == "success"
        second = report(run_dagmedic(tmp_path / "home", env, *watch))
        assert incident in second["recovered"], second
        pd = [json.loads(r["body"]) for r in rx.at("/pd")]
        resolves = [b for b in pd if b["event_action"] == "resolve" and b["dedup_key"] == incident]
        assert len(resolves) == 1 and resolves[0]["routing_key"] == "pd-key", pd
        hooks = [json.loads(r["body"]) for r in rx.at("/json")]
        assert [b["event"] for b in hooks if b["incident_id"] == incident] == ["incident.failure", "incident.resolved"]

        sent = len(rx.requests)
        third = report(run_dagmedic(tmp_path / "home", env, *watch))
        assert third["recovered"] == [] and third["resolves_enqueued"] == 0, third
        assert len(rx.requests) == sent, "nothing is sent twice"
        with McpSession(cfg, tmp_path / "home-serve", env=env) as s:
            doc = json.loads(s.read_resource(f"dagmedic://incidents/{incident}"))
        assert doc["state"] == "recovered", doc
    finally:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("fixed by test_watch\n")  # leave the DAG fixed, as test_runbook_e2e does
        rest.close()
        rx.stop()


def _set_paused(rest: RigRest, dag_id: str, paused: bool) -> None:
    r = rest.http.patch(f"{rest.base}/dags/{dag_id}", params={"update_mask": "is_paused"},
                        json={"is_paused": paused})
    assert r.status_code == 200, f"PATCH /dags/{dag_id} -> {r.status_code}: {r.text[:300]}"


def _next_run_after(rest: RigRest, dag_id: str) -> str | None:
    """When the scheduler expects to make the DAG's next run (v2 next_dagrun_run_after, v1 next_dagrun_create_after)."""
    d = rest.dag(dag_id)
    return d.get("next_dagrun_run_after", d.get("next_dagrun_create_after"))


def _wait(pred, timeout: float, what: str):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(2)
    raise AssertionError(f"not within {timeout}s: {what}")


def test_a_scheduled_dag_paused_mid_test_becomes_late_and_on_time_again(rig, tmp_path):
    """Freshness on the real rig (docs/watch.md "Other kinds of incident"): zoo_scheduled runs every minute; paused,
    its next run is not made, and once the time Airflow expects it has passed (grace 0) `watch --once` opens a late
    incident saying the DAG is paused, announced once. Unpaused, the scheduler makes the run, the expected time moves on,
    and the next cycle resolves the incident."""
    import datetime

    rx = Receiver()
    cfg, env = _watch_to_hook(rig, tmp_path, rx, watch_extra=(
        f"  freshness:\n    rules:\n      - {{dag: {zoo.SCHEDULED['dag_id']}, grace_minutes: 0}}\n"))
    rest = RigRest(rig)
    dag = zoo.SCHEDULED["dag_id"]
    watch = ("watch", "--once", "--json", "--config", str(cfg))

    def now_iso() -> str:
        return datetime.datetime.now(datetime.timezone.utc).isoformat()

    def after_now(iso: str | None) -> bool:
        return bool(iso) and datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")) > datetime.datetime.now(
            datetime.timezone.utc)

    try:
        _set_paused(rest, dag, False)
        # Running on schedule: a scheduled run exists and the next one is expected in the future.
        _wait(lambda: after_now(_next_run_after(rest, dag))
              and rest.get(f"/dags/{dag}/dagRuns", limit=1)["total_entries"] > 0, 240, f"{dag} scheduled")
        _set_paused(rest, dag, True)
        expected = _next_run_after(rest, dag)
        _wait(lambda: not after_now(expected), 120, f"{dag}'s expected time {expected} passing")

        late = report(run_dagmedic(tmp_path / "home", env, *watch))
        mine = [h for h in late["handled"] if h["kind"] == "late"]
        assert [h["dag_id"] for h in mine] == [dag], late
        assert any("the DAG is paused" in n for n in mine[0]["notes"]), mine
        assert late["freshness_checked"] == 1, late
        incident = mine[0]["incident_id"]
        hooks = [json.loads(r["body"]) for r in rx.at("/json") if json.loads(r["body"])["incident_id"] == incident]
        assert [(b["event"], b["kind"]) for b in hooks] == [("incident.failure", "late")], hooks
        again = report(run_dagmedic(tmp_path / "home", env, *watch))
        assert [h for h in again["handled"] if h["kind"] == "late"] == [], again  # once

        _set_paused(rest, dag, False)
        _wait(lambda: _next_run_after(rest, dag) != expected, 240, f"{dag}'s missed run being made")
        back = report(run_dagmedic(tmp_path / "home", env, *watch))
        assert incident in back["recovered"], back
        hooks = [json.loads(r["body"]) for r in rx.at("/json") if json.loads(r["body"])["incident_id"] == incident]
        assert [b["event"] for b in hooks] == ["incident.failure", "incident.resolved"], hooks
    finally:
        _set_paused(rest, dag, True)  # the zoo's other tests never see it run
        rest.close()
        rx.stop()


def test_a_sleeping_task_becomes_stuck_and_is_resolved_when_it_stops(rig, tmp_path):
    """Stuck tasks on the real rig (docs/watch.md "Other kinds of incident"): zoo_sleeper's task sleeps for minutes; with
    watch.stuck's absolute limit at 20 s (the task has no successful history, so no p95), `watch --once` opens a stuck
    incident for that try, once. The run is then marked failed (Airflow stops the task) and the next cycle resolves
    the incident."""
    import uuid

    rx = Receiver()
    cfg, env = _watch_to_hook(rig, tmp_path, rx, watch_extra="  stuck: {min_seconds: 5, max_seconds: 20}\n")
    rest = RigRest(rig)
    dag, task = zoo.SLEEPER["dag_id"], zoo.SLEEPER["task_id"]
    run_id = f"watch_sleeper__{uuid.uuid4().hex[:10]}"
    watch = ("watch", "--once", "--json", "--config", str(cfg))

    def running_for() -> float:
        import datetime

        tis = [t for t in rest.task_instances(dag, run_id) if t["task_id"] == task]
        if not tis or tis[0]["state"] != "running" or not tis[0].get("start_date"):
            return 0.0
        start = datetime.datetime.fromisoformat(tis[0]["start_date"].replace("Z", "+00:00"))
        return (datetime.datetime.now(datetime.timezone.utc) - start).total_seconds()

    import datetime

    try:
        rest.trigger(dag, run_id, datetime.datetime.now(datetime.timezone.utc).isoformat())
        _wait(lambda: running_for() > 25, 300, f"{dag}.{task} running for 25 s")
        got = report(run_dagmedic(tmp_path / "home", env, *watch))
        stuck = [h for h in got["handled"] if h["kind"] == "stuck"]
        assert [(h["dag_id"], h["run_id"], h["first_failing_task"]) for h in stuck] == [(dag, run_id, task)], got
        assert "past the limit of 20 s" in stuck[0]["notes"][0], stuck
        incident = stuck[0]["incident_id"]
        again = report(run_dagmedic(tmp_path / "home", env, *watch))
        assert [h for h in again["handled"] if h["kind"] == "stuck"] == [], again  # once per try

        r = rest.http.patch(f"{rest.base}/dags/{dag}/dagRuns/{run_id}", json={"state": "failed"})
        assert r.status_code == 200, r.text[:300]
        _wait(lambda: all(t["state"] not in ("running", "queued") for t in rest.task_instances(dag, run_id)), 180,
              f"{dag}.{task} stopped")
        back = report(run_dagmedic(tmp_path / "home", env, *watch))
        assert incident in back["recovered"], back
        hooks = [json.loads(b["body"]) for b in rx.at("/json")]
        assert [h["event"] for h in hooks if h["incident_id"] == incident] == ["incident.failure", "incident.resolved"]
        assert [h["kind"] for h in hooks if h["incident_id"] == incident] == ["stuck", "stuck"]
    finally:
        rest.http.patch(f"{rest.base}/dags/{dag}/dagRuns/{run_id}", json={"state": "failed"})
        rest.close()
        rx.stop()
