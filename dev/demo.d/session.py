#!/usr/bin/env python3
"""The scripted assistant of dev/demo: one incident from Detect to Postmortem through `dagmedic serve` (stdio),
driven by the official Python MCP client, with a readable transcript on stdout.

  session.py --rig RIG_JSON [--dagmedic PATH] [--dag DAG_ID]

Exit 0 when every step answered without isError; 1 otherwise (the transcript says which step).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "airflow"))
from mcpsession import McpSession, rig_config  # noqa: E402

PREFERRED = "zoo_missing_partition"  # tier 1, business critical, upstream_failed downstream: a good story
WIDTH = 110


def bold(s: str) -> str:
    return s if os.environ.get("NO_COLOR") or not sys.stdout.isatty() else f"\033[1m{s}\033[0m"


class Transcript:
    def __init__(self, session: McpSession):
        self.s = session
        self.n = 0
        self.failed: list[str] = []

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rig", required=True, type=Path)
    ap.add_argument("--dagmedic", type=Path, default=Path(os.environ.get("DM_BUILD", ROOT / "build")) / "dagmedic")
    ap.add_argument("--dag", default=PREFERRED, help="the incident to follow, if it failed in the window")
    a = ap.parse_args()
    rig = json.loads(a.rig.read_text())

    with tempfile.TemporaryDirectory(prefix="dm-demo-") as d:
        tmp = Path(d)
        env = rig_config(rig, tmp / "config.yaml", tmp / "store.db")
        print(bold(f"dagmedic demo: Airflow {rig['airflow_version']} at {rig['url']} (API {rig['api_version']})"))
        with McpSession(tmp / "config.yaml", tmp / "home", env=env, binary=a.dagmedic) as s:
            tools = {t.name: t for t in s.list_tools()}
            print(f"dagmedic {s.init.server_info.version}: {len(tools)} tools: {', '.join(sorted(tools))}")
            t = Transcript(s)

            rf = t.call("Detect", "list_recent_failures", {"window_minutes": 60},
                        ["count", "dags_affected"], text_lines=8)
            if not rf or not rf.get("failures"):
                print("no failure in the last hour: nothing to follow")
                return 1
            pick = next((f for f in rf["failures"] if f["dag_id"] == a.dag), rf["failures"][0])
            dag, run = pick["dag_id"], pick["run_id"]
            ids = {"dag_id": dag, "run_id": run}
            print(bold(f"\n   → following {dag} / {run}"))

            t.call("Triage", "get_run_summary", ids,
                   ["severity", "tier", "business_critical", "first_failing_task", "upstream_failed_tasks",
                    "incident_id"])
            ft = t.call("Triage", "get_failed_tasks", ids, ["count", "first_failing_task"]) or {}
            task = ft.get("first_failing_task") or pick.get("first_failing_task") or ""
            t.call("Diagnose", "task_log", {**ids, "task_id": task, "tail_lines": 15},
                   ["total_lines", "total_bytes"], text_lines=6)
            err = t.call("Diagnose", "extract_task_errors", {**ids, "task_id": task},
                         ["signature", "category", "exception_type", "error", "action", "risk"]) or {}
            t.call("Diagnose", "failure_frequency", {"dag_id": dag},
                   ["runs", "failed_runs"], text_lines=6)
            sig = err.get("signature", "")
            if sig:
                t.call("Diagnose", "suggest_prevention_actions", {"signature": sig}, ["category"], text_lines=8)
            if sig and "propose_action" in tools:
                prop = t.call("Remediate", "propose_action", {"signature": sig, "context": ids},
                              ["action", "risk", "requires_approval", "next_step"], text_lines=8) or {}
                req = prop.get("params") or {}
                if prop.get("requires_approval") and req.get("action") and "request_approval" in tools:
                    # Records a pending request only; nothing runs until a different human approves it
                    # (`dagmedic approvals approve ID --reason ...`).
                    t.call("Remediate", "request_approval",
                           {"action": req["action"], "params": req.get("params", {}),
                            "reason": "demo: rerun after the cause is fixed"},
                           ["approval_id", "state", "required_approvals", "how_to_approve"], text_lines=8)
            t.call("Verify", "check_recovery_rules", ids, ["verdict", "reason", "failures_since", "advice"])
            pm = t.call("Postmortem", "generate_postmortem", ids, ["incident_id", "uri"], text_lines=4)
            if pm and pm.get("markdown"):
                print(bold("\n   postmortem (first lines):"))
                for line in pm["markdown"].splitlines()[:40]:
                    print("   │ " + line[:WIDTH])
            print()
            if t.failed:
                print(bold(f"demo finished with errors in: {', '.join(t.failed)}"))
                return 1
            print(bold(f"demo finished: {t.n} tool calls, every one answered"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
