"""pytest fixtures for the real Airflow rigs (tests/airflow/rig.py).

Fixtures (session scope; each yields the parsed rig.json):
  airflow3      Airflow 3.x, REST /api/v2, JWT auth
  airflow2      Airflow 2.10, REST /api/v1, basic auth
  airflow_rig   parametrized over both (test ids `af3`, `af2`)
  corpus3, corpus2, corpus_rig   the same rigs, which then also run the real-world corpus (corpus.py, rig.py --corpus):
                the session's rigs get the corpus only when a collected test asks for one of these

Every rig the collected tests need is started on first use, all of them concurrently, once per session, and ALWAYS
brought down at the end: a session finalizer, an atexit hook and SIGTERM/SIGHUP handlers all call the same
idempotent teardown. Environment:
  DM_RIG_ROOT=DIR    put state dirs (AIRFLOW_HOME, component logs, rig.json) in DIR/af3, DIR/af2 and leave them for
                     inspection (default: a temp dir, removed afterwards)
  DM_RIG_KEEP=DIR    reuse rigs kept in DIR/af3, DIR/af2 across pytest runs (local iteration): started if missing or
                     dead, never brought down (stop them with `rig.py down --state-dir DIR/af3`)
  DM_RIG_SERIAL=1    start the rigs one after the other instead of concurrently
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RIG = HERE / "rig.py"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lib"))  # tests/lib: shared helpers (local_server, moto_server)

VERSIONS = ("3", "2")


def _healthy(info: dict) -> bool:
    path = "/api/v2/monitor/health" if info.get("api_version") == "v2" else "/health"
    try:
        with urllib.request.urlopen(info["url"] + path, timeout=5) as r:
            return r.status == 200
    except (OSError, ValueError, KeyError):
        return False


class _Rig:
    def __init__(self, version: str, state: Path, keep: bool, with_corpus: bool = False):
        self.version, self.state, self.keep, self.with_corpus = version, state, keep, with_corpus
        self.proc: subprocess.Popen | None = None
        self.info: dict | None = None
        self.error: str | None = None
        self.started_by_us = False

    def _reusable(self) -> dict | None:
        try:
            info = json.loads((self.state / "rig.json").read_text())
        except (OSError, ValueError):
            return None
        import rig as rigmod

        fresh = info.get("zoo_fingerprint") == rigmod.zoo_fingerprint()
        fresh = fresh and (info.get("corpus") is not None or not self.with_corpus)
        return info if fresh and info.get("runs") and _healthy(info) else None

    def start(self) -> None:
        if self.keep:
            self.info = self._reusable()
            if self.info:
                return
            subprocess.run([sys.executable, str(RIG), "down", "--state-dir", str(self.state)], check=False)
        self.state.mkdir(parents=True, exist_ok=True)
        self.logfile = self.state.parent / f"rig-up-af{self.version}.log"
        with open(self.logfile, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(RIG), "up", "--airflow", self.version, "--state-dir", str(self.state)]
                + (["--corpus"] if self.with_corpus else []),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        self.started_by_us = True

    def wait(self) -> dict:
        if self.info is not None:
            return self.info
        if self.error is None:
            rc = self.proc.wait()
            if rc == 0:
                self.info = json.loads((self.state / "rig.json").read_text())
                return self.info
            lines = self.logfile.read_text(errors="replace").splitlines()[-40:]
            self.error = f"rig up (Airflow {self.version}) failed with code {rc}:\n" + "\n".join(lines)
        raise RuntimeError(self.error)

    def down(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # `up` cleans up after itself on SIGTERM
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.keep or not self.started_by_us:
            return
        subprocess.run([sys.executable, str(RIG), "down", "--state-dir", str(self.state)], check=False,
                       stdin=subprocess.DEVNULL)
        self.started_by_us = False


class _Manager:
    def __init__(self):
        self.lock = threading.RLock()
        self.needed: set[str] = set()
        self.corpus = False  # a collected test uses corpus3/corpus2/corpus_rig
        self.rigs: dict[str, _Rig] = {}
        self.tmp_root: Path | None = None
        self.done = False

    def _root(self) -> tuple[Path, bool]:
        if os.environ.get("DM_RIG_KEEP"):
            return Path(os.environ["DM_RIG_KEEP"]).resolve(), True
        if os.environ.get("DM_RIG_ROOT"):
            return Path(os.environ["DM_RIG_ROOT"]).resolve(), False
        if self.tmp_root is None:
            self.tmp_root = Path(tempfile.mkdtemp(prefix="dm-rig-"))
        return self.tmp_root, False

    def get(self, version: str) -> dict:
        with self.lock:
            if self.done:
                raise RuntimeError("rigs already torn down")
            if version not in self.rigs:
                root, keep = self._root()
                wanted = sorted(self.needed | {version}, reverse=True)
                if os.environ.get("DM_RIG_SERIAL"):
                    wanted = [version]
                for v in wanted:  # start every rig this session needs at once: they boot concurrently
                    if v not in self.rigs:
                        rig = _Rig(v, root / f"af{v}", keep, self.corpus)
                        self.rigs[v] = rig
                        rig.start()
            rig = self.rigs[version]
        return rig.wait()

    def teardown(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
            for rig in self.rigs.values():
                try:
                    rig.down()
                except Exception as e:  # noqa: BLE001 - keep tearing the others down
                    print(f"[rig] teardown of Airflow {rig.version}: {e}", file=sys.stderr)
            if self.tmp_root is not None:
                shutil.rmtree(self.tmp_root, ignore_errors=True)


_manager = _Manager()
atexit.register(_manager.teardown)


def _on_signal(signum, _frame):
    _manager.teardown()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: start only the rigs the selected tests use
def pytest_collection_modifyitems(session, config, items):
    for item in items:
        names = getattr(item, "fixturenames", ())
        for v in VERSIONS:
            if f"airflow{v}" in names or f"corpus{v}" in names:
                _manager.needed.add(v)
            if f"corpus{v}" in names:
                _manager.corpus = True
        for fixture in ("airflow_rig", "corpus_rig"):
            if fixture in names and hasattr(item, "callspec"):
                v = item.callspec.params.get(fixture)
                if v in VERSIONS:
                    _manager.needed.add(v)
                    _manager.corpus |= fixture == "corpus_rig"


@pytest.fixture(scope="session")
def _rig_manager(request):
    request.addfinalizer(_manager.teardown)
    return _manager


@pytest.fixture(scope="session")
def airflow3(_rig_manager) -> dict:
    return _rig_manager.get("3")


@pytest.fixture(scope="session")
def airflow2(_rig_manager) -> dict:
    return _rig_manager.get("2")


@pytest.fixture(scope="session", params=["3", "2"], ids=["af3", "af2"])
def airflow_rig(request, _rig_manager) -> dict:
    return _rig_manager.get(request.param)


def _with_corpus(info: dict) -> dict:
    assert info.get("corpus") is not None, "the rig was started without --corpus (DM_RIG_KEEP rig from another session?)"
    return info


@pytest.fixture(scope="session")
def corpus3(_rig_manager) -> dict:
    return _with_corpus(_rig_manager.get("3"))


@pytest.fixture(scope="session")
def corpus2(_rig_manager) -> dict:
    return _with_corpus(_rig_manager.get("2"))


@pytest.fixture(scope="session", params=["3", "2"], ids=["af3", "af2"])
def corpus_rig(request, _rig_manager) -> dict:
    return _with_corpus(_rig_manager.get(request.param))
