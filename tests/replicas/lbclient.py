"""The official Python MCP SDK's `mcp.Client` in 2026-07-28 mode over Streamable HTTP to ONE url (HAProxy's), usable
from synchronous pytest code, noting which replica answered each HTTP request.

    with LbClient(url) as c:
        r = c.call("list_recent_failures", {"window_minutes": 60})   # -> Answer(result fields…, replica="r1")

The SDK takes the `httpx2.AsyncClient` it talks through (`streamable_http_client(url, http_client=…)`); ours has a
response event hook that records, for every HTTP exchange, the request's `Mcp-Method` / `Mcp-Name` headers (set by
the SDK on 2026-07-28 requests), the status and the `X-Dm-Replica` header HAProxy adds. `call()` returns the replica
of the `tools/call` exchange it caused. The client's event loop runs in a background thread (as
tests/airflow/mcpsession.py does for stdio), so module-scoped fixtures can hold one client across tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

MODERN = "2026-07-28"
CALL_TIMEOUT_S = 180.0


@dataclass
class Exchange:
    method: str          # Mcp-Method of the request ("" when absent)
    name: str            # Mcp-Name of the request ("" when absent)
    status: int
    replica: str         # X-Dm-Replica of the response ("" when absent)


@dataclass
class Answer:
    tool: str
    arguments: dict
    is_error: bool
    text: str
    structured: Any
    replica: str
    raw: dict = field(repr=False, default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        assert not self.is_error, f"{self.tool} {self.arguments} (via {self.replica}) failed: {self.text}"
        assert isinstance(self.structured, dict), f"{self.tool}: no structuredContent ({self.text[:300]})"
        return self.structured[key]


class LbClient:
    def __init__(self, url: str, client_name: str = "replicas-e2e"):
        self.url, self.client_name = url, client_name
        self.exchanges: list[Exchange] = []
        # Answers elicitation requests (2026-07-28 input_required, e.g. an approval form): a callable taking the
        # request's params and returning (action, content); None cancels, leaving the approval as it was.
        self.elicit = None
        self.elicited: list[dict] = []
        self.answers: list[Answer] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-lb-client", daemon=True)
        self._thread.start()
        self._client = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._runner = asyncio.run_coroutine_threadsafe(self._run(), self._loop)
        if not self._ready.wait(60) or self._runner.done():
            exc = self._runner.exception() if self._runner.done() else None
            self.close()
            raise AssertionError(f"the MCP client did not connect to {url}: {exc!r}")

    async def _on_response(self, response) -> None:
        h = response.request.headers
        self.exchanges.append(Exchange(h.get("mcp-method", ""), h.get("mcp-name", ""), response.status_code,
                                       response.headers.get("x-dm-replica", "")))

    async def _on_elicit(self, _ctx, params):
        import mcp_types as types

        raw = params.model_dump(mode="json", by_alias=True, exclude_none=True)
        self.elicited.append(raw)
        if self.elicit is None:
            return types.ElicitResult(action="cancel")
        action, content = self.elicit(raw)
        return types.ElicitResult(action=action, content=content)

    async def _run(self) -> None:
        import httpx2
        import mcp_types as types
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        self._stop = asyncio.Event()
        timeout = httpx2.Timeout(30.0, read=CALL_TIMEOUT_S)
        async with httpx2.AsyncClient(timeout=timeout, event_hooks={"response": [self._on_response]}) as http:
            transport = streamable_http_client(self.url, http_client=http)
            async with Client(transport, mode=MODERN, read_timeout_seconds=CALL_TIMEOUT_S, cache=None,
                              elicitation_callback=self._on_elicit,
                              client_info=types.Implementation(name=self.client_name, version="1.0")) as client:
                self._client = client
                self._ready.set()
                await self._stop.wait()

    def _do(self, coro_fn, timeout: float = CALL_TIMEOUT_S):
        if self._runner.done():
            raise AssertionError(f"the MCP client is gone: {self._runner.exception()!r}")
        return asyncio.run_coroutine_threadsafe(coro_fn(self._client), self._loop).result(timeout + 10)

    # ---- requests

    def call(self, tool: str, arguments: dict | None = None) -> Answer:
        """tools/call; isError results are returned (protocol errors raise). `replica` = who answered the call."""
        args = dict(arguments or {})
        mark = len(self.exchanges)
        r = self._do(lambda c: c.call_tool(tool, args))
        mine = [e for e in self.exchanges[mark:] if e.method == "tools/call" and e.name == tool]
        assert mine, f"no tools/call {tool} exchange was seen by the HTTP hook: {self.exchanges[mark:]}"
        raw = r.model_dump(mode="json", by_alias=True, exclude_none=True)
        text = "\n".join(c.get("text", "") for c in raw.get("content", []) if c.get("type") == "text")
        a = Answer(tool, args, bool(r.is_error), text, r.structured_content, mine[-1].replica, raw)
        self.answers.append(a)
        return a

    def list_tools(self) -> tuple[list, str]:
        mark = len(self.exchanges)
        r = self._do(lambda c: c.list_tools())
        mine = [e for e in self.exchanges[mark:] if e.method == "tools/list"]
        return r.tools, (mine[-1].replica if mine else "")

    def read_resource(self, uri: str) -> tuple[str, str]:
        mark = len(self.exchanges)
        r = self._do(lambda c: c.read_resource(uri))
        raw = r.model_dump(mode="json", by_alias=True, exclude_none=True)
        mine = [e for e in self.exchanges[mark:] if e.method == "resources/read"]
        return "\n".join(c.get("text", "") for c in raw.get("contents", [])), (mine[-1].replica if mine else "")

    def last_replica(self) -> str:
        return self.exchanges[-1].replica if self.exchanges else ""

    def dump(self) -> str:
        return json.dumps([e.__dict__ for e in self.exchanges])

    # ---- lifetime

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        try:
            self._runner.result(30)
        except Exception:  # noqa: BLE001 - the stack may already be gone; we only want the client closed
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> "LbClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
