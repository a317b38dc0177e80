#!/usr/bin/env python3
"""Watch mode on a real Airflow rig: detection latency and the watcher's memory (issue 15's benchmark).

    bench/watch/latency.sh [--airflow 3|2] [--runs N] [--interval S] [--soak SECONDS] [--rig-json PATH]

Starts a rig (tests/airflow/rig.py up --no-zoo: a real Airflow, nothing triggered), a local JSON webhook receiver
(tests/lib/webhook_receiver.py) and `dagmedic watch` (the long-running loop, watch.interval_seconds = S), then
triggers N runs of zoo_permission_denied (it fails on its first try, quickly), a few seconds apart.

- Latency, per run: the receiver's clock when the incident's message arrived, minus the run's end_date as Airflow
  recorded it (same machine, same clock). It is the sum of: the wait for the next cycle (up to S), the cycle's reads,
  the handling (task instances, DAG, log, diagnosis, store), and the outbox's delivery after the cycle. p50, p90, p99,
  max over the N runs.
- Memory: the watcher's VmRSS every second; first (after its first cycle), max and last. With --soak SECONDS the
  watcher keeps running that long after the N runs while one more failure is triggered every 30 s, and the RSS
  series shows whether memory grows with cycles.

Prints one JSON document; the figures go in docs/benchmarks.md. Never run by tests (it takes minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
sys.path.insert(0, str(ROOT / "tests" / "airflow"))
from webhook_receiver import Receiver  # noqa: E402

DAG = "zoo_permission_denied"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))  # nearest rank
    return s[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--airflow", choices=["3", "2"], default="3")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--interval", type=int, default=5, help="watch.interval_seconds")
    ap.add_argument("--spacing", type=float, default=3.0, help="seconds between two triggers")
    ap.add_argument("--soak", type=int, default=0, help="keep watching this many seconds more (RSS)")
    ap.add_argument("--build", default=os.environ.get("DM_BUILD", str(ROOT / "build")))
    ap.add_argument("--rig-json", help="use this running rig (its rig.json) instead of starting one")
    a = ap.parse_args()
    binary = Path(a.build) / "dagmedic"
    if not binary.exists():
        sys.exit(f"{binary} missing: build first")
    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="dm-watch-latency-"))
    state = work / "rig"
    if a.rig_json:
        rig = json.loads(Path(a.rig_json).read_text())
    else:
        up = subprocess.run([py, str(ROOT / "tests/airflow/rig.py"), "up", "--airflow", a.airflow,
                             "--state-dir", str(state), "--no-zoo"], stdin=subprocess.DEVNULL)
        if up.returncode != 0:
            sys.exit("rig up failed")
        rig = json.loads((state / "rig.json").read_text())
    from rigrest import RigRest  # noqa: E402  (needs httpx: run with the tools venv)

    rest = RigRest(rig)
    rx = Receiver()
    arrived: dict[str, float] = {}
    seen = 0
    stop = threading.Event()
    samples: list[tuple[float, int]] = []
    watcher = None
    try:
        cfg = work / "config.yaml"
        cfg.write_text("\n".join([
            "version: 1",
            "environments:",
            "  rig:",
            "    kind: airflow",
            f"    url: {rig['url']}",
            f"    api_version: {rig['api_version']}",
            "    username_env: DM_BENCH_AF_USER",
            "    password_env: DM_BENCH_AF_PASSWORD",
            "store:",
            "  backend: sqlite",
            f"  path: {work / 'store.db'}",
            "watch:",
            f"  interval_seconds: {a.interval}",
            "  initial_lookback_minutes: 5",
            "notify:",
            "  targets:",
            f"    hook: {{kind: json, url: '{rx.url}/json', secret_env: DM_BENCH_HOOK_KEY}}",
            ""]))
        env = {"HOME": str(work / "home"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "DM_BENCH_AF_USER": rig["username"], "DM_BENCH_AF_PASSWORD": rig["password"],
               "DM_BENCH_HOOK_KEY": "bench"}
        watcher = subprocess.Popen([str(binary), "watch", "--config", str(cfg)], env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=open(work / "watch.log", "wb"))

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.is_set() and watcher.poll() is None:
                samples.append((round(time.monotonic() - t0, 1), rss_kib(watcher.pid)))
                stop.wait(1.0)

        threading.Thread(target=sample, daemon=True).start()

        def collect() -> None:
            nonlocal seen
            with rx.lock:
                new = rx.requests[seen:]
                seen = len(rx.requests)
            for r in new:
                b = json.loads(r["body"])
                if b.get("event") == "incident.failure" and b.get("dag_id") == DAG:
                    arrived.setdefault(b["run_id"], r["at"])

        time.sleep(a.interval + 2)  # the first cycle (nothing to find) is done
        runs = []
        for i in range(a.runs):
            run_id = f"bench_{uuid.uuid4().hex[:8]}"
            rest.trigger(DAG, run_id, dt.datetime.now(dt.timezone.utc).isoformat())
            runs.append(run_id)
            time.sleep(a.spacing)
        deadline = time.monotonic() + 300 + a.runs * 10
        while time.monotonic() < deadline and not all(r in arrived for r in runs):
            collect()
            time.sleep(0.5)
        collect()
        lat = []
        for r in runs:
            run = rest.dag_run(DAG, r)
            end = dt.datetime.fromisoformat(run["end_date"].replace("Z", "+00:00")).timestamp()
            if r in arrived:
                lat.append(arrived[r] - end)
        soak_runs = 0
        if a.soak > 0:
            t_end = time.monotonic() + a.soak
            while time.monotonic() < t_end:
                rest.trigger(DAG, f"soak_{uuid.uuid4().hex[:8]}", dt.datetime.now(dt.timezone.utc).isoformat())
                soak_runs += 1
                time.sleep(30)
        stop.set()
        rss = [kib for _, kib in samples if kib > 0]
        out = {
            "airflow": rig["airflow_version"], "interval_seconds": a.interval, "runs": a.runs,
            "notified": len(lat),
            "latency_s": {"p50": round(percentile(lat, 50), 2), "p90": round(percentile(lat, 90), 2),
                          "p99": round(percentile(lat, 99), 2), "max": round(max(lat), 2),
                          "mean": round(statistics.mean(lat), 2)} if lat else None,
            "rss_kib": {"first": rss[0], "max": max(rss), "last": rss[-1], "samples": len(rss)} if rss else None,
            "soak_seconds": a.soak, "soak_runs": soak_runs,
            "rss_series_every_60s": [kib for t, kib in samples if int(t) % 60 == 0][:120],
        }
        print(json.dumps(out, indent=2))
        return 0 if len(lat) == a.runs else 1
    finally:
        stop.set()
        if watcher and watcher.poll() is None:
            watcher.terminate()
            try:
                watcher.wait(30)
            except subprocess.TimeoutExpired:
                watcher.kill()
        rest.close()
        rx.stop()
        if not a.rig_json:
            subprocess.run([py, str(ROOT / "tests/airflow/rig.py"), "down", "--state-dir", str(state)])


if __name__ == "__main__":
    sys.exit(main())
