"""Fixtures for the guard suite: ONE real Airflow 3 rig (started with --no-zoo; the tests trigger what they need), a
database on the rig's own PostgreSQL for the replica tests, and dagmedic workspaces (config + store + audit key +
approvers) driven through the official Python MCP client (tests/airflow/mcpsession.py) and the dagmedic CLI.

Environment:
  DM_BUILD        build folder holding `dagmedic` (default: <repo>/build)
  DM_RIG_KEEP=DIR reuse/keep the rig in DIR/af3-guard across runs (stop it with rig.py down --state-dir DIR/af3-guard)
  DM_GUARD_RIG_DIR=DIR  state dir of the rig (default: a temp dir); brought down at the end unless DM_RIG_KEEP
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
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_TESTS = ROOT / "tests" / "airflow"
sys.path.insert(0, str(AIRFLOW_TESTS))
import rig as rigmod  # noqa: E402
from mcpsession import McpSession  # noqa: E402

BUILD = Path(os.environ.get("DM_BUILD", ROOT / "build"))
DAGMEDIC = BUILD / "dagmedic"

# Approver tokens (test-only). The config holds only their SHA-256.
TOKENS = {"bob": "bob-" + "t0k3n-6b1d0e2f9a", "carol": "carol-" + "t0k3n-77aa01c3de", "operator": "op-" + "t0k3n-1",
          "agent:mcp": "agent-" + "t0k3n-99", "agent:cursor": "agent-" + "t0k3n-42"}
USER_ENV, PASSWORD_ENV, PG_ENV = "DM_GUARD_AIRFLOW_USER", "DM_GUARD_AIRFLOW_PASSWORD", "DM_GUARD_PG_DSN"

CONF_SCHEMA = {
    "type": "object",
    "properties": {"note": {"type": "string", "maxLength": 4000}, "sleep": {"type": "integer", "minimum": 0,
                                                                          "maximum": 2},
                   "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}},
    "additionalProperties": False,
}


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/v2/monitor/health", timeout=5) as r:
            return r.status == 200
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="session")
def rig():
    keep = os.environ.get("DM_RIG_KEEP")
    if keep:
        state = Path(keep).resolve() / "af3-guard"
    elif os.environ.get("DM_GUARD_RIG_DIR"):  # set by dev/test.d/60-guard.sh, which also brings it down
        state = Path(os.environ["DM_GUARD_RIG_DIR"]).resolve()
    else:
        state = Path(tempfile.mkdtemp(prefix="dm-guard-rig-"))
    info = None
    if keep:
        try:
            info = json.loads((state / "rig.json").read_text())
            if not _healthy(info["url"]):
                info = None
        except (OSError, ValueError, KeyError):
            info = None
    if info is None:
        subprocess.run([sys.executable, str(AIRFLOW_TESTS / "rig.py"), "down", "--state-dir", str(state)],
                       check=False, stdin=subprocess.DEVNULL, capture_output=True)
        state.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([sys.executable, str(AIRFLOW_TESTS / "rig.py"), "up", "--airflow", "3", "--state-dir",
                            str(state), "--no-zoo"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run([sys.executable, str(AIRFLOW_TESTS / "rig.py"), "down", "--state-dir", str(state)],
                           check=False, stdin=subprocess.DEVNULL, capture_output=True)
            raise RuntimeError("rig up failed:\n" + r.stderr[-3000:])
        info = json.loads((state / "rig.json").read_text())
    info["api"] = rigmod.Api(info["url"], "v2", info["username"], info["password"])
    try:
        yield info
    finally:
        if not keep:
            subprocess.run([sys.executable, str(AIRFLOW_TESTS / "rig.py"), "down", "--state-dir", str(state)],
                           check=False, stdin=subprocess.DEVNULL, capture_output=True)
            shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_dsn(rig):
    """A fresh database on the rig's PostgreSQL (trust auth on 127.0.0.1) for the dagmedic replicas."""
    env = json.loads((Path(rig["state_dir"]) / "env.json").read_text())
    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]  # postgresql+psycopg2://airflow@127.0.0.1:PORT/airflow
    port = url.rsplit(":", 1)[1].split("/")[0]
    name = f"dmguard_{os.getpid()}_{int(time.time())}"
    subprocess.run([rigmod._pg_bin("createdb"), "-h", "127.0.0.1", "-p", port, "-U", "airflow", name], check=True,
                   capture_output=True, stdin=subprocess.DEVNULL)
    return f"host=127.0.0.1 port={port} dbname={name} user=airflow connect_timeout=10"


def _yaml_json(v) -> str:
    return json.dumps(v)  # JSON is YAML


class Workspace:
    """A dagmedic home: config per principal (identity differs, everything else shared), store, audit key."""

    def __init__(self, rig: dict, root: Path, pg_dsn: str | None = None, ttl_minutes: int = 60):
        self.rig, self.root, self.pg_dsn = rig, root, pg_dsn
        root.mkdir(parents=True, exist_ok=True)
        self.db = root / "dagmedic.db"
        (root / "audit.key").write_text("k" * 16 + os.urandom(16).hex() + "\n")
        os.chmod(root / "audit.key", 0o600)
        self.env = {USER_ENV: rig["username"], PASSWORD_ENV: rig["password"]}
        if pg_dsn:
            self.env[PG_ENV] = pg_dsn
        self.ttl_minutes = ttl_minutes
        self.sessions: list[McpSession] = []

    def config(self, principal: str = "operator") -> Path:
        path = self.root / f"config-{principal.replace(':', '_')}.yaml"
        if path.exists():
            return path
        env_block = lambda tier: {"kind": "airflow", "tier": tier, "url": self.rig["url"], "api_version": "v2",  # noqa
                                  "username_env": USER_ENV, "password_env": PASSWORD_ENV,
                                  "timeouts": {"connect_seconds": 10, "request_seconds": 60}}
        cfg = {
            "version": 1,
            "defaults": {"environment": "dev"},
            "environments": {"dev": env_block("dev"), "prod": env_block("prod")},
            "store": ({"backend": "postgres", "dsn_env": PG_ENV} if self.pg_dsn
                      else {"backend": "sqlite", "path": str(self.db)}),
            "identity": {"principal": principal},
            "audit": {"key_file": str(self.root / "audit.key"), "checkpoint_every": 1},
            "policy": {
                "approval_ttl_minutes": self.ttl_minutes,
                "allow_dags": {"dev": ["zoo_ok"], "prod": ["zoo_ok"]},
                "dags": [{"dag": "zoo_ok", "conf_schema": CONF_SCHEMA, "conf_max_bytes": 1024}],
            },
            "approvers": {p: {"token_sha256": hashlib.sha256(t.encode()).hexdigest()} for p, t in TOKENS.items()},
        }
        path.write_text(_yaml_json(cfg) + "\n")
        return path

    def mcp(self, approval_port: bool = False, client: str = "claude") -> McpSession:
        argv = [str(DAGMEDIC), "serve", "--transport", "stdio", "--config", str(self.config())]
        if approval_port:
            argv += ["--approval-port", "0"]
        s = McpSession(None, self.root / f"home-{len(self.sessions)}", env=self.env, argv=argv)
        self.sessions.append(s)
        return s

    def cli(self, *args: str, principal: str = "operator", check: bool = False, timeout: float = 60):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root / "home-cli"), **self.env}
        r = subprocess.run([str(DAGMEDIC), *args, "--config", str(self.config(principal))], env=env,
                           capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check:
            assert r.returncode == 0, f"dagmedic {' '.join(args)} as {principal}: rc={r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def approve(self, approval_id: str, principal: str, reason: str = "checked the parameters"):
        return self.cli("approvals", "approve", approval_id, "--reason", reason, principal=principal)

    def deny(self, approval_id: str, principal: str, reason: str = "not now"):
        return self.cli("approvals", "deny", approval_id, "--reason", reason, principal=principal)

    def verify_audit(self) -> str:
        r = self.cli("audit", "verify")
        assert r.returncode == 0, f"audit verify failed (rc={r.returncode}):\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def close(self) -> None:
        for s in self.sessions:
            try:
                s.close()
            except Exception:  # noqa: BLE001 - close the others
                pass
        self.sessions.clear()


@pytest.fixture
def workspace(rig, tmp_path):
    ws = Workspace(rig, tmp_path / "ws")
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture(scope="module")
def shared_ws(rig, tmp_path_factory):
    """One workspace + one MCP session for the many quick refusals (each test still checks the audit)."""
    ws = Workspace(rig, tmp_path_factory.mktemp("shared") / "ws")
    ws.session = ws.mcp()
    try:
        yield ws
    finally:
        ws.close()


def dag_runs(rig: dict, dag_id: str) -> list[dict]:
    return rig["api"].call("GET", f"/dags/{dag_id}/dagRuns", query={"limit": 100})["dag_runs"]
