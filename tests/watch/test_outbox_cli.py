"""The notification outbox end to end, on the real `dagmedic watch` binary (docs/watch.md
"Notifications: the outbox"), without the heavy Airflow rigs:

- FakeAirflow (airflow_double.py, shared with test_leases_pg.py): a TEST DOUBLE of the Airflow 2
  REST API (/api/v1), only the reads the watcher makes (runs, a run's task instances, a DAG, a
  try's log; no import errors, nothing running). It is not Airflow; the watch loop against real
  Airflow is tests/airflow/test_watch.py.
- Receiver: a real local HTTP server (http.server) standing in for Slack, PagerDuty, Teams and a
  signed-JSON webhook; it records every request and answers as each test scripts it.

Checks: each payload kind's documented fields, the HMAC signature, redaction of a secret planted
in the failing task's log, a 4xx dead-lettered and shown by `watch status`, a 5xx retried, and a
kill -9 while a receiver hangs mid-delivery: after a restart every message arrives at least once,
none is lost, and a repeat carries the same Idempotency-Key.

    DM_BUILD=build python3 -m pytest tests/watch/test_outbox_cli.py
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from airflow_double import FakeAirflow  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("DM_BUILD", ROOT / "build")) / "dagmedic"
HOOK_KEY = "hook-secret-for-tests"
PD_KEY = "pd-routing-key-for-tests"


@pytest.fixture
def rig(tmp_path):
    if not BIN.exists():
        pytest.fail(f"{BIN} missing: build the dagmedic target")
    af, rx = FakeAirflow(), Receiver()
    yield af, rx, tmp_path
    af.stop()
    rx.stop()


def write_config(tmp: Path, af: FakeAirflow, targets: str) -> Path:
    cfg = tmp / "config.yaml"
    cfg.write_text(
        "environments:\n"
        f"  dev: {{kind: airflow, url: '{af.url}', api_version: v1}}\n"
        f"store: {{path: '{tmp / 'dm.db'}'}}\n"
        "watch: {initial_lookback_minutes: 120, interval_seconds: 1}\n"
        "notify:\n"
        "  base_url: https://dagmedic.example.com\n"
        "  backoff_initial_seconds: 30\n"
        "  targets:\n" + targets)
    return cfg


def dagmedic(cfg: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PD_KEY=PD_KEY, HOOK_KEY=HOOK_KEY, HOME=str(cfg.parent))
    return subprocess.run([str(BIN), "watch", *args, "--config", str(cfg)], env=env,
                          capture_output=True, text=True, timeout=timeout)


LOG = ("[2026-11-26T11:50:00] INFO - Running load\n"
       "Traceback (most recent call last):\n"
       "  File \"/opt/airflow/dags/etl.py\", line 12, in load\n"
       "    raise ConnectionError(\"login refused for password=hunter2\")\n"
       "ConnectionError: login refused for password=hunter2\n")


def test_every_kind_is_delivered_once_redacted_and_signed(rig):
    af, rx, tmp = rig
    af.fail("etl_orders", "scheduled__1", 3, LOG)
    rx.status.update({"/gone": 404, "/busy": 503})
    u = rx.url
    cfg = write_config(tmp, af,
                       f"    chat: {{kind: slack, url: '{u}/slack'}}\n"
                       f"    pd: {{kind: pagerduty, url: '{u}/pd', routing_key_env: PD_KEY}}\n"
                       f"    teams: {{kind: teams, url: '{u}/teams'}}\n"
                       f"    sink: {{kind: json, url: '{u}/json', secret_env: HOOK_KEY}}\n"
                       f"    gone: {{kind: slack, url: '{u}/gone'}}\n"
                       f"    busy: {{kind: json, url: '{u}/busy', secret_env: HOOK_KEY, max_attempts: 3}}\n")
    r = dagmedic(cfg, "--once", "--json")
    assert r.returncode == 0, r.stderr
    cycle = json.loads(r.stdout.strip().splitlines()[-1])
    assert cycle["environments"][0]["opened"] == 1, cycle
    d = cycle["delivery"]
    assert (d["delivered"], d["dead"], d["retried"]) == (4, 1, 1), d
    inc = cycle["environments"][0]["handled"][0]["incident_id"]
    link = f"https://dagmedic.example.com/incidents/{inc}"

    for r_ in rx.requests:
        assert b"hunter2" not in r_["body"], r_
        assert len(r_["headers"]["Idempotency-Key"]) == 64
        assert r_["headers"]["Content-Type"] == "application/json"

    slack = json.loads(rx.at("/slack")[0]["body"])
    assert "etl_orders failed in dev" in slack["text"] and link in slack["text"]
    assert slack["blocks"][0]["type"] == "header"

    pd = json.loads(rx.at("/pd")[0]["body"])
    assert pd["routing_key"] == PD_KEY
    assert pd["event_action"] == "trigger" and pd["dedup_key"] == inc
    p = pd["payload"]
    assert set(p) >= {"summary", "source", "severity", "timestamp", "component", "group", "class",
                      "custom_details"}
    assert len(p["summary"]) <= 1024 and p["severity"] == "critical" and p["component"] == "etl_orders"
    assert pd["links"][0]["href"] == link

    teams = json.loads(rx.at("/teams")[0]["body"])
    att = teams["attachments"][0]
    assert teams["type"] == "message"
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert att["content"]["type"] == "AdaptiveCard" and att["content"]["version"] == "1.4"

    sj = rx.at("/json")[0]
    ts = sj["headers"]["X-Dagmedic-Timestamp"]
    want = "sha256=" + hmac.new(HOOK_KEY.encode(), ts.encode() + b"." + sj["body"],
                                hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sj["headers"]["X-Dagmedic-Signature"], want)
    assert abs(int(ts) - time.time()) < 300
    body = json.loads(sj["body"])
    assert body["incident_id"] == inc and body["severity"] == "sev1" and body["incident_url"] == link
    assert "[REDACTED:password]" in body["error"] or "[REDACTED:password]" in body["signature"], body

    st = dagmedic(cfg, "status", "--json")
    assert st.returncode == 0, st.stderr
    ob = json.loads(st.stdout)["outbox"]
    counts = {t["target"]: (t["pending"], t["delivered"], t["dead"]) for t in ob["targets"]}
    assert counts == {"chat": (0, 1, 0), "pd": (0, 1, 0), "teams": (0, 1, 0), "sink": (0, 1, 0),
                      "gone": (0, 0, 1), "busy": (1, 0, 0)}, counts
    assert [(m["target"], m["attempts"]) for m in ob["dead"]] == [("gone", 1)]
    assert ob["dead"][0]["last_error"].startswith("HTTP 404")
    text = dagmedic(cfg, "status").stdout
    assert "gone: 0 pending, 0 delivered, 1 dead" in text and "HTTP 404" in text, text

    # The next cycle: nothing new is handled, delivered messages are not sent again.
    r = dagmedic(cfg, "--once", "--json")
    assert r.returncode == 0, r.stderr
    for path in ("/slack", "/pd", "/teams", "/json", "/gone"):
        assert len(rx.at(path)) == 1, path


def test_a_bad_target_stops_start_up_naming_the_key(rig):
    af, rx, tmp = rig
    cfg = write_config(tmp, af, "    x: {kind: email, url: 'https://a.example/b'}\n")
    r = dagmedic(cfg, "--once")
    assert r.returncode != 0
    assert "notify.targets.x.kind: unknown kind \"email\"" in r.stderr, r.stderr
    cfg = write_config(tmp, af, "    x: {kind: slack, url: 'hooks.slack.com/x'}\n")
    r = dagmedic(cfg, "--once")
    assert r.returncode != 0 and "notify.targets.x.url" in r.stderr, r.stderr
    cfg = write_config(tmp, af, f"    x: {{kind: json, url: '{rx.url}/json', secret_env: DM_UNSET_VAR_X}}\n")
    r = dagmedic(cfg, "--once")
    assert r.returncode != 0 and "$DM_UNSET_VAR_X is unset or empty" in r.stderr, r.stderr
    assert rx.requests == []


def test_kill9_mid_delivery_loses_nothing(rig):
    af, rx, tmp = rig
    for i in range(3):
        af.fail(f"etl_{i}", "scheduled__1", 10 - i, LOG)
    rx.hang.set()
    cfg = write_config(tmp, af,
                       f"    hook: {{kind: json, url: '{rx.url}/hang', secret_env: HOOK_KEY, timeout_seconds: 60}}\n")
    env = dict(os.environ, PD_KEY=PD_KEY, HOOK_KEY=HOOK_KEY, HOME=str(tmp))
    p = subprocess.Popen([str(BIN), "watch", "--config", str(cfg)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert rx.hung.wait(120), "the watcher never reached the receiver"
        p.send_signal(signal.SIGKILL)  # kill -9 while the first message is in flight
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert len(rx.at("/hang")) == 1
    first_key = rx.at("/hang")[0]["headers"]["Idempotency-Key"]

    # The receiver is back; a restart delivers everything.
    rx.hang.clear()
    rx.release.set()
    r = dagmedic(cfg, "--once", "--json")
    assert r.returncode == 0, r.stderr
    got = rx.at("/hang")
    keys = [g["headers"]["Idempotency-Key"] for g in got]
    incidents = {json.loads(g["body"])["incident_id"] for g in got}
    assert len(incidents) == 3, "every message arrives at least once"
    assert len(set(keys)) == 3, "one key per message"
    assert keys.count(first_key) == 2, "the message in flight at the kill is sent again, same key"
    assert len(got) == 4
    st = json.loads(dagmedic(cfg, "status", "--json").stdout)["outbox"]["targets"]
    assert [(t["target"], t["pending"], t["delivered"], t["dead"]) for t in st] == [("hook", 0, 3, 0)]
