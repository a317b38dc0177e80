"""Local test servers on 127.0.0.1, shared by the pytest suites (import with tests/lib on sys.path):

    port = free_port()
    with listening([binary, "--port", str(port)], port, log_path):   # started, accepting; always stopped
        ...

A process that exits before it listens, or does not listen within `timeout` seconds, fails the test with
the tail of its log."""
from __future__ import annotations

import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it; a race with other processes is possible but rare)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; always reaps the process."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(log: Path, limit: int = 4000) -> str:
    try:
        return log.read_text(errors="replace")[-limit:]
    except OSError as e:
        return f"(log unreadable: {e})"


@contextmanager
def listening(cmd: list[str], port: int, log: Path, timeout: float = 20.0) -> Iterator[subprocess.Popen]:
    """Runs `cmd` (stdin closed, stdout+stderr to `log`), yields once 127.0.0.1:`port` accepts connections,
    and always stops it on exit (SIGTERM, then SIGKILL after 5 s)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{cmd[0]} exited with {proc.returncode} before listening: {_tail(log)}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{cmd[0]} did not listen on 127.0.0.1:{port} within {timeout:.0f} s: {_tail(log)}")
                time.sleep(0.05)
        yield proc
    finally:
        stop(proc, grace=5.0)
