"""Runs one op of the C++ Airflow client driver (build/airflow-probe, tests/airflow/probe_main.cpp) against a rig.

`probe_ok(rig, op, args)` returns the op's result and fails the calling test unless the op succeeded; `env_of(rig)` is
the environment entry the driver takes for a rig.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(os.environ.get("DM_BUILD", ROOT / "build")) / "airflow-probe"


def env_of(rig: dict, **over) -> dict:
    env = {"name": f"rig{rig['api_version']}", "url": rig["url"], "username": rig["username"],
           "password": rig["password"], "timeout_seconds": 120}
    env.update(over)
    return env


def run_probe(env: dict, op: str, args: dict | None = None) -> tuple[int, dict, str]:
    """(exit code, the driver's last JSON line, stderr)."""
    assert PROBE.exists(), f"{PROBE} is not built (cmake --build … --target airflow-probe)"
    p = subprocess.run([str(PROBE), json.dumps({"env": env, "op": op, "args": args or {}})], capture_output=True,
                       text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.stdout.strip(), f"probe printed nothing (rc {p.returncode}): {p.stderr}"
    return p.returncode, json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


def probe_ok(rig: dict, op: str, args: dict) -> dict:
    rc, out, _ = run_probe(env_of(rig), op, args)
    assert rc == 0 and out["ok"], f"{op} {args}: {out}"
    return out["result"]
