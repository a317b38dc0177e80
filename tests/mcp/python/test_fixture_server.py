"""dagmedic's MCP server (build/mcp-fixture-server) driven by the official Python SDK client, over stdio and
Streamable HTTP (each test runs once per transport, see conftest.py). The tools are those of the MCP conformance
suite, whose source states their payloads (test_simple_text, test_tool_with_progress, test_tool_with_logging,
test_elicitation, test_sampling)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

pytestmark = [
    pytest.mark.anyio,
    # logging/setLevel is deprecated only from 2026-07-28; these sessions negotiate 2025-11-25.
    pytest.mark.filterwarnings("ignore:The logging capability is deprecated:UserWarning"),
]

CONFORMANCE_TOOLS = {
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_tool_with_progress",
    "test_error_handling",
    "test_sampling",
    "test_elicitation",
}
INVALID_PARAMS = -32602


def texts(result: types.CallToolResult) -> str:
    """All text content of a tool result, joined."""
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def wait_for(predicate, what: str, seconds: float = 5.0) -> None:
    """Waits (bounded) for notifications the client may still be dispatching; fails with `what` otherwise."""
    with anyio.move_on_after(seconds):
        while not predicate():
            await anyio.sleep(0.01)
    assert predicate(), what


async def test_initialize_negotiates_latest_version_and_capabilities(connect) -> None:
    async with connect() as (session, rec):
        init = rec.init
        assert init is not None
        assert init.protocol_version == "2025-11-25"
        caps = init.capabilities
        assert caps.tools is not None
        assert caps.resources is not None
        assert caps.prompts is not None
        assert caps.logging is not None
        assert init.server_info.name
        assert init.server_info.version
        # The session is usable after the handshake.
        assert isinstance(await session.send_ping(), types.EmptyResult)


async def test_list_tools_follows_every_page(connect) -> None:
    async with connect() as (session, _):
        names: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            pages += 1
            names += [t.name for t in page.tools]
            for tool in page.tools:
                assert tool.description, f"{tool.name} has no description"
                assert tool.input_schema.get("type") == "object", f"{tool.name}: {tool.input_schema}"
            cursor = page.next_cursor
            if not cursor:
                break
            assert pages < 100, "server keeps returning cursors"
        assert len(names) == len(set(names)), f"a tool is listed twice across {pages} pages: {names}"
        missing = CONFORMANCE_TOOLS - set(names)
        assert not missing, f"tools missing from tools/list: {sorted(missing)}"


async def test_list_tools_rejects_a_forged_cursor(connect) -> None:
    async with connect() as (session, _):
        with pytest.raises(MCPError) as err:
            await session.list_tools(params=types.PaginatedRequestParams(cursor="not-a-cursor-from-this-server"))
        assert err.value.code == INVALID_PARAMS


async def test_call_simple_text(connect) -> None:
    async with connect() as (session, _):
        result = await session.call_tool("test_simple_text", {})
        assert not result.is_error
        assert texts(result) == "This is a simple text response for testing."


async def test_progress_notifications_arrive_in_order(connect) -> None:
    updates: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total))

    async with connect() as (session, _):
        result = await session.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
        assert not result.is_error
        await wait_for(lambda: len(updates) >= 3, f"expected 3 progress notifications, got {updates}")
        values = [p for p, _ in updates]
        assert values == sorted(values), f"progress went backwards: {values}"
        assert values[0] == 0 and values[-1] == 100, values
        assert all(total == 100 for _, total in updates), updates


async def test_log_notifications_during_a_tool_call(connect) -> None:
    async with connect() as (session, rec):
        await session.set_logging_level("debug")
        result = await session.call_tool("test_tool_with_logging", {})
        assert not result.is_error
        await wait_for(lambda: len(rec.logs) >= 3, f"expected 3 log messages, got {rec.logs}")
        assert all(m.level == "info" for m in rec.logs), [m.level for m in rec.logs]
        data = [json.dumps(m.data) for m in rec.logs]
        expected = ["Tool execution started", "Tool processing data", "Tool execution completed"]
        positions = [next((i for i, d in enumerate(data) if phrase in d), -1) for phrase in expected]
        assert -1 not in positions and positions == sorted(positions), f"log messages: {data}"


async def test_log_level_filters_messages_below_it(connect) -> None:
    async with connect() as (session, rec):
        await session.set_logging_level("emergency")
        result = await session.call_tool("test_tool_with_logging", {})
        assert not result.is_error
        # A later round trip: any log message of the call would have been delivered before its answer.
        await session.send_ping()
        assert rec.logs == []


async def test_elicitation_accept_content_reaches_the_tool(connect) -> None:
    def accept(params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"username": "dm-user-7f3a", "email": "dm@example.test"})

    async with connect(elicit=accept) as (session, rec):
        result = await session.call_tool("test_elicitation", {"message": "Who approves the rerun?"})
        assert not result.is_error, texts(result)
        assert len(rec.elicitations) == 1
        asked = rec.elicitations[0]
        assert asked.message == "Who approves the rerun?"
        schema = asked.requested_schema
        schema = schema if isinstance(schema, dict) else schema.model_dump(by_alias=True, exclude_none=True)
        assert set(schema["properties"]) >= {"username", "email"}, schema
        text = texts(result)
        assert "accept" in text and "dm-user-7f3a" in text and "dm@example.test" in text, text


async def test_elicitation_decline_is_reported_without_content(connect) -> None:
    def decline(params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="decline")

    async with connect(elicit=decline) as (session, rec):
        result = await session.call_tool("test_elicitation", {"message": "Approve?"})
        assert len(rec.elicitations) == 1
        text = texts(result)
        assert "decline" in text and "dm-user-7f3a" not in text, text


async def test_sampling_reply_reaches_the_tool(connect) -> None:
    def reply(params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="sampled-reply-5c1e"),
            model="dm-test-model",
            stop_reason="endTurn",
        )

    async with connect(sample=reply) as (session, rec):
        result = await session.call_tool("test_sampling", {"prompt": "Summarize the failed task"})
        assert not result.is_error, texts(result)
        assert len(rec.samplings) == 1
        asked = rec.samplings[0]
        assert asked.max_tokens == 100
        assert len(asked.messages) == 1 and asked.messages[0].role == "user"
        content = asked.messages[0].content
        assert isinstance(content, types.TextContent) and content.text == "Summarize the failed task"
        text = texts(result)
        assert "LLM response" in text and "sampled-reply-5c1e" in text, text


async def test_sampling_without_the_client_capability_is_refused(connect) -> None:
    async with connect() as (session, rec):
        try:
            result = await session.call_tool("test_sampling", {"prompt": "x"})
        except MCPError as e:  # a JSON-RPC error is an acceptable refusal too
            assert e.message
        else:
            assert result.is_error, texts(result)
            assert texts(result)
        assert rec.samplings == []


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("test_sampling", {"prompt": 12345}, "prompt"),
        ("test_elicitation", {"message": ["not", "a", "string"]}, "message"),
        ("test_elicitation", {}, "message"),
    ],
    ids=["number-for-string", "array-for-string", "missing-required"],
)
async def test_bad_arguments_give_an_error_result_naming_the_field(connect, tool, arguments, field) -> None:
    async with connect(elicit=lambda p: types.ElicitResult(action="cancel")) as (session, rec):
        result = await session.call_tool(tool, arguments)
        assert result.is_error, texts(result)
        assert field in texts(result), texts(result)
        # Validation happens before the handler: it never asked the client anything.
        assert rec.elicitations == [] and rec.samplings == []


async def test_unknown_tool_is_a_protocol_error(connect) -> None:
    async with connect() as (session, _):
        with pytest.raises(MCPError) as err:
            await session.call_tool("no_such_tool_d41d8", {})
        assert err.value.code == INVALID_PARAMS
