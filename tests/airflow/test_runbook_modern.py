"""The official Python SDK's `mcp.Client` in MCP 2026-07-28 mode against the real `dagmedic serve`, over stdio and
Streamable HTTP, with no Airflow environment configured (needs no rig): the runbook tools are listed with their
output schemas and called statelessly, and summarize_root_cause's sampling goes through input_required — the SDK
answers the sampling request and retries, and the summary is the client's model's.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from mcpsession import DAGMEDIC
from test_runbook_e2e import READ_TOOLS, STORE_WRITE_TOOLS

MODERN = "2026-07-28"
LOG = ("Traceback (most recent call last):\n  File \"load.py\", line 3, in <module>\n"
       "KeyError: 'customer_id'\n")


def _env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state")}


@pytest.fixture(params=["stdio", "http"])
def server(request, tmp_path):
    """What mcp.Client connects to: stdio parameters, or the URL of a `serve --transport http` on loopback."""
    from mcp.client.stdio import StdioServerParameters

    env = _env(tmp_path / "home")
    if request.param == "stdio":
        yield StdioServerParameters(command=str(DAGMEDIC), args=["serve", "--transport", "stdio"], env=env)
        return
    errlog = open(tmp_path / "serve.err", "w+")
    proc = subprocess.Popen([str(DAGMEDIC), "serve", "--transport", "http", "--port", "0"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog)
    try:
        url, deadline = None, time.monotonic() + 60
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            m = re.search(r"MCP endpoint (http://\S+/mcp)", (tmp_path / "serve.err").read_text())
            url = m.group(1) if m else None
            if url is None:
                time.sleep(0.05)
        assert url, f"serve did not print its endpoint: {(tmp_path / 'serve.err').read_text()[-2000:]}"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        errlog.close()


async def _session(server, sample=None):
    import mcp_types as types
    from mcp import Client

    sampled: list = []

    async def on_sample(_ctx, params):
        sampled.append(params)
        return types.CreateMessageResult(role="assistant", model="dm-test-model", stop_reason="endTurn",
                                         content=types.TextContent(type="text", text=sample))

    kwargs = {"mode": MODERN, "read_timeout_seconds": 60}
    if sample is not None:
        kwargs["sampling_callback"] = on_sample
    return Client(server, **kwargs), sampled


def test_modern_client_lists_and_calls_the_runbook_tools(server):
    async def run():
        client, _ = await _session(server)
        async with client as c:
            assert c.protocol_version == MODERN
            tools = (await c.list_tools()).tools
            names = {t.name for t in tools}
            assert READ_TOOLS | STORE_WRITE_TOOLS <= names, sorted((READ_TOOLS | STORE_WRITE_TOOLS) - names)
            assert all(t.output_schema for t in tools), [t.name for t in tools if not t.output_schema]
            e = await c.call_tool("extract_errors", {"log_tail": LOG})
            assert not e.is_error and e.structured_content["exception_type"] == "KeyError", e
            p = await c.call_tool("propose_action", {"signature": e.structured_content["signature"],
                                                     "context": {"category": e.structured_content["category"]}})
            assert not p.is_error and p.structured_content["action"], p
            bad = await c.call_tool("get_latest_run", {"dag_id": "no such dag!"})
            assert bad.is_error
    asyncio.run(run())


def test_summarize_root_cause_samples_through_input_required(server):
    async def run():
        client, sampled = await _session(server, sample="The customer_id column vanished upstream (dm-model).")
        async with client as c:
            e = await c.call_tool("extract_errors", {"log_tail": LOG})
            s = await c.call_tool("summarize_root_cause", {"signature": e.structured_content["signature"],
                                                           "short_context": LOG})
            assert not s.is_error, s
            assert s.structured_content["method"] == "sampling", s.structured_content
            assert s.structured_content["model"] == "dm-test-model"
            assert "customer_id column vanished" in s.structured_content["summary"]
            assert len(sampled) == 1
            asked = sampled[0].messages[0].content.text
            assert "untrusted data" in asked and "KeyError" in asked  # the log goes as marked data
        # Without the sampling capability: the deterministic summary, no input_required.
        client, sampled = await _session(server)
        async with client as c:
            s = await c.call_tool("summarize_root_cause", {"signature": e.structured_content["signature"],
                                                           "short_context": LOG})
            assert not s.is_error and s.structured_content["method"] == "deterministic", s
    asyncio.run(run())
