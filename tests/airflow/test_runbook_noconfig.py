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


# `--read-only` and `server.read_only: true`: only the tools that read are listed (each with readOnlyHint), and a
# write tool is not there to call. propose_action only proposes, so it stays.
READ_ONLY_SERVED = READ_TOOLS | {"propose_action"}


@pytest.mark.parametrize("how", ["flag", "config"])
def test_read_only_serves_only_the_tools_that_read(tmp_path, how):
    from mcpsession import DAGMEDIC
    home = tmp_path / "home"
    if how == "flag":
        s = McpSession(None, home, argv=[str(DAGMEDIC), "serve", "--transport", "stdio", "--read-only"])
    else:
        cfg = tmp_path / "config.yaml"
        cfg.write_text("server: {read_only: true}\n")
        s = McpSession(cfg, home)
    try:
        tools = {t.name: t for t in s.list_tools()}
        assert set(tools) == READ_ONLY_SERVED, sorted(set(tools) ^ READ_ONLY_SERVED)
        assert all(t.annotations.read_only_hint for t in tools.values())
        try:  # an unknown tool: a protocol error (raised) or an error result, never a run
            r = s.call("trigger_dag", {"dag_id": "zoo_ok"})
            assert r.is_error and "trigger_dag" in r.text, r.text
        except Exception as e:  # noqa: BLE001 - the SDK's MCPError
            assert "trigger_dag" in str(e) and "nknown tool" in str(e), repr(e)
        assert "read-only: not serving" in s.stderr() and "clear_failed_tasks" in s.stderr(), s.stderr()
    finally:
        s.close()


@pytest.mark.parametrize("field,tool", [("dag_id", "get_latest_run"), ("signature", "propose_action")])
def test_a_huge_argument_against_a_pattern_is_refused_and_the_server_lives(bare, field, tool):
    """Attack: a 1 MB argument where the schema has a `pattern`. A backtracking std::regex recursed once per character
    and overflowed the stack (the whole server died); now the call is refused with a clear error and the same
    process answers the next call."""
    args = {field: "a" * 1_000_000}
    r = bare.call(tool, args)
    assert r.is_error, r.text[:300]
    assert field in r.text and ("at most" in r.text or "Invalid arguments" in r.text), r.text[:300]
    names = {t.name for t in bare.list_tools()}  # the same server process still answers
    assert tool in names


@pytest.mark.parametrize("tiers,warned", [(("dev", "prod"), True), (("dev",), False)])
def test_prod_without_auth_warns_at_start_that_approvals_rest_on_os_users(tmp_path, tiers, warned):
    """Issue 14: without `auth:` the single-user local mode stays, and a prod environment in that mode is named at
    start with why its approvals are weaker than a team server's."""
    import subprocess

    from mcpsession import DAGMEDIC
    home = tmp_path / "home"
    home.mkdir()
    envs = "".join(f"  {t}: {{kind: airflow, tier: {t}, url: 'http://127.0.0.1:9'}}\n" for t in tiers)
    cfg = tmp_path / "config.yaml"
    cfg.write_text("environments:\n" + envs)
    r = subprocess.run([str(DAGMEDIC), "serve", "--transport", "stdio", "--config", str(cfg)], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL,
                       env={"HOME": str(home), "PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(home / "state")})
    assert r.returncode == 0, r.stderr
    warning = "warning: prod environment(s) prod served without `auth:`"
    assert (warning in r.stderr) == warned, r.stderr
    if warned:
        assert "docs/security.md" in r.stderr and "identity.principal" in r.stderr
