#!/usr/bin/env python3
"""Real Apache Airflow test rig: starts Airflow 3 (REST /api/v2) or Airflow 2.10 (/api/v1) on free loopback ports,
runs the zoo of failing DAGs (tests/airflow/dags) and records what happened in STATE_DIR/rig.json.

  python tests/airflow/rig.py up   --airflow 3|2 --state-dir DIR [--no-zoo] [--corpus] [--timeout SECONDS]
                                   [--cloudwatch-endpoint URL [--cloudwatch-log-group NAME] [--cloudwatch-region R]]
  python tests/airflow/rig.py down --state-dir DIR
  python tests/airflow/rig.py orphans --state-dir DIR    # exit 1 (and list them) if any rig process is alive

Airflow comes from the venvs that dev/setup.d/40-airflow.sh installs ($DM_CACHE/airflow3, $DM_CACHE/airflow2).
Choices:
  * LocalExecutor on a private PostgreSQL that the rig starts itself (Debian's, fsync off, in a /tmp folder, as
    user postgres when root). SQLite got in the way: Airflow 2.10 refuses LocalExecutor on SQLite (its
    SequentialExecutor starts a fresh interpreter per task, one at a time: ~5 min for the zoo on 2 busy cores), and
    Airflow 3 on SQLite answered a trigger with HTTP 500 "database is locked" under load (4 parallel tasks + API).
    `--db sqlite` still exists for Airflow 3.
  * Every server runs in its own process group (start_new_session), started with the state dir as working
    directory. Task processes put themselves in new process groups (Airflow's supervisor / task runner call
    setpgid), so `down` kills the recorded groups AND every process whose working directory is in the state dir or
    whose environment carries DM_RIG_STATE=<state dir> (setproctitle clobbers the environ of Airflow's servers), with
    all their descendants: no orphans even when a task was running. Recorded groups are checked against the leader's
    start time, so a stale pids.json never makes `down` kill an unrelated process that reused a pid.
  * Ports: api/webserver, worker log server and PostgreSQL on free 127.0.0.1 ports chosen at start.
  * `up` kills everything it started if it fails midway.
  * --cloudwatch-endpoint (Airflow 3 only): remote task logging to CloudWatch Logs through the Amazon provider
    (apache-airflow-providers-amazon), pointed at a local endpoint (moto). The task supervisor streams every event
    of a try to the log group, stream `dag_id=…/run_id=…/task_id=…/[map_index=…/]attempt=N.log` with ":" → "_" (the
    local file's path relative to base_log_folder); the local file stays (delete_local_logs is False). The log group
    must exist first (the caller creates it). Dummy AWS credentials only: the endpoint must be a local test double.
  * --corpus: also the real-world corpus (corpus.py, dags/corpus_*.py) on its three dates: a `warehouse` database on
    the rig's PostgreSQL (seeded from corpus.WAREHOUSE_SQL, connection `corpus_warehouse`), a vendor file server
    (python -m http.server on an empty folder) and the dbt/Spark venvs of dev/setup.d/45-corpus-tools.sh. Its runs go
    to rig.json["corpus_runs"], apart from the zoo's "runs". The corpus DAG files parse on every rig either way.
Only the standard library is used, so any Python 3.9+ can drive it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402
import zoo  # noqa: E402

DAGS_DIR = HERE / "dags"
CORPUS_DIRS = [DAGS_DIR / "corpus_data", HERE / "corpus_dbt", HERE / "corpus_jobs"]  # what corpus tasks read
USERNAME = "admin"
TERMINAL = {"success", "failed"}


class RigError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"[rig] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def zoo_fingerprint() -> str:
    """Hash of the DAG files, the expectations and this script: a kept rig (DM_RIG_KEEP) is reused only if equal."""
    import hashlib

    h = hashlib.sha256()
    corpus_files = [f for d in CORPUS_DIRS for f in sorted(d.rglob("*")) if f.is_file() and "__pycache__" not in f.parts]
    for f in (sorted(DAGS_DIR.glob("*.py")) + [HERE / "zoo.py", HERE / "corpus.py", Path(__file__).resolve()]
              + corpus_files):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    if os.environ.get("DM_CACHE"):
        return Path(os.environ["DM_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dagmedic"


def airflow_bin(version: str) -> Path:
    b = cache_dir() / f"airflow{version}" / "bin" / "airflow"
    if not b.exists():
        raise RigError(f"{b} not found: install Airflow {version} with `bash dev/setup.d/40-airflow.sh`")
    return b


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- processes


def _pids_file(state: Path) -> Path:
    return state / "pids.json"


def _load_pids(state: Path) -> dict:
    try:
        return json.loads(_pids_file(state).read_text())
    except (OSError, ValueError):
        return {}


def _starttime(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _groups(state: Path) -> set[int]:
    """Process groups recorded in pids.json that still belong to this rig. A group id cannot be reused as a pid while
    any member lives, so a group is trusted when its leader is the process we started (same start time) or the
    leader is gone; a live leader with another start time is an unrelated process that reused the pid."""
    out = set()
    starts = _load_pids(state).get("_starttimes", {})
    for name, pid in _load_pids(state).items():
        if name.startswith("_"):
            continue
        st = _starttime(int(pid))
        if st is None or str(st) == str(starts.get(name)):
            out.add(int(pid))
    return out


def _save_pids(state: Path, pids: dict) -> None:
    tmp = _pids_file(state).with_suffix(".tmp")
    tmp.write_text(json.dumps(pids, indent=1))
    tmp.replace(_pids_file(state))


def _record(state: Path, name: str, pid: int) -> None:
    pids = _load_pids(state)
    pids[name] = pid
    pids.setdefault("_starttimes", {})[name] = _starttime(pid)
    _save_pids(state, pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def rig_processes(state: Path) -> list[int]:
    """Pids of live processes of this rig: the working directory is inside the state dir (every process is started
    there), or the environment carries DM_RIG_STATE=<state> (setproctitle clobbers /proc/PID/environ of Airflow's
    servers, hence both), plus all their descendants (task processes sit in process groups of their own)."""
    marker = f"DM_RIG_STATE={state}".encode()
    prefixes = [str(state)] + ([_pg_info(state)["datadir"]] if _pg_info(state) else [])
    groups = _groups(state)
    me = os.getpid()
    tagged, parent = set(), {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] == "Z":
            continue
        parent[pid] = int(fields[1])
        if int(fields[2]) in groups:
            tagged.add(pid)
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        if any(cwd == p or cwd.startswith(p + "/") for p in prefixes):
            tagged.add(pid)
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    tagged.add(pid)
        except OSError:
            continue
    mine = {me}  # never our own ancestors (a shell whose cwd is the state dir)
    p = parent.get(me) or _ppid(me)
    while p and p not in mine:
        mine.add(p)
        p = parent.get(p) or _ppid(p)
    tagged -= mine
    changed = True
    while changed:  # add descendants
        changed = False
        for pid, ppid in parent.items():
            if ppid in tagged and pid not in tagged:
                tagged.add(pid)
                changed = True
    return sorted(tagged - mine)


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _pg_info(state: Path) -> dict | None:
    try:
        return json.loads((state / "pg.json").read_text())
    except (OSError, ValueError):
        return None


def _pg_bin(name: str) -> str:
    """Debian's versioned server programs first (initdb/postgres are not on PATH there), then PATH."""
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda d: int(d.parent.name)
                    if d.parent.name.isdigit() else 0, reverse=True):
        if (d / name).exists():
            return str(d / name)
    found = shutil.which(name)
    if found:
        return found
    raise RigError(f"PostgreSQL program {name} not found (Debian package postgresql)")


def start_postgres(state: Path) -> tuple[str, "Proc"]:
    """A private PostgreSQL for Airflow 2 (LocalExecutor needs a real database), in a /tmp folder the postgres user
    can reach (PostgreSQL refuses to run as root). Durability is off: it is a throwaway test database."""
    datadir = Path(tempfile.mkdtemp(prefix="dm-rig-pg-"))
    (state / "pg.json").write_text(json.dumps({"datadir": str(datadir)}))
    user = None
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(datadir, pw.pw_uid, pw.pw_gid)
        user = "postgres"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "DM_RIG_STATE": str(state)}
    run_cli(state, "pg-initdb", [_pg_bin("initdb"), "-D", f"{datadir}/data", "-U", "airflow", "--auth=trust",
                                 "-E", "UTF8", "--no-sync"], env, timeout=120, user=user, cwd=datadir)
    port = free_port()
    proc = Proc(state, "postgres", [_pg_bin("postgres"), "-D", f"{datadir}/data", "-h", "127.0.0.1", "-p", str(port),
                                    "-k", str(datadir), "-c", "fsync=off", "-c", "synchronous_commit=off",
                                    "-c", "full_page_writes=off", "-c", "max_connections=200"],
                env, user=user, cwd=datadir)

    def created() -> bool:
        r = subprocess.run([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "airflow"],
                           capture_output=True, text=True, env=env, timeout=30)
        if r.returncode != 0 and "already exists" not in r.stderr:
            raise RigError(r.stderr.strip())
        return True

    wait_until("PostgreSQL to accept connections", created, 60, [proc], interval=0.5)
    return f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow", proc


def _remove_pg(state: Path) -> None:
    info = _pg_info(state)
    if info and info.get("datadir", "").startswith(tempfile.gettempdir()):
        shutil.rmtree(info["datadir"], ignore_errors=True)
    (state / "pg.json").unlink(missing_ok=True)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(_alive(p) for p in _group_members(pgid))


def _group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                out.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return out


def kill_all(state: Path, grace: float = 10.0) -> list[str]:
    """SIGTERM every process group we started and every process tagged with this rig, then SIGKILL leftovers."""
    groups = sorted(_groups(state))
    tagged = rig_processes(state)
    for g in groups:
        _signal_group(g, signal.SIGTERM)
    for p in tagged:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(_group_alive(g) for g in groups) and not rig_processes(state):
            break
        time.sleep(0.2)
    killed = []
    for g in groups:
        if _group_alive(g):
            killed.append(f"group {g}")
            _signal_group(g, signal.SIGKILL)
    for p in rig_processes(state):
        killed.append(f"pid {p}")
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (rig_processes(state) or any(_group_alive(g) for g in groups)):
        time.sleep(0.1)
    left = rig_processes(state)
    if left:
        raise RigError(f"processes of rig {state} survived SIGKILL: {left}")
    try:
        _pids_file(state).unlink()
    except FileNotFoundError:
        pass
    _remove_pg(state)
    return killed


class Proc:
    def __init__(self, state: Path, name: str, argv: list[str], env: dict, user=None, cwd=None):
        self.name = name
        self.logfile = state / "logs" / f"{name}.log"
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(self.logfile, "ab") as out:
            self.popen = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=str(cwd or state), user=user
            )
        _record(state, name, self.popen.pid)

    def check(self) -> None:
        rc = self.popen.poll()
        if rc is not None:
            raise RigError(f"{self.name} exited with code {rc}; last lines of {self.logfile}:\n{tail(self.logfile)}")


def tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def run_cli(state: Path, name: str, argv: list[str], env: dict, timeout: float, user=None, cwd=None) -> None:
    logfile = state / "logs" / f"{name}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "ab") as out:
        try:
            p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, cwd=str(cwd or state), user=user)
        except OSError as e:
            raise RigError(f"{name}: cannot start {argv[0]}: {e}") from e
        _record(state, name, p.pid)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(p.pid, signal.SIGKILL)
            raise RigError(f"{name} did not finish within {timeout:.0f}s; see {logfile}") from None
        finally:
            pids = _load_pids(state)
            pids.pop(name, None)
            pids.get("_starttimes", {}).pop(name, None)
            _save_pids(state, pids)
    if rc != 0:
        raise RigError(f"{name} failed with code {rc}; last lines of {logfile}:\n{tail(logfile)}")


# ---------------------------------------------------------------- REST


class Api:
    """Minimal REST client: JWT from /auth/token for v2 (Airflow 3), basic auth for v1 (Airflow 2)."""

    def __init__(self, url: str, api_version: str, username: str, password: str):
        self.url, self.api_version, self.username, self.password = url.rstrip("/"), api_version, username, password
        self.base = f"{self.url}/api/{api_version}"
        self._token = None

    def _auth_header(self) -> str:
        if self.api_version == "v1":
            return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if self._token is None:
            status, body = http("POST", f"{self.url}/auth/token",
                                {"username": self.username, "password": self.password})
            if status not in (200, 201):
                raise RigError(f"POST /auth/token -> {status}: {body[:300]!r}")
            self._token = json.loads(body)["access_token"]
        return "Bearer " + self._token

    def call(self, method: str, path: str, body=None, ok=(200,), query=None):
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        for attempt in range(3):  # a loaded webserver may drop a connection; only reads are retried
            try:
                status, data = http(method, url, body, {"Authorization": self._auth_header()})
                break
            except OSError:
                if method != "GET" or attempt == 2:
                    raise
                time.sleep(2)
        if status == 401 and self.api_version == "v2":
            self._token = None
            status, data = http(method, url, body, {"Authorization": self._auth_header()})
        if status not in ok:
            raise RigError(f"{method} {path} -> HTTP {status}: {data[:500]!r}")
        return json.loads(data) if data else None


def http(method: str, url: str, body=None, headers=None, timeout: float = 30.0):
    data = None
    hdrs = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ---------------------------------------------------------------- up


CLOUDWATCH_CONN_ID = "dm_rig_cloudwatch"
CLOUDWATCH_ACCOUNT = "123456789012"


def cloudwatch_env(cw: dict) -> dict:
    """Airflow settings for remote task logging to CloudWatch at cw["endpoint"] (see the module doc)."""
    arn = f"arn:aws:logs:{cw['region']}:{CLOUDWATCH_ACCOUNT}:log-group:{cw['log_group']}"
    conn = {"conn_type": "aws", "extra": {"endpoint_url": cw["endpoint"], "region_name": cw["region"]}}
    return {
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": f"cloudwatch://{arn}",
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": CLOUDWATCH_CONN_ID,
        "AIRFLOW__LOGGING__DELETE_LOCAL_LOGS": "False",
        f"AIRFLOW_CONN_{CLOUDWATCH_CONN_ID.upper()}": json.dumps(conn),
        # Dummy credentials for the local endpoint; never real ones (make_env drops the inherited AWS_*).
        "AWS_ACCESS_KEY_ID": "AKIARIGCLOUDWATCH001",
        "AWS_SECRET_ACCESS_KEY": "rig-cloudwatch-dummy-secret",
        "AWS_DEFAULT_REGION": cw["region"],
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_CONFIG_FILE": "/nonexistent",
    }


def zoo_log_streams() -> list[str]:
    """CloudWatch stream names of the zoo tries the expectations name (every try of each task in `tries`, each map
    index of mapped ones), as the provider names them."""
    out = []
    for dag_id, exp in zoo.EXPECTATIONS.items():
        for date in zoo.RUN_DATES:
            run_id = zoo.run_id_for(dag_id, date)
            for task_id, tries in exp["tries"].items():
                for mi in exp.get("map_indexes", {}).get(task_id, [-1]):
                    for n in range(1, tries + 1):
                        m = f"map_index={mi}/" if mi >= 0 else ""
                        out.append(f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/{m}attempt={n}.log"
                                   .replace(":", "_"))
    return out


def on_zoo_streams(version: str, env: dict, cw: dict, body: str, doing: str, timeout: float) -> str:
    """Runs `body` in the Airflow venv (it has boto3) with `c` a CloudWatch Logs client for cw and `names` the zoo's
    stream names (zoo_log_streams); returns its stdout. RigError naming `doing` if it fails."""
    script = ("import json, sys, time, boto3\n"
              "cw, names = json.loads(sys.argv[1]), json.loads(sys.stdin.read())\n"
              "c = boto3.client('logs', region_name=cw['region'], endpoint_url=cw['endpoint'])\n" + body)
    py = str(airflow_bin(version).parent / "python")
    r = subprocess.run([py, "-c", script, json.dumps(cw)], input=json.dumps(zoo_log_streams()), env=env,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RigError(f"{doing} the zoo's CloudWatch log streams failed: {r.stderr[-1500:]}")
    return r.stdout


def create_zoo_streams(version: str, env: dict, cw: dict) -> None:
    """Creates the zoo's log streams before the zoo runs. watchtower (the provider's CloudWatch handler) creates a
    missing stream when its first PutLogEvents fails, and silently drops every event other threads emit meanwhile:
    a log over 1 MB (its first batch goes out mid-task) lost ~100 lines in the middle."""
    on_zoo_streams(version, env, cw,
                   "for n in names:\n"
                   "    try:\n"
                   "        c.create_log_stream(logGroupName=cw['log_group'], logStreamName=n)\n"
                   "    except c.exceptions.ResourceAlreadyExistsException:\n"
                   "        pass\n", "creating", timeout=120)


def wait_zoo_streams_written(version: str, env: dict, cw: dict, timeout: float) -> float:
    """Waits until every zoo try's stream holds an event; returns the seconds waited. A try's state is final before
    its log is: the supervisor reports the state, then flushes watchtower's queue (sent every 60 s otherwise), so
    right after the last run ends the last tries' streams may still be empty. Raises RigError naming the streams
    still empty at the deadline (a provider that lost a log)."""
    stdout = on_zoo_streams(
        version, env, cw,
        f"t0 = time.monotonic()\n"
        f"while True:\n"
        f"    names = [n for n in names if not c.get_log_events(logGroupName=cw['log_group'], logStreamName=n,\n"
        f"                                                      limit=1, startFromHead=True)['events']]\n"
        f"    if not names or time.monotonic() - t0 > {float(timeout)!r}:\n"
        f"        print(json.dumps({{'empty': names, 'waited': time.monotonic() - t0}}))\n"
        f"        break\n"
        f"    time.sleep(1)\n", "reading", timeout=timeout + 120)
    out = json.loads(stdout.strip().splitlines()[-1])
    if out["empty"]:
        raise RigError(f"{len(out['empty'])} zoo log streams still empty {out['waited']:.0f}s after the zoo ended "
                       f"(the provider lost these logs): {out['empty'][:5]}")
    return out["waited"]


def make_env(version: str, state: Path, home: Path, ports: dict, db_url: str, cloudwatch: dict | None = None) -> dict:
    drop = ("AIRFLOW", "AWS_") if cloudwatch else ("AIRFLOW",)  # a CloudWatch rig must not see real AWS settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    venv_bin = str(airflow_bin(version).parent)
    env.update({
        "PATH": venv_bin + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
        "VIRTUAL_ENV": str(Path(venv_bin).parent),
        "PYTHONUNBUFFERED": "1",
        "DM_RIG_STATE": str(state),
        "DM_ZOO_DATA": str(state / "zoo-data"),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "0",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker_log"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_log"]),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "100",
        "DM_CORPUS_TOOLS": str(cache_dir()),
    })
    env.update(corpus_env(db_url, ports))
    url = f"http://127.0.0.1:{ports['api']}"
    if version == "3":
        env.update({
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(state / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(ports["api"]),
            "AIRFLOW__API__BASE_URL": url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        })
        if cloudwatch:
            env.update(cloudwatch_env(cloudwatch))
    else:
        env.update({
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__API__AUTH_BACKENDS":
                "airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session",
            "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(ports["api"]),
            "AIRFLOW__WEBSERVER__BASE_URL": url,
            "AIRFLOW__WEBSERVER__WORKERS": "1",
            "AIRFLOW__WEBSERVER__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__WEBSERVER__WARN_DEPLOYMENT_EXPOSURE": "False",
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "False",
        })
    return env


def corpus_env(db_url: str, ports: dict) -> dict:
    """What the corpus's tasks read (dags/corpus_lib.py): the vendor file server, and the warehouse database on the
    rig's PostgreSQL as an Airflow connection and as DM_CORPUS_PG_* (dbt). Empty on SQLite (no corpus there)."""
    if not db_url.startswith("postgresql"):
        return {}
    u = urllib.parse.urlsplit(db_url)
    return {
        "DM_CORPUS_HTTP": f"http://127.0.0.1:{ports['vendor_http']}",
        f"AIRFLOW_CONN_{corpus.WAREHOUSE_CONN_ID.upper()}":
            f"postgres://{u.username}@{u.hostname}:{u.port}/{corpus.WAREHOUSE_DB}",
        "DM_CORPUS_PG_HOST": u.hostname, "DM_CORPUS_PG_PORT": str(u.port), "DM_CORPUS_PG_USER": u.username,
        "DM_CORPUS_PG_DB": corpus.WAREHOUSE_DB,
    }


def seed_warehouse(state: Path, db_url: str, env: dict) -> None:
    """Creates and fills the corpus's warehouse database (corpus.WAREHOUSE_SQL) on the rig's PostgreSQL."""
    u = urllib.parse.urlsplit(db_url)
    conn = ["-h", u.hostname, "-p", str(u.port), "-U", u.username]
    pg_env = {"PATH": env["PATH"], "LANG": "C.UTF-8", "DM_RIG_STATE": str(state)}
    run_cli(state, "corpus-createdb", [_pg_bin("createdb"), *conn, corpus.WAREHOUSE_DB], pg_env, timeout=60)
    run_cli(state, "corpus-seed", [_pg_bin("psql"), *conn, "-d", corpus.WAREHOUSE_DB, "-v", "ON_ERROR_STOP=1", "-q",
                                   "-c", corpus.WAREHOUSE_SQL], pg_env, timeout=60)


def wait_until(what: str, fn, timeout: float, procs: list[Proc], interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        for p in procs:
            p.check()
        try:
            r = fn()
            if r:
                return r
        except (OSError, RigError, ValueError, KeyError) as e:
            last = e
        if time.monotonic() > deadline:
            raise RigError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


def healthy(version: str, url: str) -> bool:
    path = "/api/v2/monitor/health" if version == "3" else "/health"
    status, body = http("GET", url + path, timeout=5)
    if status != 200:
        return False
    h = json.loads(body)
    comps = ["metadatabase", "scheduler"] + (["dag_processor"] if version == "3" else [])
    return all((h.get(c) or {}).get("status") == "healthy" for c in comps)


def dags_parsed(api: Api) -> bool:
    have = set()
    for family in ("zoo_", "corpus_"):  # the corpus's files are in the same folder: they must parse on every rig
        have |= {d["dag_id"] for d in api.call("GET", "/dags", query={"limit": 100, "dag_id_pattern": family})["dags"]}
    errs = api.call("GET", "/importErrors", query={"limit": 100})["import_errors"]
    has_err = any(zoo.IMPORT_ERROR["filename"] in (e.get("filename") or "") for e in errs)
    missing = (set(zoo.DAG_IDS) | set(corpus.DAG_IDS)) - have
    if missing or not has_err:
        raise RigError(f"not parsed yet: {sorted(missing)}" + ("" if has_err else " + import error"))
    return True


def run_zoo(api: Api, procs: list[Proc], timeout: float, plan: dict[str, list[str]]) -> dict:
    """Triggers every DAG of `plan` ({dag_id: [logical dates]}) and waits until all those runs are terminal."""
    runs: dict[str, list[dict]] = {}
    for logical_date in sorted({d for dates in plan.values() for d in dates}):
        for dag_id in sorted(d for d, dates in plan.items() if logical_date in dates):
            run_id = zoo.run_id_for(dag_id, logical_date)
            body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": {}}
            api.call("POST", f"/dags/{dag_id}/dagRuns", body, ok=(200, 201))
            runs.setdefault(dag_id, []).append({"run_id": run_id, "logical_date": logical_date, "state": "queued"})
    log(f"triggered {sum(len(v) for v in runs.values())} runs; waiting for terminal states (timeout {timeout:.0f}s)")
    deadline = time.monotonic() + timeout
    while True:
        for p in procs:
            p.check()
        states = {}
        offset = 0
        while True:  # one paged listing per poll: Airflow 2 checks the password hash on every request
            page = api.call("GET", "/dags/~/dagRuns", query={"limit": 100, "offset": offset})
            for d in page["dag_runs"]:
                states[(d["dag_id"], d["dag_run_id"])] = d["state"]
            offset += len(page["dag_runs"])
            if not page["dag_runs"] or offset >= page["total_entries"]:
                break
        pending = []
        for dag_id, rs in runs.items():
            for r in rs:
                r["state"] = states.get((dag_id, r["run_id"]), r["state"])
                if r["state"] not in TERMINAL:
                    pending.append(f"{dag_id}/{r['run_id']} ({r['state']})")
        if not pending:
            return runs
        if time.monotonic() > deadline:
            raise RigError(f"zoo runs not finished after {timeout:.0f}s: {', '.join(pending)}")
        time.sleep(3)


def up(version: str, state: Path, zoo_runs: bool, timeout: float, db: str = "postgres",
       cloudwatch: dict | None = None, with_corpus: bool = False) -> dict:
    if version == "2" and db == "sqlite":
        raise RigError("Airflow 2.10 cannot run LocalExecutor on SQLite: use --db postgres")
    if cloudwatch and version != "3":
        raise RigError("--cloudwatch-endpoint needs --airflow 3 (the provider is installed in the Airflow 3 venv only)")
    if with_corpus and (db != "postgres" or cloudwatch or not zoo_runs):
        raise RigError("--corpus needs --db postgres, the zoo runs and no --cloudwatch-endpoint")
    state.mkdir(parents=True, exist_ok=True)
    if rig_processes(state):
        raise RigError(f"a rig is already running in {state}: run `rig.py down --state-dir {state}` first")
    kill_all(state, grace=0)  # leftovers of a rig that died without `down`: stale pids.json, PostgreSQL folder
    for stale in ("rig.json", "passwords.json"):
        (state / stale).unlink(missing_ok=True)
    home = state / "home"
    if home.exists():
        subprocess.run(["rm", "-rf", str(home), str(state / "zoo-data"), str(state / "logs")], check=True)
    home.mkdir(parents=True)
    (state / "zoo-data").mkdir(exist_ok=True)
    t0 = time.monotonic()
    af = str(airflow_bin(version))
    # A leading letter: argparse takes a value that starts with "-" for an option (1 run in 64).
    password = "p" + secrets.token_urlsafe(12)
    (state / "passwords.json").write_text(json.dumps({USERNAME: password}))
    ports = {"api": free_port(), "worker_log": free_port(), "trigger_log": free_port(), "vendor_http": free_port()}
    url = f"http://127.0.0.1:{ports['api']}"
    procs = []
    if db == "postgres":
        db_url, pg = start_postgres(state)
        procs.append(pg)
    else:
        db_url = f"sqlite:///{home}/airflow.db"
    env = make_env(version, state, home, ports, db_url, cloudwatch)
    (state / "env.json").write_text(json.dumps({k: v for k, v in env.items() if k.startswith(("AIRFLOW", "DM_"))},
                                               indent=1))
    if with_corpus:
        seed_warehouse(state, db_url, env)
        vendor = state / "corpus-vendor"  # the vendor's file server publishes nothing: every download is a 404
        vendor.mkdir(exist_ok=True)
        procs.append(Proc(state, "corpus-vendor-http", [sys.executable, "-m", "http.server", str(ports["vendor_http"]),
                                                        "--bind", "127.0.0.1", "--directory", str(vendor)], env))
    log(f"Airflow {version}: migrating DB in {home}")
    run_cli(state, "db-migrate", [af, "db", "migrate"], env, timeout=600)
    if version == "2":
        run_cli(state, "users-create", [af, "users", "create", "--username", USERNAME, "--password", password,
                                        "--role", "Admin", "--email", "admin@example.invalid",
                                        "--firstname", "Rig", "--lastname", "Admin"], env, timeout=300)
    if version == "3":
        procs.append(Proc(state, "api-server", [af, "api-server", "--host", "127.0.0.1", "--port",
                                                str(ports["api"]), "--workers", "1"], env))
        procs.append(Proc(state, "scheduler", [af, "scheduler"], env))
        procs.append(Proc(state, "dag-processor", [af, "dag-processor"], env))
    else:
        procs.append(Proc(state, "webserver", [af, "webserver", "--hostname", "127.0.0.1", "--port",
                                               str(ports["api"]), "--workers", "1"], env))
        procs.append(Proc(state, "scheduler", [af, "scheduler"], env))
    log(f"started {', '.join(p.name for p in procs)}; waiting for {url} to be healthy")
    wait_until(f"Airflow {version} at {url} to be healthy", lambda: healthy(version, url), timeout, procs)
    api = Api(url, "v2" if version == "3" else "v1", USERNAME, password)
    v = api.call("GET", "/version")["version"]
    log(f"Airflow {v} healthy after {time.monotonic() - t0:.0f}s; waiting for the zoo to be parsed")
    wait_until("the zoo DAGs to be parsed", lambda: dags_parsed(api), timeout, procs, interval=2)
    t_ready = time.monotonic() - t0
    runs = {}
    if zoo_runs:
        if cloudwatch:
            create_zoo_streams(version, env, cloudwatch)
        plan = {d: list(zoo.RUN_DATES) for d in zoo.DAG_IDS}
        if with_corpus:
            plan.update({d: list(corpus.RUN_DATES) for d in corpus.DAG_IDS})
        runs = run_zoo(api, procs, timeout, plan)
        if cloudwatch:
            waited = wait_zoo_streams_written(version, env, cloudwatch, timeout)
            log(f"every zoo try's CloudWatch stream written {waited:.1f}s after the zoo ended")
    info = {
        "airflow_version": v,
        "api_version": api.api_version,
        "url": url,
        "username": USERNAME,
        "password": password,
        "state_dir": str(state),
        "airflow_home": str(home),
        "database": db_url.split(":")[0].split("+")[0],
        "dags_folder": str(DAGS_DIR),
        "zoo_data": str(state / "zoo-data"),
        "pids": {k: v for k, v in _load_pids(state).items() if not k.startswith("_")},
        "ports": ports,
        "runs": {d: r for d, r in runs.items() if d not in corpus.EXPECTATIONS},
        "corpus_runs": {d: r for d, r in runs.items() if d in corpus.EXPECTATIONS},
        "corpus": corpus.expectations() if with_corpus else None,
        "expectations": zoo.expectations(),
        "zoo_fingerprint": zoo_fingerprint(),
        "timings": {"ready_s": round(t_ready, 1), "total_s": round(time.monotonic() - t0, 1)},
    }
    if cloudwatch:
        info["cloudwatch"] = {**cloudwatch, "account": CLOUDWATCH_ACCOUNT, "conn_id": CLOUDWATCH_CONN_ID,
                              "log_group_arn": cloudwatch_env(cloudwatch)["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"]
                              .removeprefix("cloudwatch://")}
    tmp = state / "rig.json.tmp"
    tmp.write_text(json.dumps(info, indent=1))
    tmp.replace(state / "rig.json")
    log(f"Airflow {v} rig up at {url} (ready {t_ready:.0f}s, with zoo {time.monotonic() - t0:.0f}s): {state}/rig.json")
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up", help="start Airflow, run the zoo, write STATE_DIR/rig.json")
    u.add_argument("--airflow", choices=["3", "2"], required=True)
    u.add_argument("--state-dir", required=True)
    u.add_argument("--no-zoo", action="store_true", help="start and parse only; trigger nothing")
    u.add_argument("--corpus", action="store_true",
                   help="also seed the warehouse and run the real-world corpus (corpus.py) on its three dates")
    u.add_argument("--db", choices=["postgres", "sqlite"], default=os.environ.get("DM_RIG_DB", "postgres"),
                   help="metadata database (sqlite: Airflow 3 only; locks up under load)")
    u.add_argument("--timeout", type=float, default=float(os.environ.get("DM_RIG_TIMEOUT", "600")),
                   help="seconds allowed for each wait (health, parsing, zoo runs)")
    u.add_argument("--cloudwatch-endpoint", metavar="URL",
                   help="remote task logging to CloudWatch Logs at URL (a local moto; Airflow 3 only)")
    u.add_argument("--cloudwatch-log-group", metavar="NAME", default="airflow-dm-rig-Task",
                   help="log group for --cloudwatch-endpoint (must exist; default %(default)s)")
    u.add_argument("--cloudwatch-region", metavar="R", default="us-east-1",
                   help="region of the log group ARN and of the client (default %(default)s)")
    d = sub.add_parser("down", help="stop every process of the rig")
    d.add_argument("--state-dir", required=True)
    o = sub.add_parser("orphans", help="list live processes of the rig; exit 1 if any")
    o.add_argument("--state-dir", required=True)
    a = ap.parse_args(argv)
    state = Path(a.state_dir).resolve()

    if a.cmd == "down":
        killed = kill_all(state)
        log(f"rig {state} down" + (f" (SIGKILL needed for {', '.join(killed)})" if killed else ""))
        return 0
    if a.cmd == "orphans":
        left = rig_processes(state)
        for p in left:
            try:
                cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                cmd = "?"
            print(f"{p} {cmd}")
        return 1 if left else 0

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        cw = None
        if a.cloudwatch_endpoint:
            cw = {"endpoint": a.cloudwatch_endpoint, "log_group": a.cloudwatch_log_group,
                  "region": a.cloudwatch_region}
        up(a.airflow, state, not a.no_zoo, a.timeout, a.db, cw, a.corpus)
        return 0
    except BaseException as e:  # clean up whatever was started, then report
        msg = str(e) if isinstance(e, RigError) else f"{type(e).__name__}: {e}"
        log(f"up failed: {msg}")
        try:
            kill_all(state)
        except Exception as e2:  # noqa: BLE001
            log(f"cleanup after failure: {e2}")
        print(f"rig up failed (Airflow {a.airflow}, {state}): {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
