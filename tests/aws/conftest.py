"""Fixtures for tests/aws: the aws-probe binary, a moto server (the local AWS endpoint for STS
and IAM) and the metadata test double (metadata_double.py), each started on a free 127.0.0.1
port and always stopped."""
from __future__ import annotations

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


def _build_dir() -> Path:
    return Path(os.environ.get("DM_BUILD", ROOT / "build"))


@pytest.fixture(scope="session")
def probe() -> Path:
    p = _build_dir() / "aws-probe"
    assert p.exists(), f"{p} missing: build the aws-probe target"
    return p


def _free_port() -> int:
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


@pytest.fixture(scope="session")
def moto_url():
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)
    exe = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/moto-api/data.json")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def metadata_url():
    with tempfile.TemporaryDirectory() as d:
        port_file = Path(d) / "port"
        proc = subprocess.Popen([sys.executable, str(HERE / "metadata_double.py"), str(port_file)],
                                stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not (port_file.exists() and port_file.read_text()):
                assert proc.poll() is None, "metadata double exited"
                assert time.monotonic() < deadline, "metadata double did not start"
                time.sleep(0.05)
            url = f"http://127.0.0.1:{port_file.read_text()}"
            _wait_http(url + "/_log")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def base_env(home: Path) -> dict:
    """A clean environment: nothing inherited that could select real credentials."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "AWS_EC2_METADATA_DISABLED": "true"}


def run_probe(probe: Path, cmd: str, env: dict, *args: str, stdin: str | None = None) -> dict:
    r = subprocess.run([str(probe), cmd, *args], env=env, input=stdin, capture_output=True,
                       text=True, timeout=60)
    assert r.stdout.strip(), f"no output (rc={r.returncode}): {r.stderr}"
    return json.loads(r.stdout)
