"""Fixtures for tests/mwaa: an environment of kind mwaa made of
  - the REAL Airflow 3 rig (tests/airflow/conftest.py's `airflow3` fixture, reused as is),
  - a moto server as CloudWatch Logs, holding the rig's REAL task log files: each file under the rig's
    base_log_folder (dag_id=…/run_id=…/task_id=…/attempt=N.log, already MWAA's stream layout) is put into
    the log group with PutLogEvents, one event per line, stream name with ":" → "_" as MWAA writes it
    (the provider's remote-logging path, apache-airflow-providers-amazon pointed at moto, is the next step),
  - mwaa_double.py, the TEST DOUBLE for the MWAA endpoint (SigV4-checked, forwards to the rig).
All processes bind 127.0.0.1 on free ports and are always stopped."""
from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
AIRFLOW_TESTS = ROOT / "tests" / "airflow"
sys.path.insert(0, str(AIRFLOW_TESTS))

# The Airflow rig fixtures, shared with tests/airflow (same module, same teardown hooks).
_spec = importlib.util.spec_from_file_location("dm_airflow_conftest", AIRFLOW_TESTS / "conftest.py")
_afconf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_afconf)
_rig_manager = _afconf._rig_manager
airflow3 = _afconf.airflow3
pytest_collection_modifyitems = _afconf.pytest_collection_modifyitems

REGION = "eu-west-1"
ENV_NAME = "dm-mwaa-it"
LOG_GROUP = f"airflow-{ENV_NAME}-Task"
ACCOUNT = "123456789012"
GOOD = ("AKIAMWAATESTGOOD0001", "good-secret-key-for-the-double")
DENIED = ("AKIAMWAATESTDENIED01", "denied-secret-key-for-the-double")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def moto_logs(airflow3):
    """moto server with the rig's task logs in LOG_GROUP; yields its URL."""
    import boto3

    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="moto-mwaa-", suffix=".log", delete=False)
    exe = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/moto-api/data.json")
        cw = boto3.client("logs", region_name=REGION, endpoint_url=url, aws_access_key_id=GOOD[0],
                          aws_secret_access_key=GOOD[1])
        cw.create_log_group(logGroupName=LOG_GROUP)
        base = Path(airflow3["airflow_home"]) / "logs"
        n = 0
        for f in sorted(base.glob("dag_id=*/run_id=*/task_id=*/**/attempt=*.log")):
            stream = str(f.relative_to(base)).replace(":", "_")
            lines = f.read_text(errors="replace").splitlines() or [""]
            t0 = int(f.stat().st_mtime * 1000) - len(lines)
            cw.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
            for i in range(0, len(lines), 500):
                cw.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                  logEvents=[{"timestamp": t0 + i + k, "message": m or " "}
                                             for k, m in enumerate(lines[i:i + 500])])
            n += 1
        assert n > 0, f"no task log files under {base}"
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def mwaa_double(airflow3, tmp_path_factory):
    """The MWAA test double in front of the rig; yields (url, journal path)."""
    import rig as rigmod

    d = tmp_path_factory.mktemp("mwaa-double")
    port_file, journal = d / "port", d / "journal.ndjson"
    argv = [sys.executable, str(HERE / "mwaa_double.py"), str(port_file), "--name", ENV_NAME,
            "--region", REGION, "--key", ":".join(GOOD), "--key", ":".join(DENIED), "--deny", DENIED[0],
            "--airflow", airflow3["url"], "--username", airflow3["username"],
            "--password", airflow3["password"], "--airflow-bin", str(rigmod.airflow_bin("3")),
            "--env-json", str(Path(airflow3["state_dir"]) / "env.json"),
            "--log-group-arn", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}:*",
            "--journal", str(journal)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert proc.poll() is None, "mwaa double exited"
            assert time.monotonic() < deadline, "mwaa double did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port_file.read_text()}", journal
    finally:
        _stop(proc)


def mwaa_config(path: Path, store: Path, double_url: str, logs_url: str, log_group: str | None = None) -> None:
    lines = [
        "version: 1",
        "defaults:",
        "  environment: mwaa",
        "  lookback_hours: 168",
        "caps: {window_minutes_max: 10080, output_bytes_max: 16384, lookback_hours_max: 168}",
        "environments:",
        "  mwaa:",
        "    kind: mwaa",
        "    tier: dev",
        "    api_version: v2",
        "    timeouts: {connect_seconds: 10, request_seconds: 120}",
        "    mwaa:",
        f"      name: {ENV_NAME}",
        f"      region: {REGION}",
        f"      endpoint: {double_url}",
        f"      logs_endpoint: {logs_url}",
        f"      web_server_url: {double_url}",
        *([f"      log_group: {log_group}"] if log_group else []),
        "store:",
        "  backend: sqlite",
        f"  path: {store}",
    ]
    path.write_text("\n".join(lines) + "\n")


def aws_env(key: tuple[str, str]) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": key[0], "AWS_SECRET_ACCESS_KEY": key[1], "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}
