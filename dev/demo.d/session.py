#!/usr/bin/env python3
"""The scripted assistant of dev/demo, driven by the official Python MCP client through `dagmedic serve` (stdio, with
the approval page on a loopback port), with a readable transcript on stdout. Two incidents:

  1. a missing upstream partition, from Detect to Postmortem: nothing to rerun, wait for upstream;
  2. zoo_recoverable, a vendor feed that is not delivered, followed through the guarded write: the feed lands (the
     demo creates its readiness marker), propose_action → request_approval (the agent) → a second person approves
     with `dagmedic approvals approve` under their own identity → clear_failed_tasks with that approval → the run
     succeeds → `dagmedic audit verify` → check_recovery_rules says recovered → the postmortem lists who asked, who
     approved and what ran.

It ends with one summary line per stage.

  session.py --rig RIG_JSON [--dagmedic PATH] [--dag DAG_ID]

Exit 0 when every step answered as expected; 1 otherwise (the transcript says which step).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "airflow"))
from mcpsession import McpSession, rig_config  # noqa: E402

PREFERRED = "zoo_missing_partition"  # tier 1, business critical, upstream_failed downstream: a good story
RECOVERABLE = "zoo_recoverable"      # fails until its readiness marker exists (tests/airflow/dags/zoo_recoverable.py)
MARKER = "recoverable/READY"
APPROVER = "bob"                     # the second person; the agent asks for the OS user running the demo
WIDTH = 110
RUN_WAIT_S = 240


def bold(s: str) -> str:
    return s if os.environ.get("NO_COLOR") or not sys.stdout.isatty() else f"\033[1m{s}\033[0m"


class Transcript:
    def __init__(self, session: McpSession):
        self.s = session
        self.n = 0
        self.failed: list[str] = []
        self.summary: dict[str, list[str]] = {}

    def note(self, stage: str, line: str) -> None:
        self.summary.setdefault(stage, []).append(line)

    def fail(self, what: str) -> None:
        print(bold(f"   ! {what}"))
        self.failed.append(what)

    def call(self, stage: str, tool: str, args: dict, keys: list[str] = (), text_lines: int = 12):
        self.n += 1
        print()
        print(bold(f"── {self.n}. [{stage}] {tool}") + " " + json.dumps(args))
        r = self.s.call(tool, args)
        if r.is_error:
            print(textwrap.indent(r.text.strip(), "   ! "))
            self.failed.append(tool)
            return None
        lines = r.text.strip().splitlines()
        for line in lines[:text_lines]:
            print("   " + line[:WIDTH])
        if len(lines) > text_lines:
            print(f"   … ({len(lines) - text_lines} more lines)")
        st = r.structured or {}
        if isinstance(st.get("lines"), list) and tool == "task_log":
            for line in st["lines"][-5:]:
                print(f"   │ {line['n']:>6}  {line['text'][:WIDTH - 10]}")
        shown = {k: st[k] for k in keys if k in st}
        if shown:
            print("   key fields: " + json.dumps(shown, ensure_ascii=False)[:600])
        print(f"   ({r.size:,} bytes to the model{', truncated' if st.get('truncated') else ''})")
        return st


def demo_config(rig: dict, tmp: Path, approver_token: str) -> tuple[dict[str, str], Path, Path]:
    """The agent's config (identity: the OS user) and the approver's (identity: bob); one store, one audit key."""
    extra = "\n".join([
        "audit:",
        f"  key_file: {tmp / 'audit.key'}",
        "  checkpoint_every: 1",
        "recovery:",
        f"  - {{dag: {RECOVERABLE}, quiet_minutes: 0}}",
        "approvers:",
        f"  {APPROVER}: {{token_sha256: {hashlib.sha256(approver_token.encode()).hexdigest()}}}",
        "",
    ])
    (tmp / "audit.key").write_text(secrets.token_hex(32) + "\n")
    os.chmod(tmp / "audit.key", 0o600)
    agent_cfg, approver_cfg = tmp / "config.yaml", tmp / f"config-{APPROVER}.yaml"
    env = rig_config(rig, agent_cfg, tmp / "store.db", extra_yaml=extra)
    rig_config(rig, approver_cfg, tmp / "store.db", extra_yaml=extra + f"identity: {{principal: {APPROVER}}}\n")
    return env, agent_cfg, approver_cfg


def cli(dagmedic: Path, env: dict[str, str], home: Path, *args: str) -> subprocess.CompletedProcess:
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **env}
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(dagmedic), *args], env=full, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def show_cli(stage: str, r: subprocess.CompletedProcess, argv_shown: str, lines: int = 8) -> None:
    print()
    print(bold(f"── [{stage}] $ {argv_shown}") + f"   (exit {r.returncode})")
    for line in (r.stdout + r.stderr).strip().splitlines()[:lines]:
        print("   " + line[:WIDTH])


def first_incident(t: Transcript, tools: dict, rf: dict, dag_wanted: str) -> None:
    """Detect → Postmortem on a missing partition: the advice is to wait, nothing is written."""
    pick = next((f for f in rf["failures"] if f["dag_id"] == dag_wanted), rf["failures"][0])
    dag, run = pick["dag_id"], pick["run_id"]
    ids = {"dag_id": dag, "run_id": run}
    print(bold(f"\n   → incident 1: following {dag} / {run}"))

    summ = t.call("Triage", "get_run_summary", ids,
                  ["severity", "tier", "business_critical", "first_failing_task", "upstream_failed_tasks",
                   "incident_id"]) or {}
    ft = t.call("Triage", "get_failed_tasks", ids, ["count", "first_failing_task"]) or {}
    task = ft.get("first_failing_task") or pick.get("first_failing_task") or ""
    t.note("Triage", f"{dag}: severity {summ.get('severity', '?')}, first failing task {task or '?'}")
    t.call("Diagnose", "task_log", {**ids, "task_id": task, "tail_lines": 15},
           ["total_lines", "total_bytes"], text_lines=6)
    err = t.call("Diagnose", "extract_task_errors", {**ids, "task_id": task},
                 ["signature", "category", "exception_type", "error", "action", "risk"]) or {}
    t.note("Diagnose", f"{dag}: {err.get('category', '?')} ({err.get('exception_type') or 'no exception type'}), "
                       f"signature {err.get('signature', '?')}")
    t.call("Diagnose", "failure_frequency", {"dag_id": dag}, ["runs", "failed_runs"], text_lines=6)
    sig = err.get("signature", "")
    if sig:
        t.call("Diagnose", "suggest_prevention_actions", {"signature": sig}, ["category"], text_lines=8)
    if sig and "propose_action" in tools:
        prop = t.call("Remediate", "propose_action", {"signature": sig, "context": ids},
                      ["action", "risk", "requires_approval", "next_step"], text_lines=8) or {}
        t.note("Remediate", f"{dag}: proposed {prop.get('action', '?')} "
                            f"({'approval needed' if prop.get('requires_approval') else 'nothing to write'})")
    v = t.call("Verify", "check_recovery_rules", ids, ["verdict", "reason", "failures_since", "advice"]) or {}
    t.note("Verify", f"{dag}: {v.get('verdict', '?')}")
    pm = t.call("Postmortem", "generate_postmortem", ids, ["incident_id", "uri"], text_lines=4)
    if pm and pm.get("markdown"):
        print(bold("\n   postmortem (first lines):"))
        for line in pm["markdown"].splitlines()[:25]:
            print("   │ " + line[:WIDTH])
        t.note("Postmortem", f"{dag}: {pm.get('incident_id', '?')}")


def wait_for_run(t: Transcript, ids: dict, deadline_s: float) -> str:
    """Polls get_run_summary (a read tool) until the cleared run is final; returns its last state."""
    end = time.monotonic() + deadline_s
    state = "?"
    while time.monotonic() < end:
        r = t.s.call("get_run_summary", ids)
        st = r.structured or {}
        state = st.get("state") or (st.get("run") or {}).get("state") or "?"
        if not r.is_error and state in ("success", "failed"):
            return state
        time.sleep(3)
    return state


def second_incident(t: Transcript, rf: dict, rig: dict, a: argparse.Namespace, env: dict, tmp: Path,
                    approver_cfg: Path) -> None:
    """The guarded write: the cause is fixed during the demo, a second human approves, the failed task is cleared."""
    runs = [f for f in rf["failures"] if f["dag_id"] == RECOVERABLE]
    if not runs:
        t.fail(f"{RECOVERABLE} did not fail in the window: the guarded-write part cannot be shown")
        return
    newest = max(runs, key=lambda f: (f.get("logical_date") or f.get("start_date") or "", f["run_id"]))
    dag, run = RECOVERABLE, newest["run_id"]
    ids = {"dag_id": dag, "run_id": run}
    print(bold(f"\n   → incident 2: following {dag} / {run} (a vendor feed that was not delivered)"))

    ft = t.call("Triage", "get_failed_tasks", ids, ["count", "first_failing_task"]) or {}
    task = ft.get("first_failing_task") or "load_vendor_prices"
    t.note("Triage", f"{dag}: first failing task {task}")
    err = t.call("Diagnose", "extract_task_errors", {**ids, "task_id": task},
                 ["signature", "category", "exception_type", "error"]) or {}
    sig = err.get("signature", "")
    t.note("Diagnose", f"{dag}: {err.get('category', '?')}, signature {sig or '?'}")
    if not sig:
        t.fail("no signature for the second incident")
        return
    prop = t.call("Remediate", "propose_action", {"signature": sig, "context": ids},
                  ["action", "requires_approval", "next_step"], text_lines=4) or {}

    marker = Path(rig["zoo_data"]) / MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("delivered during dagmedic's demo\n")
    print(bold(f"\n   ✓ the vendor feed lands: the demo creates the readiness marker {marker}"))

    prop = t.call("Remediate", "propose_action", {"signature": sig, "context": {**ids, "upstream_ready": True}},
                  ["action", "risk", "requires_approval", "policy"], text_lines=6) or {}
    req = prop.get("params") or {}
    if prop.get("action") != "clear_failed_tasks" or not prop.get("requires_approval") or not req.get("action"):
        t.fail(f"expected a guarded clear_failed_tasks proposal, got {prop.get('action')!r}")
        return
    ap = t.call("Remediate", "request_approval",
                {"action": req["action"], "params": req.get("params", {}),
                 **({"environment": req["environment"]} if req.get("environment") else {}),
                 "reason": "demo: the vendor feed has landed; rerun the failed load"},
                ["approval_id", "state", "required_approvals", "requester"], text_lines=10) or {}
    aid = ap.get("approval_id")
    if not aid:
        t.fail("request_approval gave no approval id")
        return
    how = ap.get("how_to_approve", "")
    if "http" in how:
        url = how[how.index("http"):].split()[0].rstrip(".,")
        print(f"   approval page for a human: {url}")

    # Before anyone approves, the write is refused and nothing runs.
    early = t.s.call(req["action"], {**req.get("params", {}), "approval_id": aid})
    print()
    print(bold(f"── [Remediate] {req['action']} before any approval") +
          f" → {'refused' if early.is_error else 'RAN (unexpected)'}: {early.text.strip().splitlines()[0][:WIDTH]}")
    if not early.is_error:
        t.fail("the write ran without an approval")
        return

    r = cli(a.dagmedic, env, tmp / "home-bob", "approvals", "approve", aid, "--reason",
            "feed confirmed landed; rerun is safe", "--config", str(approver_cfg))
    show_cli("Remediate", r, f"dagmedic approvals approve {aid} --reason '…'   # as {APPROVER}, not the requester")
    if r.returncode != 0:
        t.fail("the second person's approval failed")
        return
    t.note("Remediate", f"{dag}: proposed clear_failed_tasks, requested by the agent, approved by {APPROVER}")

    w = t.call("Remediate", req["action"], {**req.get("params", {}), "approval_id": aid},
               ["status", "approval_id", "run_id", "cleared", "task_ids"], text_lines=6) or {}
    if not w:
        return
    print(f"\n   waiting for Airflow to rerun {task} (up to {RUN_WAIT_S} s)…")
    t0 = time.monotonic()
    state = wait_for_run(t, ids, RUN_WAIT_S)
    print(f"   run {run} is {state} after {time.monotonic() - t0:.0f} s")
    if state != "success":
        t.fail(f"the cleared run ended {state}")
    t.note("Remediate", f"{dag}: clear_failed_tasks ran with approval {aid[:8]}…; the run is {state}")

    r = cli(a.dagmedic, env, tmp / "home-cli", "audit", "verify", "--config", str(a.agent_cfg))
    show_cli("Verify", r, "dagmedic audit verify")
    if r.returncode != 0:
        t.fail("audit verify failed")
    ex = cli(a.dagmedic, env, tmp / "home-cli", "audit", "export", "--config", str(a.agent_cfg))
    entries = [json.loads(x) for x in ex.stdout.splitlines() if x.strip().startswith("{")]
    mine = [{"seq": x.get("seq"), **x["entry"]} for x in entries
            if isinstance(x.get("entry"), dict) and x["entry"].get("approval_id") == aid]
    print(bold(f"   audit entries of approval {aid[:8]}…:"))
    for e in mine:
        print(f"   │ #{e.get('seq')} {e.get('phase', ''):9} {e.get('tool', ''):20} {e.get('principal', ''):24} "
              f"{e.get('decision', '')} {e.get('approval_event', '')} {e.get('upstream_status', '')}".rstrip()[:WIDTH])
    t.note("Verify", f"audit: {(r.stdout.strip().splitlines() or ['?'])[0]}; {len(mine)} entries for the approval")

    v = t.call("Verify", "check_recovery_rules", ids, ["verdict", "reason", "failures_since"]) or {}
    t.note("Verify", f"{dag}: {v.get('verdict', '?')}")
    if v.get("verdict") != "recovered":
        t.fail(f"check_recovery_rules says {v.get('verdict')!r}, not recovered")

    pm = t.call("Postmortem", "generate_postmortem", ids, ["incident_id"], text_lines=3) or {}
    md = pm.get("markdown", "")
    actions = md[md.find("## Actions"):] if "## Actions" in md else ""
    if actions:
        print(bold("\n   postmortem, Actions section:"))
        for line in actions.splitlines()[:14]:
            print("   │ " + line[:WIDTH])
    if not actions or APPROVER not in actions:
        t.fail("the postmortem has no Actions section naming the approver")
    t.note("Postmortem", f"{dag}: {pm.get('incident_id', '?')}, Actions: who asked, who approved ({APPROVER}), "
                         "what ran")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rig", required=True, type=Path)
    ap.add_argument("--dagmedic", type=Path, default=Path(os.environ.get("DM_BUILD", ROOT / "build")) / "dagmedic")
    ap.add_argument("--dag", default=PREFERRED, help="the first incident to follow, if it failed in the window")
    a = ap.parse_args()
    rig = json.loads(a.rig.read_text())
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="dm-demo-") as d:
        tmp = Path(d)
        env, a.agent_cfg, approver_cfg = demo_config(rig, tmp, secrets.token_urlsafe(24))
        print(bold(f"dagmedic demo: Airflow {rig['airflow_version']} at {rig['url']} (API {rig['api_version']})"))
        argv = [str(a.dagmedic), "serve", "--transport", "stdio", "--config", str(a.agent_cfg), "--approval-port", "0"]
        with McpSession(None, tmp / "home", env=env, argv=argv) as s:
            tools = {t.name: t for t in s.list_tools()}
            print(f"dagmedic {s.init.server_info.version}: {len(tools)} tools: {', '.join(sorted(tools))}")
            t = Transcript(s)

            rf = t.call("Detect", "list_recent_failures", {"window_minutes": 60},
                        ["count", "dags_affected"], text_lines=8)
            if not rf or not rf.get("failures"):
                print("no failure in the last hour: nothing to follow")
                return 1
            t.note("Detect", f"{rf.get('count', len(rf['failures']))} failed runs in the last hour, "
                             f"{len(rf.get('dags_affected') or [])} DAGs")
            first_incident(t, tools, rf, a.dag)
            second_incident(t, rf, rig, a, env, tmp, approver_cfg)

            print()
            print(bold(f"summary ({t.n} tool calls, {time.monotonic() - started:.0f} s):"))
            for stage in ("Detect", "Triage", "Diagnose", "Remediate", "Verify", "Postmortem"):
                print(f"  {stage:10} " + " | ".join(t.summary.get(stage, ["(nothing)"])))
            if t.failed:
                print(bold(f"demo finished with errors in: {', '.join(t.failed)}"))
                return 1
            print(bold("demo finished: every step answered as expected"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
