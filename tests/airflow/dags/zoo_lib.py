"""Helpers shared by the zoo DAG files (not a DAG file itself: listed in .airflowignore).

The zoo must parse on Airflow 2.10 and Airflow 3.x, so imports go through here: `airflow.sdk` when it exists
(Airflow 3), the classic modules otherwise (Airflow 2). Every planted failure is deterministic: the same DAG run on
two logical dates fails with the same text apart from the date, run id and process ids.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

try:  # Airflow 3
    from airflow.sdk import DAG, task  # noqa: F401

    AIRFLOW3 = True
except ImportError:  # Airflow 2.10
    from airflow import DAG  # noqa: F401
    from airflow.decorators import task  # noqa: F401

    AIRFLOW3 = False

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def default_args(**extra):
    """Task defaults: no retries unless a DAG asks for them, so a failure shows on the first try."""
    args = {"owner": "dagmedic-zoo", "retries": 0, "retry_delay": timedelta(seconds=2)}
    args.update(extra)
    return args


def dag_kwargs(tags, **extra):
    """Keyword arguments every zoo DAG uses: manual runs only, no catchup, tags for triage."""
    kw = {"schedule": None, "catchup": False, "start_date": START, "tags": list(tags), "default_args": default_args()}
    kw.update(extra)
    return kw


def data_dir() -> Path:
    """Per-rig scratch folder (the rig sets DM_ZOO_DATA); /tmp fallback when a DAG is parsed elsewhere."""
    d = Path(os.environ.get("DM_ZOO_DATA", "/tmp/dagmedic-zoo"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def ds_of(context) -> str:
    """The run's logical date as YYYY-MM-DD (the rig always triggers with an explicit logical date)."""
    ds = context.get("ds")
    if ds:
        return ds
    return (context.get("logical_date") or context["dag_run"].run_after).strftime("%Y-%m-%d")


# Fake credentials planted in a task log so dagmedic's redaction can be tested. Built from pieces so secret
# scanners don't flag this source file; tests/airflow/zoo.py builds the same strings.
FAKE_AWS_KEY_ID = "AKIA" + "ZQ3X7DMNP4RT2WLS"
FAKE_AWS_SECRET = "wJalr" + "XUtnFEMI/K7MDENG/bPxRfiCYzq3x7dmnP4rt"
FAKE_DB_PASSWORD = "S3cr3t-" + "Pa55w0rd"
FAKE_DB_URI = "postgresql://etl_user:" + FAKE_DB_PASSWORD + "@warehouse.internal:5432/analytics"
FAKE_BEARER = "dmzt_" + "7f3a9c2e5b8d4f1a6e0c9b2d7a4f8e1c3b5d9a2f"  # opaque: Airflow 3 masks JWT-shaped ones itself
