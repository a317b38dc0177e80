"""The official Python SDK's `mcp.Client` in 2026-07-28 mode against mcp-fixture-server, over stdio and
Streamable HTTP: discovery, stateless calls, an input_required round trip driven by the SDK, prompts, resources,
and the same binary still answering a 2025-11-25 `initialize` on the same port.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"


@pytest.fixture
def server(transport: str, fixture_binary: Path, request: pytest.FixtureRequest) -> Any:
    if transport == "stdio":
        return StdioServerParameters(command=str(fixture_binary), args=["--stdio"])
    return request.getfixturevalue("http_url")


def _elicit_name(name: str):
    async def on_elicit(ctx: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"name": name})

    return on_elicit


@pytest.mark.parametrize("mode", [MODERN, "auto"])
async def test_modern_client_discovers_lists_and_calls(server, mode: str) -> None:
    async with Client(server, mode=mode, read_timeout_seconds=20) as client:
        assert client.protocol_version == MODERN
        tools = await client.list_tools()
        names = {t.name for t in tools.tools}
        assert {"test_simple_text", "test_input_required_result_elicitation", "greet"} <= names
        result = await client.call_tool("test_simple_text", {})
        assert result.content[0].text == "This is a simple text response for testing."
        assert not result.is_error


async def test_input_required_is_driven_by_the_sdk(server) -> None:
    async with Client(server, mode=MODERN, elicitation_callback=_elicit_name("Ada"), read_timeout_seconds=20) as c:
        result = await c.call_tool("test_input_required_result_elicitation", {})
        assert result.content[0].text == "Hello, Ada!"
        # Two rounds with a sealed requestState carried between them.
        result = await c.call_tool("test_input_required_result_request_state", {})
        assert "state-ok" in result.content[0].text


async def test_prompts_and_resources(server) -> None:
    async with Client(server, mode=MODERN, read_timeout_seconds=20) as c:
        prompt = await c.get_prompt("test_prompt_with_arguments", {"arg1": "a", "arg2": "b"})
        assert "arg1='a'" in prompt.messages[0].content.text
        res = await c.read_resource("test://static-text")
        assert res.contents[0].text == "This is the content of the static text resource."


async def test_tool_errors_stay_results(server) -> None:
    async with Client(server, mode=MODERN, read_timeout_seconds=20) as c:
        result = await c.call_tool("test_error_handling", {})
        assert result.is_error
        assert "intentionally" in result.content[0].text


async def test_legacy_initialize_still_served(http_url: str) -> None:
    async with Client(http_url, mode="legacy", read_timeout_seconds=20) as c:
        assert c.protocol_version == "2025-11-25"
        result = await c.call_tool("test_simple_text", {})
        assert result.content[0].text == "This is a simple text response for testing."
