"""The MCP Inspector's CLI mode (npm @modelcontextprotocol/inspector, installed by dev/setup.d/30-node-tools.sh)
against build/mcp-fixture-server over stdio and Streamable HTTP: list tools/resources/prompts, call tools, read a
resource, get a prompt. Payloads are those the MCP conformance suite's source states for its fixture names.

Needs DM_NODE22 and DM_INSPECTOR_BIN (from $DM_NODE_TOOLS/env.sh; dev/test.d/22-mcp-inspector.sh sets them).
The inspector runs with HOME pointed at a temporary folder so its catalog/config files never touch the real home.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "lib"))
from local_server import free_port, listening  # noqa: E402

FIXTURE = Path(os.environ.get("DM_BUILD", REPO / "build")) / "mcp-fixture-server"
TOOLS = {
    "test_simple_text",
    "test_tool_with_logging",
    "test_tool_with_progress",
    "test_error_handling",
    "test_sampling",
    "test_elicitation",
}
SIMPLE_TEXT = "This is a simple text response for testing."


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value or not Path(value).exists():
        pytest.fail(f"{name} is not set or missing: source $DM_NODE_TOOLS/env.sh (dev/setup.d/30-node-tools.sh)")
    return value


@pytest.fixture(scope="session")
def fixture_binary() -> Path:
    if not (FIXTURE.is_file() and os.access(FIXTURE, os.X_OK)):
        pytest.fail(f"{FIXTURE} is missing: build it (cmake --build $DM_BUILD --target mcp-fixture-server)")
    return FIXTURE


@pytest.fixture(scope="session")
def inspector_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inspector-home")


@pytest.fixture(scope="module")
def http_url(fixture_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("fixture") / "server.log"
    with listening([str(fixture_binary), "--port", str(port)], port, log):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(params=["stdio", "http"])
def target(request: pytest.FixtureRequest, fixture_binary: Path) -> list[str]:
    """The inspector's server arguments for one transport."""
    if request.param == "stdio":
        return [str(fixture_binary), "--stdio"]
    return [request.getfixturevalue("http_url"), "--transport", "http"]


def inspect(home: Path, target: list[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Runs `inspector --cli --format json TARGET ARGS`; returns (exit code, the JSON envelope it printed)."""
    cmd = [_require("DM_NODE22"), _require("DM_INSPECTOR_BIN"), "--cli", "--format", "json", *target, *args]
    env = {**os.environ, "HOME": str(home), "CI": "true"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=env, stdin=subprocess.DEVNULL)
    out = proc.stdout.strip() or proc.stderr.strip()
    try:
        envelope = json.loads(out.splitlines()[-1]) if out else {}
    except json.JSONDecodeError:
        pytest.fail(f"inspector printed no JSON (exit {proc.returncode}): {proc.stdout}\n{proc.stderr}")
    return proc.returncode, envelope


def test_tools_list_names_the_fixture_tools(inspector_home: Path, target: list[str]) -> None:
    rc, env = inspect(inspector_home, target, "--method", "tools/list")
    assert rc == 0, env
    names = [t["name"] for t in env["result"]["tools"]]
    assert TOOLS <= set(names), f"missing: {sorted(TOOLS - set(names))}"
    assert len(names) == len(set(names)), names
    for tool in env["result"]["tools"]:
        assert tool["inputSchema"]["type"] == "object", tool


def test_tools_call_simple_text(inspector_home: Path, target: list[str]) -> None:
    rc, env = inspect(inspector_home, target, "--method", "tools/call", "--tool-name", "test_simple_text")
    assert rc == 0, env
    result = env["result"]
    assert not result.get("isError"), result
    assert result["content"] == [{"type": "text", "text": SIMPLE_TEXT}]


def test_tools_call_error_tool_reports_is_error(inspector_home: Path, target: list[str]) -> None:
    rc, env = inspect(inspector_home, target, "--method", "tools/call", "--tool-name", "test_error_handling")
    result = env.get("result", {})
    assert result.get("isError") is True, (rc, env)
    assert result["content"][0]["text"], result


def test_tools_call_wrong_argument_type_is_an_error_result(inspector_home: Path, target: list[str]) -> None:
    rc, env = inspect(
        inspector_home, target, "--method", "tools/call", "--tool-name", "test_sampling",
        "--tool-args-json", '{"prompt": 42}',
    )  # fmt: skip
    result = env.get("result", {})
    assert result.get("isError") is True, (rc, env)
    assert "prompt" in json.dumps(result["content"]), result


def test_unknown_tool_fails(inspector_home: Path, target: list[str]) -> None:
    rc, env = inspect(inspector_home, target, "--method", "tools/call", "--tool-name", "no_such_tool_d41d8")
    assert rc != 0, env
    assert "error" in env, env


def test_resources_list_and_read(inspector_home: Path, target: list[str]) -> None:
    rc, env = inspect(inspector_home, target, "--method", "resources/list")
    assert rc == 0, env
    uris = {r["uri"] for r in env["result"]["resources"]}
    assert {"test://static-text", "test://static-binary"} <= uris, uris
    rc, env = inspect(inspector_home, target, "--method", "resources/read", "--uri", "test://static-text")
    assert rc == 0, env
    content = env["result"]["contents"][0]
    assert content["uri"] == "test://static-text"
    assert content["mimeType"] == "text/plain"
    assert content["text"] == "This is the content of the static text resource."


def test_prompts_list_and_get(inspector_home: Path, target: list[str]) -> None:
    rc, env = inspect(inspector_home, target, "--method", "prompts/list")
    assert rc == 0, env
    names = {p["name"] for p in env["result"]["prompts"]}
    assert {"test_simple_prompt", "test_prompt_with_arguments"} <= names, names
    rc, env = inspect(inspector_home, target, "--method", "prompts/get", "--prompt-name", "test_simple_prompt")
    assert rc == 0, env
    message = env["result"]["messages"][0]
    assert message["role"] == "user"
    assert message["content"] == {"type": "text", "text": "This is a simple prompt for testing."}
