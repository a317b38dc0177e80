"""Fixtures for driving build/mcp-fixture-server with the official Python MCP SDK (PyPI `mcp`).

Every test runs over both transports: stdio (the SDK spawns `mcp-fixture-server --stdio`) and Streamable HTTP
(one `mcp-fixture-server --port N` on 127.0.0.1 per test module). The binary comes from $DM_BUILD (default
<repo>/build). A missing binary is an error, never a skip.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "lib"))
from local_server import free_port, listening  # noqa: E402

BUILD = Path(os.environ.get("DM_BUILD", REPO / "build"))
FIXTURE = BUILD / "mcp-fixture-server"
READ_TIMEOUT_S = 20.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def fixture_binary() -> Path:
    if not (FIXTURE.is_file() and os.access(FIXTURE, os.X_OK)):
        pytest.fail(f"{FIXTURE} is missing: build it (cmake --build $DM_BUILD --target mcp-fixture-server)")
    return FIXTURE


@contextmanager
def _http_fixture(binary: Path, log_dir: Path, extra_args: list[str]) -> Iterator[str]:
    """Runs `binary --port N *extra_args` on a free 127.0.0.1 port; yields its /mcp URL; always stops it."""
    port = free_port()
    with listening([str(binary), "--port", str(port), *extra_args], port, log_dir / "server.log"):
        yield f"http://127.0.0.1:{port}/mcp"


# The small page size `connect(page_size=SMALL_PAGE_SIZE)` starts the fixture with (`--page-size`).
SMALL_PAGE_SIZE = 2


@pytest.fixture(scope="module")
def http_url(fixture_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fixture server (default page size) on a free 127.0.0.1 port for the module."""
    with _http_fixture(fixture_binary, tmp_path_factory.mktemp("fixture"), []) as url:
        yield url


@pytest.fixture(scope="module")
def http_url_small_pages(fixture_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like http_url, with `--page-size SMALL_PAGE_SIZE`."""
    args = ["--page-size", str(SMALL_PAGE_SIZE)]
    with _http_fixture(fixture_binary, tmp_path_factory.mktemp("fixture-paged"), args) as url:
        yield url


@dataclass
class Recorder:
    """What the server sent the client besides responses: log messages and server→client requests."""

    logs: list[types.LoggingMessageNotificationParams] = field(default_factory=list)
    elicitations: list[Any] = field(default_factory=list)
    samplings: list[types.CreateMessageRequestParams] = field(default_factory=list)
    init: types.InitializeResult | None = None


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def connect(transport: str, fixture_binary: Path, request: pytest.FixtureRequest):
    """connect(elicit=None, sample=None, page_size=None) -> async context manager yielding (ClientSession, Recorder).

    `elicit(params) -> ElicitResult` / `sample(params) -> CreateMessageResult` answer server→client requests; when
    one is None the client does not declare that capability. The session is initialized before it is yielded;
    the InitializeResult is in Recorder.init. `page_size` None uses the server's default list page size;
    SMALL_PAGE_SIZE uses a server started with `--page-size SMALL_PAGE_SIZE` (no other value is offered).
    """

    @asynccontextmanager
    async def _connect(elicit=None, sample=None, page_size=None) -> AsyncIterator[tuple[ClientSession, Recorder]]:
        if page_size not in (None, SMALL_PAGE_SIZE):
            raise ValueError(f"page_size must be None or {SMALL_PAGE_SIZE}, not {page_size}")
        url = None
        if transport == "http":
            url = request.getfixturevalue("http_url" if page_size is None else "http_url_small_pages")
        rec = Recorder()

        async def on_log(params: types.LoggingMessageNotificationParams) -> None:
            rec.logs.append(params)

        async def on_elicit(ctx: ClientRequestContext, params: Any) -> types.ElicitResult:
            rec.elicitations.append(params)
            return elicit(params)

        async def on_sample(ctx: ClientRequestContext, params: types.CreateMessageRequestParams):
            rec.samplings.append(params)
            return sample(params)

        kwargs: dict[str, Any] = {"logging_callback": on_log, "read_timeout_seconds": READ_TIMEOUT_S}
        if elicit is not None:
            kwargs["elicitation_callback"] = on_elicit
        if sample is not None:
            kwargs["sampling_callback"] = on_sample

        if transport == "stdio":
            args = ["--stdio"] if page_size is None else ["--stdio", "--page-size", str(page_size)]
            params = StdioServerParameters(command=str(fixture_binary), args=args)
            streams = stdio_client(params)
        else:
            assert url is not None
            streams = streamable_http_client(url)
        async with streams as (read, write):
            async with ClientSession(read, write, **kwargs) as session:
                rec.init = await session.initialize()
                yield session, rec

    return _connect
