"""A moto server (PyPI `moto[server]`, the local AWS endpoint of the tests) on a free 127.0.0.1 port, shared by
tests/aws and tests/mwaa:

    with moto_server(recording=path) as url:    # http://127.0.0.1:PORT, ready; always stopped on exit
        ...

`recording`: a file moto's request recorder appends every request to (one JSON object a line: headers, method,
url, body, base64 when body_encoded), off until start_recording(url) is called, so a test can see what a client
asked for (e.g. which CloudWatch stream). The server's output goes to a temp file (its tail is shown if it fails
to start). Built on local_server.py (free port, start and wait until listening, always stopped)."""
from __future__ import annotations

import base64
import contextlib
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from local_server import free_port, listening


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Waits until GET url answers (any 2xx); raises the last error after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def moto_server(prefix: str = "moto-", recording: Path | None = None) -> Iterator[str]:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix=prefix, suffix=".log")[1])
    env = [f"MOTO_RECORDER_FILEPATH={recording}"] if recording is not None else []  # recorder off until started
    cmd = ["env", "-u", "MOTO_ENABLE_RECORDING", *env, str(Path(sys.executable).parent / "moto_server"),
           "-H", "127.0.0.1", "-p", str(port)]
    with listening(cmd, port, log, timeout=60):
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/moto-api/data.json")
        yield url


def start_recording(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url + "/moto-api/recorder/start-recording", method="POST"),
                           timeout=10).read()


def recorded(recording: Path, target: str | None = None) -> list[dict]:
    """The recorded requests (body decoded to text), only those whose X-Amz-Target ends with `target` if given."""
    out = []
    try:
        lines = recording.read_text().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        e = json.loads(line)
        h = {k.lower(): v for k, v in e.get("headers", {}).items()}
        if target and not h.get("x-amz-target", "").endswith(target):
            continue
        body = e.get("body") or ""
        if e.get("body_encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        out.append({"method": e.get("method"), "url": e.get("url"), "headers": h, "body": body})
    return out
