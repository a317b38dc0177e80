"""`dagmedic serve` with no config file at all (HOME and XDG_* in a temp dir, no $DAGMEDIC_CONFIG): every runbook
tool is still listed, and a call that needs Airflow says that no environment is configured and how to add one.
Needs no rig."""

from __future__ import annotations

import pytest

from mcpsession import McpSession
from test_runbook_e2e import READ_TOOLS, STORE_WRITE_TOOLS


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    s = McpSession(None, tmp_path_factory.mktemp("noconfig") / "home")
    yield s
    s.close()


def test_every_tool_is_listed_without_a_config(bare):
    names = {t.name for t in bare.list_tools()}
    assert READ_TOOLS | STORE_WRITE_TOOLS <= names, sorted((READ_TOOLS | STORE_WRITE_TOOLS) - names)


@pytest.mark.parametrize("tool,args", [
    ("list_recent_failures", {}),
    ("get_latest_run", {"dag_id": "orders_daily"}),
    ("get_run_summary", {"dag_id": "orders_daily", "run_id": "scheduled__2026-01-01T00:00:00+00:00"}),
    ("task_log", {"dag_id": "orders_daily", "run_id": "r1", "task_id": "load"}),
    ("check_recovery_rules", {"dag_id": "orders_daily", "run_id": "r1"}),
])
def test_a_call_says_no_environment_is_configured(bare, tool, args):
    r = bare.call(tool, args)
    assert r.is_error, f"{tool}: {r.text[:300]}"
    assert "no Airflow environment is configured" in r.text, r.text
    assert "docs/config.md" in r.text


def test_extract_errors_needs_no_environment(bare):
    r = bare.call("extract_errors", {"log_tail": "Traceback (most recent call last):\n"
                                                 "  File \"x.py\", line 1, in <module>\n"
                                                 "KeyError: 'customer_id'\n"})
    assert not r.is_error, r.text
    assert r.structured["found"] is True and r.structured["exception_type"] == "KeyError"
