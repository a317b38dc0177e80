"""Fixtures for tests/aws: the aws-probe binary, a moto server (the local AWS endpoint for STS
and IAM) and the metadata test double (metadata_double.py), each started on a free 127.0.0.1
port and always stopped."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lib"))
from local_server import stop  # noqa: E402  (tests/lib)
from moto_server import moto_server, wait_http as _wait_http  # noqa: E402  (shared with tests/mwaa)


def _build_dir() -> Path:
    return Path(os.environ.get("DM_BUILD", ROOT / "build"))


@pytest.fixture(scope="session")
def probe() -> Path:
    p = _build_dir() / "aws-probe"
    assert p.exists(), f"{p} missing: build the aws-probe target"
    return p


@pytest.fixture(scope="session")
def moto_url():
    with moto_server("moto-aws-") as url:
        yield url


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
            stop(proc)


def base_env(home: Path) -> dict:
    """A clean environment: nothing inherited that could select real credentials."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "AWS_EC2_METADATA_DISABLED": "true"}


def run_probe(probe: Path, cmd: str, env: dict, *args: str, stdin: str | None = None) -> dict:
    r = subprocess.run([str(probe), cmd, *args], env=env, input=stdin, capture_output=True,
                       text=True, timeout=60)
    assert r.stdout.strip(), f"no output (rc={r.returncode}): {r.stderr}"
    return json.loads(r.stdout)
