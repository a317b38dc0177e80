"""Fixtures for tests/replicas: the real Airflow 3 rig of tests/airflow (fixture `airflow3`, same rig manager and
environment variables: DM_RIG_ROOT, DM_RIG_KEEP), and `stack`: two `dagmedic serve --transport http` replicas on
one throwaway PostgreSQL behind HAProxy (stack.py), started once per module and always stopped.

Environment:
  DM_BUILD              build folder holding `dagmedic` (default: <repo>/build)
  DM_RIG_ROOT=DIR       the stack's state dir is DIR/replicas (configs, pids.json, logs/ of haproxy, r1, r2,
                        postgres), kept for inspection; default: a temp dir, removed afterwards
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
AIRFLOW_TESTS = HERE.parent / "airflow"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(AIRFLOW_TESTS))

# The Airflow rig fixtures, shared with tests/airflow: loaded from its conftest under another module name (a conftest
# of a sibling folder cannot be named in pytest_plugins). The rig manager's finalizer, atexit hook and signal
# handlers come with it, and so does the hook that starts only the rigs the selected tests use.
_spec = importlib.util.spec_from_file_location("dm_airflow_conftest", AIRFLOW_TESTS / "conftest.py")
_airflow = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_airflow)
_rig_manager = _airflow._rig_manager
airflow3 = _airflow.airflow3
pytest_collection_modifyitems = _airflow.pytest_collection_modifyitems

from lbclient import LbClient  # noqa: E402
from stack import Stack  # noqa: E402


@pytest.fixture(scope="module")
def stack(airflow3):
    root = os.environ.get("DM_RIG_ROOT")
    tmp = None if root else Path(tempfile.mkdtemp(prefix="dm-replicas-"))
    state = (Path(root).resolve() if root else tmp) / "replicas"
    s = Stack(state, airflow3)
    try:
        s.start()
        yield s
    finally:
        s.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def client(stack):
    """ONE MCP client, 2026-07-28, that only knows HAProxy's URL."""
    c = LbClient(stack.url)
    try:
        yield c
    finally:
        c.close()
