"""Log path benchmark (never run by tests): task_log (tail 200) and extract_task_errors through `dagmedic serve`
(MCP stdio, raw JSON-RPC) on task logs of several sizes served by a real Airflow 3 rig, for two dagmedic binaries side
by side (the baseline before issue 12 and the current one), next to the time Airflow alone takes to serve the same log
(curl on the same REST endpoint, same Accept header). Then the CloudWatch path on moto: GetLogEvents pages for a tail.

    python bench/logpath/logpath.py --rig DIR/rig.json --dagmedic NEW --baseline OLD --sizes 5,50,500
                                    [--cw-bench BUILD/bench/cw-tail-bench --moto-port N] [--out docs/benchmarks/logpath.md]

The logs are written by this script straight into the rig's log files of failed zoo tries (Airflow 3 structlog JSON
lines, as its task supervisor writes them: ~190-byte events, an error event with a structured traceback at the end),
so generating 500 MB costs seconds, not a task printing for minutes. Each measured call runs in a fresh server
process: its peak RSS (wait4 ru_maxrss) is that call's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def api(rig: dict, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    req = urllib.request.Request(rig["url"] + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Accept": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def token(rig: dict) -> str:
    return api(rig, "POST", "/auth/token", {"username": rig["username"], "password": rig["password"]})["access_token"]


def failed_tries(rig: dict, tok: str, n: int) -> list[dict]:
    """n failed, unmapped task tries of distinct runs, with a log file on disk."""
    out = []
    tis = api(rig, "GET", "/api/v2/dags/~/dagRuns/~/taskInstances?state=failed&limit=100", token=tok)
    for ti in tis["task_instances"]:
        if ti.get("map_index", -1) != -1 or ti["try_number"] < 1:
            continue
        f = (Path(rig["airflow_home"]) / "logs" / f"dag_id={ti['dag_id']}" / f"run_id={ti['dag_run_id']}" /
             f"task_id={ti['task_id']}" / f"attempt={ti['try_number']}.log")
        if f.is_file():
            out.append({"dag_id": ti["dag_id"], "run_id": ti["dag_run_id"], "task_id": ti["task_id"],
                        "try_number": ti["try_number"], "file": f})
        if len(out) == n:
            break
    if len(out) < n:
        raise SystemExit(f"only {len(out)} failed tries with a local log file; the rig needs its zoo")
    return out


def write_log(path: Path, mb: int) -> tuple[int, int]:
    """An Airflow 3 style JSON-lines log of about `mb` MB ending in a structured traceback. Returns (bytes, lines)."""
    pad = "x" * 96
    block = []
    for i in range(1000):
        block.append(json.dumps({"timestamp": "2026-12-06T10:00:00.123456Z", "level": "info",
                                 "event": f"replayed batch {i:06d} ok {pad}", "logger": "task.stdout"}) + "\n")
    chunk = "".join(block).encode()
    target = mb * 1_000_000
    lines = 0
    with open(path, "wb") as f:
        written = 0
        while written + len(chunk) <= target:
            f.write(chunk)
            written += len(chunk)
            lines += 1000
        err = json.dumps({"timestamp": "2026-12-06T10:59:59.000000Z", "level": "error",
                          "event": "Task failed with exception", "logger": "task",
                          "error_detail": [{"exc_type": "ValueError",
                                            "exc_value": "checksum mismatch in batch 04999: expected 9f2c1e, got 000000",
                                            "frames": [{"filename": "/opt/airflow/dags/replay.py", "lineno": 12,
                                                        "name": "replay_events"}]}]}) + "\n"
        f.write(err.encode())
        written += len(err)
        lines += 1
    return written, lines


def curl_time(rig: dict, tok: str, t: dict) -> tuple[float, int]:
    url = (f"{rig['url']}/api/v2/dags/{t['dag_id']}/dagRuns/{urllib.parse.quote(t['run_id'], safe='')}"
           f"/taskInstances/{t['task_id']}/logs/{t['try_number']}?full_content=false&map_index=-1")
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{time_total} %{size_download} %{http_code}",
                          "-H", f"Authorization: Bearer {tok}", "-H", "Accept: application/x-ndjson", url],
                         check=True, capture_output=True, text=True).stdout.split()
    if out[2] != "200":
        raise SystemExit(f"curl {url}: HTTP {out[2]}")
    return float(out[0]), int(out[1])


def config(rig: dict, d: Path) -> tuple[Path, dict]:
    cfg = d / "config.yaml"
    cfg.write_text("\n".join([
        "version: 1", "defaults:", "  environment: rig", "caps:", "  output_bytes_max: 16384",
        "environments:", "  rig:", "    kind: airflow", "    tier: dev", f"    url: {rig['url']}",
        f"    api_version: {rig['api_version']}", "    username_env: DM_BENCH_USER", "    password_env: DM_BENCH_PW",
        "    timeouts: {connect_seconds: 10, request_seconds: 900}",
        "store:", "  backend: sqlite", f"  path: {d / 'store.db'}", ""]))
    return cfg, {"DM_BENCH_USER": rig["username"], "DM_BENCH_PW": rig["password"]}


def call_once(binary: Path, cfg: Path, env: dict, home: Path, tool: str, args: dict) -> dict:
    """One fresh `dagmedic serve` process: initialize, one tools/call (timed), exit. Returns wall s, peak RSS, answer."""
    e = {**os.environ, **env, "HOME": str(home)}
    p = subprocess.Popen([str(binary), "serve", "--transport", "stdio", "--config", str(cfg)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=e)

    def send(m: dict) -> None:
        p.stdin.write((json.dumps(m) + "\n").encode())
        p.stdin.flush()

    def recv(want_id: int) -> dict:
        while True:
            line = p.stdout.readline()
            if not line:
                raise SystemExit(f"{binary} exited before answering")
            m = json.loads(line)
            if m.get("id") == want_id:
                return m

    send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
          "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})
    recv(1)
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    t0 = time.perf_counter()
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": args}})
    r = recv(2)
    wall = time.perf_counter() - t0
    p.stdin.close()
    _, status, ru = os.wait4(p.pid, 0)
    res = r.get("result", {})
    if res.get("isError") or "error" in r:
        raise SystemExit(f"{tool} failed: {json.dumps(r)[:500]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024, "result": res}


def cw_bench(cw: Path, moto_port: int, sizes: list[int]) -> list[dict]:
    """Puts a stream of `mb` MB (Airflow 3 JSON events, as MWAA writes them) in moto per size; tail vs forward read."""
    sys.path.insert(0, str(ROOT / "tests" / "aws"))
    import botocore.session  # from the tools venv

    s = botocore.session.get_session()
    logs = s.create_client("logs", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{moto_port}",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    group = "airflow-bench-Task"
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    pad = "x" * 96
    rows = []
    for mb in sizes:
        run = f"bench_{mb}mb"
        stream = f"dag_id=bench/run_id={run}/task_id=t/attempt=1.log"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        n = mb * 1_000_000 // 190
        ts = int(time.time() * 1000) - n
        t0 = time.perf_counter()
        batch, size = [], 0
        for i in range(n):
            msg = json.dumps({"timestamp": "2026-12-06T10:00:00.123456Z", "level": "info",
                              "event": f"replayed batch {i:06d} ok {pad}", "logger": "task.stdout"})
            batch.append({"timestamp": ts + i, "message": msg})
            size += len(msg) + 26
            if len(batch) == 10000 or size > 900_000:
                logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
                batch, size = [], 0
        batch.append({"timestamp": ts + n, "message": json.dumps(
            {"timestamp": "2026-12-06T10:59:59Z", "level": "error", "event": "Task failed with exception",
             "error_detail": [{"exc_type": "ValueError", "exc_value": "checksum mismatch", "frames": []}]})})
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        put_s = time.perf_counter() - t0
        out = subprocess.run([str(cw), "--endpoint", f"http://127.0.0.1:{moto_port}", "--group", group,
                              "--dag", "bench", "--run", run, "--task", "t", "--tail", "200"],
                             check=True, capture_output=True, text=True).stdout
        modes = {j["mode"]: j for j in map(json.loads, out.splitlines())}
        rows.append({"mb": mb, "events": n + 1, "put_s": put_s, **{f"{k}_{m}": v for m, j in modes.items()
                                                                     for k, v in j.items() if k != "mode"}})
        logs.delete_log_stream(logGroupName=group, logStreamName=stream)  # moto keeps streams in memory
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rig", required=True)
    ap.add_argument("--dagmedic", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--sizes", default="5,50,500")
    ap.add_argument("--runs", type=int, default=2, help="calls per (binary, tool, size); the median is reported")
    ap.add_argument("--cw-bench")
    ap.add_argument("--cw-sizes", default="5,50")
    ap.add_argument("--moto-port", type=int)
    ap.add_argument("--out")
    a = ap.parse_args()
    rig = json.loads(Path(a.rig).read_text())
    sizes = [int(x) for x in a.sizes.split(",")]
    tok = token(rig)
    tries = failed_tries(rig, tok, len(sizes))
    binaries = {"baseline": Path(a.baseline), "new": Path(a.dagmedic)}
    rows = []
    with tempfile.TemporaryDirectory(prefix="dm-logpath-") as tmp:
        tmp = Path(tmp)
        cfg, env = config(rig, tmp)
        for mb, t in zip(sizes, tries):
            t0 = time.perf_counter()
            nbytes, nlines = write_log(t["file"], mb)
            print(f"[logpath] wrote {nbytes / 1e6:.1f} MB ({nlines} lines) into {t['file']} in "
                  f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)
            args = {"dag_id": t["dag_id"], "run_id": t["run_id"], "task_id": t["task_id"]}
            curls = [curl_time(rig, tok, t) for _ in range(a.runs)]
            row = {"mb": mb, "file_bytes": nbytes, "lines": nlines, "curl_s": statistics.median(c[0] for c in curls),
                   "served_bytes": curls[0][1]}
            for name, binary in binaries.items():
                for tool, targs in (("task_log", {**args, "tail_lines": 200}), ("extract_task_errors", args)):
                    calls = [call_once(binary, cfg, env, tmp / "home", tool, targs) for _ in range(a.runs)]
                    sc = calls[-1]["result"].get("structuredContent", {})
                    row[f"{name}_{tool}_s"] = statistics.median(c["wall"] for c in calls)
                    row[f"{name}_{tool}_rss"] = max(c["rss_mb"] for c in calls)
                    row[f"{name}_{tool}_cpu"] = statistics.median(c["cpu"] for c in calls)
                    row[f"{name}_{tool}_capped"] = sc.get("log_capped", False) or any(
                        "longer than" in n for n in sc.get("notes", []))
                    if tool == "task_log":
                        row[f"{name}_tail_ok"] = any("checksum mismatch" in (ln.get("text") or "")
                                                     for ln in sc.get("lines", []))
                        row[f"{name}_levels"] = sum(1 for ln in sc.get("lines", []) if "level" in ln)
                    else:
                        row[f"{name}_found"] = sc.get("found")
                    print(f"[logpath] {mb} MB {name} {tool}: {row[f'{name}_{tool}_s']:.2f}s wall "
                          f"{row[f'{name}_{tool}_cpu']:.2f}s CPU {row[f'{name}_{tool}_rss']:.1f} MB", file=sys.stderr)
            rows.append(row)
    cw_rows = []
    if a.cw_bench and a.moto_port:
        cw_rows = cw_bench(Path(a.cw_bench), a.moto_port, [int(x) for x in a.cw_sizes.split(",")])
    report = render(rig, rows, cw_rows, a)
    print(report)
    if a.out:
        # Only the run's section is rewritten: what the page says above "## The run" (the
        # reading of the figures, line-path-bench) is kept as written.
        out = Path(a.out)
        head = "# Log path benchmark\n\n"
        if out.exists() and "\n## The run\n" in out.read_text():
            head = out.read_text().split("\n## The run\n")[0] + "\n"
        out.write_text(head + "## The run\n\n" + report)
    return 0


def render(rig: dict, rows: list[dict], cw_rows: list[dict], a) -> str:
    L = [f"Airflow {rig['airflow_version']} rig (REST /api/{rig['api_version']}), "
         f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; median of {a.runs} call(s), each in a fresh "
         "`dagmedic serve --transport stdio`. wall = the tools/call round trip; CPU = the server process's user+system "
         "time for the whole process (start, config, one call) — dagmedic's own share, which wall time cannot show "
         "because the log streams while Airflow serves it; wall − curl = what the call adds to Airflow serving the "
         "log alone; RSS = the process's peak.", "",
         "| log | Airflow serves it (curl) | tool | baseline wall / CPU / RSS | new wall / CPU / RSS | "
         "baseline wall − curl | new wall − curl |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        for tool in ("task_log", "extract_task_errors"):
            cells, minus = [], []
            for name in ("baseline", "new"):
                w = r[f"{name}_{tool}_s"]
                capped = " (capped)" if r.get(f"{name}_{tool}_capped") else ""
                cells.append(f"{w:.2f} s / {r[f'{name}_{tool}_cpu'] * 1000:.0f} ms / "
                             f"{r[f'{name}_{tool}_rss']:.1f} MB{capped}")
                minus.append(f"{(w - r['curl_s']) * 1000:+.0f} ms")
            L.append(f"| {r['file_bytes'] / 1e6:.0f} MB, {r['lines']} lines | {r['curl_s']:.2f} s "
                     f"({r['served_bytes'] / 1e6:.0f} MB NDJSON) | `{tool}`"
                     + ("" if tool != "task_log" else " tail 200") + " | " + " | ".join(cells + minus) + " |")
    L += ["", "Checks: " + "; ".join(
        f"{r['mb']} MB: tail shows the final error (baseline {r['baseline_tail_ok']}, new {r['new_tail_ok']}), "
        f"tail lines with a level (baseline {r['baseline_levels']}, new {r['new_levels']}), "
        f"extract found (baseline {r['baseline_found']}, new {r['new_found']})" for r in rows)]
    if cw_rows:
        L += ["", "CloudWatch (moto), `cw-tail-bench`: a task try's stream read forward (what task_log did) and from "
              "its end (what it does now), tail 200:", "",
              "| stream | events | forward: pages / s | tail: pages / lines / s |", "|---|---|---|---|"]
        for r in cw_rows:
            L.append(f"| {r['mb']} MB | {r['events']} | {r['pages_forward']} / {r['seconds_forward']:.2f} s | "
                     f"{r['pages_tail']} / {r['lines_tail']} / {r['seconds_tail']:.3f} s |")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
