"""Fixtures for tests/mwaa: an environment of kind mwaa made of
  - a moto server (tests/lib/moto_server.py) as CloudWatch Logs, with the task log group created first,
  - the REAL Airflow 3 rig (tests/airflow/rig.py) started with `--cloudwatch-endpoint`: remote task logging through
    the Amazon provider (apache-airflow-providers-amazon) into that log group, so every zoo try's real log lands in
    moto under the provider's own stream name (dag_id=…/run_id=…/task_id=…/[map_index=…/]attempt=N.log, ":" → "_"),
  - mwaa_double.py, the TEST DOUBLE for the MWAA endpoint (SigV4-checked, forwards to the rig's REST API and CLI).
moto records every request once the rig is up (`moto.requests("GetLogEvents")`): tests see which streams dagmedic
asked for.
All processes bind 127.0.0.1 on free ports and are always stopped (46-mwaa.sh also brings down DM_RIG_ROOT/af*).
  DM_RIG_ROOT=DIR   put the rig's state dir in DIR/af3-cw and leave it for inspection (default: a temp dir)
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
AIRFLOW_TESTS = ROOT / "tests" / "airflow"
sys.path.insert(0, str(AIRFLOW_TESTS))
sys.path.insert(0, str(ROOT / "tests" / "lib"))
from local_server import stop  # noqa: E402  (tests/lib)
from moto_server import moto_server, recorded, start_recording  # noqa: E402  (tests/lib)

REGION = "eu-west-1"
ENV_NAME = "dm-mwaa-it"
LOG_GROUP = f"airflow-{ENV_NAME}-Task"
GOOD = ("AKIAMWAATESTGOOD0001", "good-secret-key-for-the-double")
DENIED = ("AKIAMWAATESTDENIED01", "denied-secret-key-for-the-double")
# Approvers of the guarded trigger (test-only tokens; the config holds their SHA-256).
TOKENS = {"bob": "bob-" + "mwaa-t0k3n-51c2", "operator": "op-" + "mwaa-t0k3n-9e0d"}


class _Moto:
    def __init__(self, url: str, recording: Path):
        self.url, self.recording = url, recording

    def client(self):
        import boto3

        return boto3.client("logs", region_name=REGION, endpoint_url=self.url, aws_access_key_id=GOOD[0],
                            aws_secret_access_key=GOOD[1])

    def streams(self) -> list[str]:
        cw, out, kw = self.client(), [], {}
        while True:
            page = cw.describe_log_streams(logGroupName=LOG_GROUP, **kw)
            out += [s["logStreamName"] for s in page["logStreams"]]
            if not page.get("nextToken"):
                return out
            kw = {"nextToken": page["nextToken"]}

    def written(self, stream: str) -> bool:
        """The stream holds at least one event (rig.py creates the zoo's streams empty before the zoo runs)."""
        try:
            return bool(self.client().get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, limit=1,
                                                     startFromHead=True)["events"])
        except Exception:  # noqa: BLE001 - ResourceNotFoundException: not there at all
            return False

    def requests(self, target: str) -> list[dict]:
        """Recorded CloudWatch Logs requests with this X-Amz-Target suffix (e.g. "GetLogEvents"), bodies parsed."""
        return [json.loads(r["body"] or "{}") for r in recorded(self.recording, target)]


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    """moto (CloudWatch Logs) with LOG_GROUP created; recording starts once the rig is up (see `mwaa_rig`)."""
    rec = tmp_path_factory.mktemp("moto") / "recording.ndjson"
    with moto_server("moto-mwaa-", recording=rec) as url:
        m = _Moto(url, rec)
        m.client().create_log_group(logGroupName=LOG_GROUP)
        yield m


def _rig(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, str(AIRFLOW_TESTS / "rig.py"), *args], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"rig.py {args[0]} failed (rc={r.returncode}):\n{r.stderr[-4000:]}")
    return r


@pytest.fixture(scope="session")
def mwaa_rig(moto):
    """The Airflow 3 rig with the zoo run and remote task logging to moto; yields rig.json (+ "cloudwatch")."""
    root = os.environ.get("DM_RIG_ROOT")
    state = Path(root).resolve() / "af3-cw" if root else Path(tempfile.mkdtemp(prefix="dm-mwaa-rig-"))
    state.mkdir(parents=True, exist_ok=True)
    try:
        _rig("up", "--airflow", "3", "--state-dir", str(state), "--cloudwatch-endpoint", moto.url,
             "--cloudwatch-log-group", LOG_GROUP, "--cloudwatch-region", REGION, check=True)
        info = json.loads((state / "rig.json").read_text())
        start_recording(moto.url)
        yield info
    finally:
        _rig("down", "--state-dir", str(state))
        if not root:
            shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_rig(mwaa_rig):
    """The name tests/airflow's fixtures (test_runbook_e2e's `rest`) look the rig up by."""
    return mwaa_rig


@pytest.fixture(scope="session")
def mwaa_double(mwaa_rig, tmp_path_factory):
    """The MWAA test double in front of the rig; yields (url, journal path)."""
    import rig as rigmod

    d = tmp_path_factory.mktemp("mwaa-double")
    port_file, journal = d / "port", d / "journal.ndjson"
    argv = [sys.executable, str(HERE / "mwaa_double.py"), str(port_file), "--name", ENV_NAME,
            "--region", REGION, "--key", ":".join(GOOD), "--key", ":".join(DENIED), "--deny", DENIED[0],
            "--airflow", mwaa_rig["url"], "--username", mwaa_rig["username"],
            "--password=" + mwaa_rig["password"], "--airflow-bin", str(rigmod.airflow_bin("3")),
            "--env-json", str(Path(mwaa_rig["state_dir"]) / "env.json"),
            "--log-group-arn", mwaa_rig["cloudwatch"]["log_group_arn"] + ":*",
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
        stop(proc)


def mwaa_config(path: Path, store: Path, double_url: str, logs_url: str, log_group: str | None = None,
                env_name: str = "mwaa", extra: dict | None = None) -> None:
    """A dagmedic config with one environment of kind mwaa named `env_name`; `extra` adds top-level sections."""
    mwaa = {"name": ENV_NAME, "region": REGION, "endpoint": double_url, "logs_endpoint": logs_url,
            "web_server_url": double_url, **({"log_group": log_group} if log_group else {})}
    cfg = {
        "version": 1,
        "defaults": {"environment": env_name, "lookback_hours": 168},
        "caps": {"window_minutes_max": 10080, "output_bytes_max": 16384, "lookback_hours_max": 168},
        "environments": {env_name: {"kind": "mwaa", "tier": "dev", "api_version": "v2",
                                    "timeouts": {"connect_seconds": 10, "request_seconds": 120}, "mwaa": mwaa}},
        "store": {"backend": "sqlite", "path": str(store)},
        **(extra or {}),
    }
    # Block YAML whose values are JSON (flow style), so a caller may append more top-level YAML sections.
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in cfg.items()))


def guard_sections(root: Path, env_name: str, principal: str, dags: list[str], conf_schema: dict) -> dict:
    """identity/audit/policy/approvers sections for a guarded trigger (same key file for every principal)."""
    key = root / "audit.key"
    if not key.exists():
        key.write_text("k" * 16 + os.urandom(16).hex() + "\n")
        os.chmod(key, 0o600)
    return {
        "identity": {"principal": principal},
        "audit": {"key_file": str(key), "checkpoint_every": 1},
        "policy": {"approval_ttl_minutes": 60, "allow_dags": {env_name: dags},
                   "dags": [{"dag": d, "conf_schema": conf_schema, "conf_max_bytes": 1024} for d in dags]},
        "approvers": {p: {"token_sha256": hashlib.sha256(t.encode()).hexdigest()} for p, t in TOKENS.items()},
    }


def aws_env(key: tuple[str, str]) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": key[0], "AWS_SECRET_ACCESS_KEY": key[1], "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}
