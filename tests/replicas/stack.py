"""Two `dagmedic serve --transport http` replicas behind HAProxy, on one PostgreSQL store, for tests/replicas.

    stack = Stack(state_dir, rig)      # rig.json of a real Airflow 3 rig
    stack.start()                      # PostgreSQL, configs, replicas r1 and r2, HAProxy; stack.url is HAProxy's /mcp
    stack.cli("approvals", "approve", aid, "--reason", "…", principal="bob")
    stack.kill("r2")                   # SIGKILL one replica
    stack.stop()                       # idempotent; also `rig.py down --state-dir STATE_DIR`

Processes are started with tests/airflow/rig.py's bookkeeping (rig.Proc: own process group, recorded in
STATE_DIR/pids.json, working directory STATE_DIR, DM_RIG_STATE=STATE_DIR in the environment), so `rig.py down` and
`rig.py orphans` find every one of them, also after a crash of the test process (dev/test.d/47-replicas.sh does).
PostgreSQL is rig.py's own throwaway cluster (rig.start_postgres: initdb in a /tmp folder, as user postgres when
root, trust auth on 127.0.0.1, fsync off).

Config: ONE file shared by both replicas (identity.principal `operator`), and one per approver (bob, carol) that
differs only in identity.principal, for `dagmedic approvals approve` run as another person. All of them: the store
on PostgreSQL through store.dsn_env, one audit key file, environments `dev` (tier dev: 1 approver) and `prod`
(tier prod: 2 approvers) both on the rig.

HAProxy: mode http, balance roundrobin, no stickiness (no cookie, no hash, no stick table); every response carries
`X-Dm-Replica: <server name>`; active health checks POST an MCP 2026-07-28 `server/discover` (expect 200); a dead
replica is routed around with `retries` + `option redispatch 1` + `retry-on conn-failure empty-response`. One log
line per request on HAProxy's stdout (STATE_DIR/logs/haproxy.log), parsed by `requests()`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "airflow"))
import rig as rigmod  # noqa: E402

BUILD = Path(os.environ.get("DM_BUILD", ROOT / "build"))
DAGMEDIC = BUILD / "dagmedic"
REPLICAS = ("r1", "r2")
OPERATOR, APPROVERS = "operator", ("bob", "carol")
USER_ENV, PASSWORD_ENV, PG_ENV = "DM_REPLICAS_AIRFLOW_USER", "DM_REPLICAS_AIRFLOW_PASSWORD", "DM_REPLICAS_PG_DSN"
MODERN = "2026-07-28"
DISCOVER = json.dumps({"jsonrpc": "2.0", "id": "haproxy-check", "method": "server/discover",
                       "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                                            "io.modelcontextprotocol/clientCapabilities": {}}}},
                      separators=(",", ":"))
# Health check: an MCP 2026-07-28 request a replica must answer 200 (not audited: no tool, resource or prompt runs).
HEALTH_CHECK = " ".join([
    "http-check send meth POST uri /mcp ver HTTP/1.1 hdr Host 127.0.0.1 hdr Content-Type application/json",
    'hdr Accept "application/json, text/event-stream"', f"hdr MCP-Protocol-Version {MODERN}",
    f"hdr Mcp-Method server/discover body '{DISCOVER}'"])
# One line per request: "dm <server> <status> <retries> <termination state> {<Mcp-Method>|<Mcp-Name>}".
# %rc is prefixed with "+" when the request was redispatched to another server.
LOG_FORMAT = "dm %s %ST %rc %tsc %hr"


def deadline_poll(what: str, fn, timeout: float, interval: float = 0.2):
    """fn() until it returns something truthy; AssertionError naming `what` (and fn's last error) after `timeout`."""
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            r = fn()
            if r:
                return r
        except (OSError, ValueError, KeyError, rigmod.RigError) as e:
            last = e
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f": {last}" if last else ""))
        time.sleep(interval)


@dataclass
class LogLine:
    server: str
    status: int
    retries: int
    redispatched: bool
    termination: str
    method: str
    name: str


class Stack:
    def __init__(self, state: Path, rig: dict, binary: Path = DAGMEDIC):
        self.state, self.rig, self.binary = state, rig, binary
        self.procs: dict[str, rigmod.Proc] = {}
        self.ports: dict[str, int] = {}
        self.killed: set[str] = set()
        self.pg_dsn = ""
        self.url = ""
        self.stats_url = ""
        self.env: dict[str, str] = {}
        self.state_key = True  # the replicas share server.request_state_key_file (2026-07-28 requestState)

    # ---------------------------------------------------------------- start

    def start(self) -> "Stack":
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            raise AssertionError(f"{self.binary} is missing (build first, or set DM_BUILD)")
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.access(haproxy, os.X_OK):
            raise AssertionError("haproxy is not installed (dev/setup.d/10-apt.sh installs it)")
        subprocess.run([sys.executable, str(rigmod.__file__), "down", "--state-dir", str(self.state)],
                       capture_output=True, stdin=subprocess.DEVNULL, check=False)  # leftovers of an earlier run
        if self.state.exists():
            shutil.rmtree(self.state)
        (self.state / "logs").mkdir(parents=True)
        self._start_postgres()
        self._write_configs()
        for name in REPLICAS:
            self._start_replica(name)
        for name in REPLICAS:
            self.ports[name] = deadline_poll(f"replica {name} to listen", lambda n=name: self._bound_port(n), 60)
        self._start_haproxy(haproxy)
        deadline_poll("HAProxy to see both replicas UP", lambda: all(s == "UP" for s in self.health().values())
                      and len(self.health()) == len(REPLICAS), 60)
        return self

    def _start_postgres(self) -> None:
        url, proc = rigmod.start_postgres(self.state)  # postgresql+psycopg2://airflow@127.0.0.1:PORT/airflow
        self.procs["postgres"] = proc
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        subprocess.run([rigmod._pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "dagmedic"],
                       check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
        self.pg_dsn = f"host=127.0.0.1 port={port} dbname=dagmedic user=airflow connect_timeout=10"

    def config_path(self, principal: str) -> Path:
        return self.state / f"config-{principal}.yaml"

    def _config(self, principal: str) -> dict:
        def env(tier: str) -> dict:
            return {"kind": "airflow", "tier": tier, "url": self.rig["url"], "api_version": self.rig["api_version"],
                    "username_env": USER_ENV, "password_env": PASSWORD_ENV,
                    "timeouts": {"connect_seconds": 10, "request_seconds": 120}}

        cfg = {
            "version": 1,
            "defaults": {"environment": "dev", "lookback_hours": 168},
            "caps": {"window_minutes_max": 10080, "lookback_hours_max": 168, "output_bytes_max": 16384},
            "environments": {"dev": env("dev"), "prod": env("prod")},
            "store": {"backend": "postgres", "dsn_env": PG_ENV},
            "identity": {"principal": principal},
            "audit": {"key_file": str(self.state / "audit.key"), "checkpoint_every": 1},
            "policy": {"approval_ttl_minutes": 30, "allow_dags": {"prod": ["zoo_recoverable"]}},
            "recovery": [{"dag": "zoo_recoverable", "quiet_minutes": 0}],
        }
        if self.state_key:  # one replica opens the input_required state another sealed
            cfg["server"] = {"request_state_key_file": str(self.state / "request-state.key")}
        return cfg

    def _write_configs(self) -> None:
        key = self.state / "audit.key"
        key.write_text(secrets.token_hex(32) + "\n")
        os.chmod(key, 0o600)
        if self.state_key:
            (self.state / "request-state.key").write_text(secrets.token_hex(32) + "\n")
            os.chmod(self.state / "request-state.key", 0o600)
        for p in (OPERATOR, *APPROVERS):
            self.config_path(p).write_text(json.dumps(self._config(p), indent=1) + "\n")  # JSON is YAML
        self.env = {USER_ENV: self.rig["username"], PASSWORD_ENV: self.rig["password"], PG_ENV: self.pg_dsn}

    def _base_env(self, home: Path) -> dict[str, str]:
        home.mkdir(parents=True, exist_ok=True)
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
                "DM_RIG_STATE": str(self.state), **self.env}

    def _start_replica(self, name: str) -> None:
        argv = [str(self.binary), "serve", "--transport", "http", "--port", "0",
                "--config", str(self.config_path(OPERATOR))]
        self.procs[name] = rigmod.Proc(self.state, name, argv, self._base_env(self.state / f"home-{name}"))

    def _bound_port(self, name: str) -> int | None:
        self.procs[name].check()
        m = re.search(r"MCP endpoint http://127\.0\.0\.1:(\d+)/mcp", self.log(name))
        return int(m.group(1)) if m else None

    def _haproxy_cfg(self, front: int, stats: int) -> str:
        servers = "\n".join(f"    server {n} 127.0.0.1:{self.ports[n]} check inter 1s fall 2 rise 1"
                            for n in REPLICAS)
        return f"""global
    log stdout format raw local0
    maxconn 256

defaults
    mode http
    log global
    log-format "{LOG_FORMAT}"
    timeout connect 2s
    timeout client 300s
    timeout server 300s
    timeout http-request 30s
    timeout check 2s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend mcp
    bind 127.0.0.1:{front}
    capture request header Mcp-Method len 40
    capture request header Mcp-Name len 120
    default_backend replicas

backend replicas
    balance roundrobin
    http-response set-header X-Dm-Replica %s
    option httpchk
    {HEALTH_CHECK}
    http-check expect status 200
{servers}

listen stats
    bind 127.0.0.1:{stats}
    stats enable
    stats uri /stats
    stats refresh 0
"""

    def _start_haproxy(self, haproxy: str) -> None:
        front, stats = rigmod.free_port(), rigmod.free_port()
        cfg = self.state / "haproxy.cfg"
        cfg.write_text(self._haproxy_cfg(front, stats))
        r = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"haproxy -c refused {cfg}:\n{r.stdout}{r.stderr}"
        self.procs["haproxy"] = rigmod.Proc(self.state, "haproxy", [haproxy, "-db", "-f", str(cfg)],
                                            self._base_env(self.state / "home-haproxy"))
        self.url = f"http://127.0.0.1:{front}/mcp"
        self.stats_url = f"http://127.0.0.1:{stats}/stats;csv"

    # ---------------------------------------------------------------- use

    def log(self, name: str) -> str:
        try:
            return (self.state / "logs" / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def health(self) -> dict[str, str]:
        """{server: status} of the backend's servers from HAProxy's stats page ("UP", "DOWN", "UP 1/2", …)."""
        self.procs["haproxy"].check()
        with urllib.request.urlopen(self.stats_url, timeout=5) as r:
            text = r.read().decode()
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {row["svname"]: row["status"] for row in rows
                if row["pxname"] == "replicas" and row["svname"] in REPLICAS}

    def requests(self) -> list[LogLine]:
        """HAProxy's log lines of client requests (health checks are not logged), oldest first."""
        out = []
        for line in self.log("haproxy").splitlines():
            m = re.match(r"dm (\S+) (-?\d+) (\+?)(\d+) (\S+) \{([^|]*)\|([^}]*)\}", line)
            if m:
                out.append(LogLine(m.group(1), int(m.group(2)), int(m.group(4)), m.group(3) == "+", m.group(5),
                                   m.group(6), m.group(7)))
        return out

    def cli(self, *args: str, principal: str = OPERATOR, timeout: float = 120) -> subprocess.CompletedProcess:
        """`dagmedic ARGS --config config-PRINCIPAL.yaml` (the same store, audit key and environments)."""
        env = self._base_env(self.state / f"home-cli-{principal}")
        return subprocess.run([str(self.binary), *args, "--config", str(self.config_path(principal))], env=env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              cwd=str(self.state))

    def kill(self, name: str) -> None:
        """SIGKILL replica `name` (no shutdown of any kind) and reap it."""
        p = self.procs[name].popen
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
        self.killed.add(name)

    def alive(self, name: str) -> bool:
        return self.procs[name].popen.poll() is None

    # ---------------------------------------------------------------- stop

    def stop(self) -> None:
        """HAProxy, then the replicas (SIGTERM), then everything else of the state dir (rig.kill_all: PostgreSQL and
        any leftover, SIGKILL after a grace period). Idempotent."""
        for name in ("haproxy", *REPLICAS):
            p = self.procs.get(name)
            if p is None or p.popen.poll() is not None:
                continue
            p.popen.terminate()
            try:
                p.popen.wait(15)
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(15)
        rigmod.kill_all(self.state)
