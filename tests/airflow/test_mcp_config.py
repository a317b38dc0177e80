"""`dagmedic mcp-config`: the configuration it writes for each MCP client actually starts (stdio) or reaches (HTTP)
dagmedic. Each file is written with --write into a temp folder, read back as the client would read it, and the
command or URL it names is used by the official Python MCP SDK to list the runbook tools. Needs no rig."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcpsession import DAGMEDIC, McpSession
from test_runbook_e2e import READ_TOOLS, STORE_WRITE_TOOLS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from local_server import free_port, listening  # noqa: E402

# client → (the file --write uses by default, relative to the project folder or HOME, and its server map key)
CLIENTS = {
    "claude-code": ("project", ".mcp.json", "mcpServers"),
    "vscode": ("project", ".vscode/mcp.json", "servers"),
    "cursor": ("home", ".cursor/mcp.json", "mcpServers"),
    "claude-desktop": ("home", ".config/Claude/claude_desktop_config.json", "mcpServers"),
}


def mcp_config(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run([str(DAGMEDIC), "mcp-config", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_the_written_stdio_entry_starts_dagmedic(tmp_path, client):
    where, rel, key = CLIENTS[client]
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    cfg = tmp_path / "dagmedic.yaml"
    cfg.write_text("server: {read_only: true}\n")
    # An existing file with another server: kept as it is.
    target = (project if where == "project" else home) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({key: {"other": {"command": "other-server"}}, "keep": 1}))
    r = mcp_config([client, "--write", "--config", str(cfg)], project, home)
    assert r.returncode == 0, r.stderr
    assert str(target) in r.stdout
    doc = json.loads(target.read_text())
    assert doc["keep"] == 1 and doc[key]["other"] == {"command": "other-server"}
    entry = doc[key]["dagmedic"]
    assert Path(entry["command"]).resolve() == DAGMEDIC.resolve()
    assert entry["args"][-2:] == ["--config", str(cfg)]
    # What the client would start: the entry's command and args. The config's read_only reaches the server.
    with McpSession(None, tmp_path / "serve-home", argv=[entry["command"], *entry["args"]]) as s:
        names = {t.name for t in s.list_tools()}
    assert READ_TOOLS <= names, sorted(READ_TOOLS - names)
    assert not names & {"trigger_dag", "clear_failed_tasks"}


async def list_over_http(url: str) -> set[str]:
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    async with streamable_http_client(url) as (read, write, *_):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return {t.name for t in (await session.list_tools()).tools}


def test_the_http_entries_reach_a_running_server(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    home = tmp_path / "home"
    home.mkdir()
    env_home = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state")}
    cmd = ["env", *(f"{k}={v}" for k, v in env_home.items()), str(DAGMEDIC), "serve", "--transport", "http",
           "--port", str(port)]
    with listening(cmd, port, tmp_path / "serve.log"):
        for client in ("claude-code", "vscode", "cursor"):
            r = mcp_config([client, "--http", url], tmp_path, home)
            assert r.returncode == 0, r.stderr
            entry = json.loads(r.stdout)[CLIENTS[client][2]]["dagmedic"]
            assert entry["url"] == url
            names = asyncio.run(list_over_http(entry["url"]))
            assert READ_TOOLS | STORE_WRITE_TOOLS <= names, client
        # Claude Desktop's file takes local commands only: the mcp-remote bridge to the same URL.
        r = mcp_config(["claude-desktop", "--http", url], tmp_path, home)
        assert json.loads(r.stdout)["mcpServers"]["dagmedic"]["args"][-1] == url


@pytest.mark.parametrize("args,why", [
    (["emacs"], "unknown client"),
    (["vscode", "--http", "ftp://x/mcp"], "http:// or https://"),
    (["vscode", "--file", "x.json"], "--file goes with --write"),
    (["cursor", "--http", "http://x/mcp", "--config", "c.yaml"], "--config is for a stdio server"),
])
def test_usage_errors_say_what_is_wrong(tmp_path, args, why):
    r = mcp_config(args, tmp_path, tmp_path)
    assert r.returncode == 2 and why in r.stderr, r.stderr


def test_a_broken_client_file_is_left_alone(tmp_path):
    target = tmp_path / ".mcp.json"
    target.write_text('{"mcpServers": {"a": ')
    r = mcp_config(["claude-code", "--write"], tmp_path, tmp_path)
    assert r.returncode == 1 and "not a JSON object" in r.stderr and str(target) in r.stderr
    assert target.read_text() == '{"mcpServers": {"a": '


def test_version_names_the_commit_and_build_type():
    r = subprocess.run([str(DAGMEDIC), "version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    assert r.stdout.startswith("dagmedic ") and "commit " in r.stdout and " build)" in r.stdout, r.stdout
