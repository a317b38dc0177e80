#!/usr/bin/env python3
"""Bytes-to-model journey: "what failed in the last hour?" down to the root-cause line, on the multi-MB-log DAG
(zoo_big_log), through dagmedic and through the PyPI MCP server `mcp-server-apache-airflow`, on the SAME Airflow,
both driven by the official Python MCP client (PyPI `mcp`, the tests' pin).

  journey.py --rig RIG_JSON --airflow-mcp PATH/mcp-server-apache-airflow [--dagmedic PATH] [--out FILE.md]

Counted: every tool result a model would read, text content + structuredContent, in UTF-8 bytes. Not counted (the
same for both, or nearly): the tools/list the client reads once per session (reported separately).

Journeys (what an assistant would call):
  dagmedic        list_recent_failures(window_minutes=60) → get_failed_tasks(dag, run) → extract_task_errors(dag, run,
                  first_failing_task)
  airflow-mcp     get_dag_runs(dag_id="~", state=[failed], end_date_gte=now-1h) → list_task_instances(dag, run) →
                  get_log(dag, task, run, try 1)
Both must contain the root-cause line. Exit 1 if a journey misses it; the 1/20 target is reported, not enforced.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "airflow"))
from mcpsession import McpSession, rig_config  # noqa: E402

DAG, TASK = "zoo_big_log", "replay_events"
ROOT_CAUSE = "checksum mismatch in batch 04999"


def step(session: McpSession, tool: str, args: dict) -> dict:
    t0 = time.perf_counter()
    r = session.call(tool, args)
    ms = (time.perf_counter() - t0) * 1000
    if r.is_error:
        raise SystemExit(f"{tool} {args} failed: {r.text[:500]}")
    blob = r.text + (json.dumps(r.structured, ensure_ascii=False) if r.structured is not None else "")
    return {"tool": tool, "args": args, "bytes": r.size, "ms": ms, "has_root_cause": ROOT_CAUSE in blob, "r": r}


def tools_list_bytes(session: McpSession) -> int:
    return sum(len(t.model_dump_json(by_alias=True, exclude_none=True).encode()) for t in session.list_tools())


def fresh_failure(rig: dict) -> str:
    """Triggers zoo_big_log now (logical date = now) and waits for it to fail: the incident of "the last hour",
    whatever the rig's age (its own zoo runs carry logical dates in January)."""
    from rigrest import RigRest

    rest = RigRest(rig)
    run_id = "journey__" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    r = rest.http.post(f"{rest.base}/dags/{DAG}/dagRuns",
                       json={"dag_run_id": run_id, "logical_date": datetime.now(timezone.utc).isoformat(), "conf": {}})
    if r.status_code not in (200, 201):
        raise SystemExit(f"trigger {DAG}: HTTP {r.status_code} {r.text[:300]}")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        state = rest.dag_run(DAG, run_id)["state"]
        if state in ("success", "failed"):
            rest.close()
            if state != "failed":
                raise SystemExit(f"{DAG} {run_id} ended {state}, expected failed")
            return run_id
        time.sleep(2)
    raise SystemExit(f"{DAG} {run_id} did not finish in 600 s")


def dagmedic_journey(rig: dict, dagmedic: Path, tmp: Path, window: int) -> tuple[list[dict], int]:
    env = rig_config(rig, tmp / "config.yaml", tmp / "store.db")
    with McpSession(tmp / "config.yaml", tmp / "dm-home", env=env, binary=dagmedic) as s:
        listing = tools_list_bytes(s)
        steps = [step(s, "list_recent_failures", {"window_minutes": window})]
        runs = [f for f in steps[0]["r"].structured["failures"] if f["dag_id"] == DAG]  # newest first
        if not runs:
            raise SystemExit(f"list_recent_failures did not list {DAG} in the last {window} min: rig older than that?")
        run_id = runs[0]["run_id"]
        steps.append(step(s, "get_failed_tasks", {"dag_id": DAG, "run_id": run_id}))
        task = steps[1]["r"].structured["first_failing_task"]
        steps.append(step(s, "extract_task_errors", {"dag_id": DAG, "run_id": run_id, "task_id": task}))
    return steps, listing


def airflow_mcp_journey(rig: dict, command: Path, run_id: str, tmp: Path, window: int) -> tuple[list[dict], int]:
    env = {"AIRFLOW_HOST": rig["url"], "AIRFLOW_USERNAME": rig["username"], "AIRFLOW_PASSWORD": rig["password"],
           "AIRFLOW_API_VERSION": "v1"}
    argv = [str(command), "--transport", "stdio", "--read-only"]
    with McpSession(None, tmp / "af-home", env=env, argv=argv) as s:
        listing = tools_list_bytes(s)
        since = (datetime.now(timezone.utc) - timedelta(minutes=window)).isoformat()
        # get_dag_runs_batch would be the natural call, but 0.2.10 sends its state filter as `state` where Airflow's
        # batch form wants `states` (HTTP 400); get_dag_runs over every DAG ("~") filters correctly.
        steps = [step(s, "get_dag_runs", {"dag_id": "~", "state": ["failed"], "end_date_gte": since})]
        if run_id not in steps[0]["r"].text:
            raise SystemExit(f"get_dag_runs did not list {DAG} {run_id}")
        steps.append(step(s, "list_task_instances", {"dag_id": DAG, "dag_run_id": run_id}))
        steps.append(step(s, "get_log", {"dag_id": DAG, "task_id": TASK, "dag_run_id": run_id,
                                         "task_try_number": 1}))
    return steps, listing


def build_type(binary: Path) -> str:
    """CMAKE_BUILD_TYPE (+ its flags) of the build tree holding the binary, for the wall-time caveat."""
    try:
        cache = (binary.parent / "CMakeCache.txt").read_text()
    except OSError:
        return "build type unknown"
    vals = dict(l.split("=", 1) for l in cache.splitlines() if "=" in l and not l.startswith(("#", "//")))
    bt = vals.get("CMAKE_BUILD_TYPE:STRING", "?")
    flags = vals.get(f"CMAKE_CXX_FLAGS_{bt.upper()}:STRING", "")
    return f"CMAKE_BUILD_TYPE={bt} {flags}".strip()


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rig", required=True, type=Path, help="rig.json of a running Airflow 2 rig (tests/airflow/rig.py)")
    ap.add_argument("--airflow-mcp", required=True, type=Path, help="the mcp-server-apache-airflow executable")
    ap.add_argument("--dagmedic", type=Path, default=Path(os.environ.get("DM_BUILD", ROOT / "build")) / "dagmedic")
    ap.add_argument("--repeat", type=int, default=3, help="dagmedic journeys to time (bytes are the same each time)")
    ap.add_argument("--out", type=Path, help="write the Markdown report here")
    ap.add_argument("--window-minutes", type=int, default=60, help="\"the last hour\" (both journeys use it)")
    a = ap.parse_args()
    rig = json.loads(a.rig.read_text())

    incident = fresh_failure(rig)
    with tempfile.TemporaryDirectory(prefix="dm-journey-") as d:
        tmp = Path(d)
        runs = []
        for i in range(max(1, a.repeat)):
            sub = tmp / f"dm{i}"
            sub.mkdir()
            runs.append(dagmedic_journey(rig, a.dagmedic, sub, a.window_minutes))
        dm_steps, dm_list = runs[0]
        run_id = dm_steps[1]["args"]["run_id"]
        if run_id != incident:
            raise SystemExit(f"dagmedic followed {run_id}, not the fresh failure {incident}")
        af_steps, af_list = airflow_mcp_journey(rig, a.airflow_mcp, run_id, tmp, a.window_minutes)

    dm_bytes = sum(s["bytes"] for s in dm_steps)
    af_bytes = sum(s["bytes"] for s in af_steps)
    ok_dm = any(s["has_root_cause"] for s in dm_steps)
    ok_af = any(s["has_root_cause"] for s in af_steps)
    ratio = af_bytes / dm_bytes if dm_bytes else float("inf")
    med = [statistics.median(r[0][i]["ms"] for r in runs) for i in range(len(dm_steps))]

    lines = [
        "# Journey benchmark: bytes to the model, \"what failed in the last hour?\" → root-cause line",
        "",
        f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on Airflow {rig['airflow_version']} "
        f"(REST /api/{rig['api_version']}, the zoo rig of tests/airflow), DAG `{DAG}` run `{run_id}` "
        "(~5 MB task log, the error at its end), triggered by the benchmark with logical date = now so that it is "
        "the newest failure of \"the last hour\" (the zoo's own runs carry January logical dates). Both servers driven by the official Python MCP client "
        "(`mcp` 2.3.0) over stdio; bytes = every tool result's text content + structuredContent (UTF-8).",
        "",
        "Command: `bash bench/journey/run.sh` (starts an Airflow 2 rig, or `--rig DIR/rig.json` for a running one).",
        "",
        "| server | step | tool | bytes | wall time | root-cause line in it |",
        "|---|---|---|---:|---:|---|",
    ]
    for i, s in enumerate(dm_steps):
        lines.append(f"| dagmedic | {i + 1} | `{s['tool']}` | {s['bytes']:,} | {med[i]:.0f} ms (median of "
                     f"{len(runs)}) | {'yes' if s['has_root_cause'] else 'no'} |")
    for i, s in enumerate(af_steps):
        lines.append(f"| mcp-server-apache-airflow | {i + 1} | `{s['tool']}` | {s['bytes']:,} | {s['ms']:.0f} ms | "
                     f"{'yes' if s['has_root_cause'] else 'no'} |")
    lines += [
        "",
        f"- dagmedic total: **{dm_bytes:,} bytes** ({human(dm_bytes)}); root-cause line reached: {ok_dm}.",
        f"- mcp-server-apache-airflow total: **{af_bytes:,} bytes** ({human(af_bytes)}); root-cause line reached: "
        f"{ok_af}.",
        f"- ratio: dagmedic returns **1/{ratio:.0f}** of the bytes (target ≤ 1/20: "
        f"{'met' if ratio >= 20 else 'NOT met'}).",
        f"- tools/list read once per session (not in the totals): dagmedic {dm_list:,} bytes, "
        f"mcp-server-apache-airflow {af_list:,} bytes (`--read-only`, all API groups).",
        f"- dagmedic journey wall time (sum of step medians): {sum(med):.0f} ms; binary {a.dagmedic} "
        f"({build_type(a.dagmedic)}), load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        "Why Airflow 2: `mcp-server-apache-airflow` 0.2.10 is built on `apache-airflow-client` < 3, which speaks only "
        "the Airflow 2 REST API (`/api/v1`); it cannot talk to Airflow 3 (`/api/v2`). Its pin lives in "
        "`bench/journey/requirements.txt` and is installed in its own venv (`$DM_CACHE/venv-journey`): its `fastmcp` "
        "needs cachetools>=5, drain3 in the shared venv pins 4.2.1. Its `get_dag_runs_batch` sends the state filter "
        "as `state` (Airflow wants `states`: HTTP 400), so its journey lists failed runs with `get_dag_runs(\"~\")`.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if a.out:
        a.out.write_text(report)
    if not (ok_dm and ok_af):
        print("a journey did not reach the root-cause line", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
