"""`dagmedic serve` (stdio) driven by the official Python MCP client (PyPI `mcp`), from synchronous code.

    with McpSession(config_text, tmpdir) as s:
        r = s.call("list_recent_failures", {"window_minutes": 60})   # -> Call (is_error, text, structured, size)

The client's event loop runs in a background thread, so pytest fixtures (module/session scope) and plain sync tests
can share one server process. Every answer the server sends (tool results, tool lists, resources, prompts) is kept
in `McpSession.outputs` and in the module-wide `ALL_OUTPUTS`, so a test can scan everything a session returned (for
planted secrets, say). `rig_config()` writes the dagmedic config for a rig.json. Used by tests/airflow/test_runbook_*
and dev/demo; only the standard library and `mcp` are needed.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("DM_BUILD", ROOT / "build"))
DAGMEDIC = BUILD / "dagmedic"
CALL_TIMEOUT_S = 300.0  # a tool reading a 5 MB log on a busy 2-core machine

# Names of the variables the config points at for the rig's credentials (never written in the file).
USER_ENV, PASSWORD_ENV = "DM_E2E_AIRFLOW_USER", "DM_E2E_AIRFLOW_PASSWORD"

ALL_OUTPUTS: list[tuple[str, str]] = []  # (what, serialized answer) of every session in this process


@dataclass
class Call:
    tool: str
    arguments: dict
    is_error: bool
    text: str
    structured: Any
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes of what a model sees: every text block + structuredContent serialized compactly (as dagmedic does)."""
        n = len(self.text.encode())
        if self.structured is not None:
            n += len(json.dumps(self.structured, ensure_ascii=False, separators=(",", ":")).encode())
        return n

    def __getitem__(self, key: str) -> Any:
        assert not self.is_error, f"{self.tool} {self.arguments} failed: {self.text}"
        assert isinstance(self.structured, dict), f"{self.tool}: no structuredContent ({self.text[:300]})"
        return self.structured[key]


def rig_config(rig: dict, path: Path, store: Path, extra_yaml: str = "", caps: dict | None = None) -> dict[str, str]:
    """Writes a dagmedic config for the rig at `path` (environment `rig`, SQLite store at `store`); returns the
    environment variables holding the credentials, for McpSession(env=...)."""
    caps = {"window_minutes_max": 10080, "output_bytes_max": 16384, "lookback_hours_max": 168, **(caps or {})}
    lines = [
        "version: 1",
        "defaults:",
        "  environment: rig",
        "  lookback_hours: 168",
        "caps:",
        *[f"  {k}: {v}" for k, v in caps.items()],
        "environments:",
        "  rig:",
        "    kind: airflow",
        "    tier: dev",
        f"    url: {rig['url']}",
        f"    api_version: {rig['api_version']}",
        f"    username_env: {USER_ENV}",
        f"    password_env: {PASSWORD_ENV}",
        "    timeouts: {connect_seconds: 10, request_seconds: 120}",
        "store:",
        "  backend: sqlite",
        f"  path: {store}",
    ]
    path.write_text("\n".join(lines) + "\n" + extra_yaml)
    return {USER_ENV: rig["username"], PASSWORD_ENV: rig["password"]}


class McpSession:
    """One `dagmedic serve --transport stdio` process and one initialized ClientSession, usable from sync code.

    `config`: path of the config file, or None to run with no config at all (HOME, XDG_* point into `home`, so no
    default file is found). `env`: extra variables for the server. Always close() (or use `with`)."""

    def __init__(self, config: Path | None, home: Path, env: dict[str, str] | None = None,
                 binary: Path | None = None, sampling=None, argv: list[str] | None = None,
                 serve_args: list[str] | None = None):
        """`argv` runs another stdio MCP server instead of dagmedic (bench/journey); `config` is then ignored.
        `serve_args`: more arguments for `dagmedic serve` (e.g. ["--watch"])."""
        self.binary = Path(argv[0] if argv else (binary or DAGMEDIC))
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            raise AssertionError(f"{self.binary} is missing" +
                                 ("" if argv else ": cmake --build $DM_BUILD --target dagmedic"))
        home.mkdir(parents=True, exist_ok=True)
        if argv:
            self.args = list(argv[1:])
        else:
            self.args = (["serve", "--transport", "stdio"] + (["--config", str(config)] if config else [])
                         + list(serve_args or []))
        self.env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
                    "XDG_CACHE_HOME": str(home / "cache"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    **(env or {})}
        self.stderr_path = home / "dagmedic-serve.stderr"
        self.sampling = sampling
        self.outputs: list[tuple[str, str]] = []
        self.calls: list[Call] = []
        self.notifications: list[tuple[str, dict]] = []  # (method, params) of every server notification
        self._notified = threading.Condition()
        self.init = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-client", daemon=True)
        self._thread.start()
        self._ready = asyncio.run_coroutine_threadsafe(self._prepare(), self._loop).result(30)
        self._stop: asyncio.Event | None = None
        self._session = None
        self._runner = asyncio.run_coroutine_threadsafe(self._run(), self._loop)
        try:
            self._ready_wait(60)
        except BaseException:
            self.close()
            raise

    async def _prepare(self):
        return asyncio.Event()

    def _ready_wait(self, timeout: float) -> None:
        fut = asyncio.run_coroutine_threadsafe(asyncio.wait_for(self._wait_ready(), timeout), self._loop)
        try:
            fut.result(timeout + 5)
        except Exception as e:
            if self._runner.done() and self._runner.exception():
                raise AssertionError(f"dagmedic serve did not start: {self._runner.exception()!r}; stderr: "
                                     f"{self.stderr()[-2000:]}") from e
            raise

    async def _wait_ready(self) -> None:
        while not self._ready.is_set():
            if self._runner.done():
                exc = self._runner.exception()
                raise AssertionError(f"dagmedic serve exited during initialize: {exc!r}; {self.stderr()[-2000:]}")
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        import mcp_types as types
        from mcp.client.session import ClientSession
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=str(self.binary), args=self.args, env=self.env)
        kwargs: dict[str, Any] = {"read_timeout_seconds": CALL_TIMEOUT_S}

        async def on_message(m) -> None:
            if isinstance(m, Exception) or not hasattr(m, "method"):
                return
            params = getattr(m, "params", None)
            p = params.model_dump(mode="json", by_alias=True, exclude_none=True) if params is not None else {}
            with self._notified:
                self.notifications.append((m.method, p))
                self._notified.notify_all()

        kwargs["message_handler"] = on_message
        if self.sampling is not None:
            async def on_sample(ctx, p: types.CreateMessageRequestParams):
                return self.sampling(p)
            kwargs["sampling_callback"] = on_sample
        self._stop = asyncio.Event()
        with open(self.stderr_path, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write, **kwargs) as session:
                    self.init = await session.initialize()
                    self._session = session
                    self._ready.set()
                    await self._stop.wait()

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def _do(self, coro_fn, timeout: float = CALL_TIMEOUT_S):
        if self._runner.done():
            raise AssertionError(f"dagmedic serve is gone: {self._runner.exception()!r}; stderr: {self.stderr()[-2000:]}")

        async def wrapped():
            return await coro_fn(self._session)

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result(timeout + 10)

    def _keep(self, what: str, payload: str) -> None:
        self.outputs.append((what, payload))
        ALL_OUTPUTS.append((what, payload))

    # ---- requests

    def call(self, tool: str, arguments: dict | None = None) -> Call:
        """tools/call; returns the result (isError results too). Protocol errors raise mcp's MCPError."""
        args = dict(arguments or {})
        r = self._do(lambda s: s.call_tool(tool, args))
        raw = r.model_dump(mode="json", by_alias=True, exclude_none=True)
        self._keep(f"tools/call {tool} {json.dumps(args)}", json.dumps(raw, ensure_ascii=False))
        text = "\n".join(c.get("text", "") for c in raw.get("content", []) if c.get("type") == "text")
        c = Call(tool, args, bool(r.is_error), text, r.structured_content, raw)
        self.calls.append(c)
        return c

    def list_tools(self) -> list:
        tools, cursor = [], None
        while True:
            import mcp_types as types

            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = self._do(lambda s: s.list_tools(params=params))
            self._keep("tools/list", page.model_dump_json(by_alias=True, exclude_none=True))
            tools += page.tools
            cursor = page.next_cursor
            if not cursor:
                return tools

    def read_resource(self, uri: str) -> str:
        r = self._do(lambda s: s.read_resource(uri))
        raw = r.model_dump(mode="json", by_alias=True, exclude_none=True)
        self._keep(f"resources/read {uri}", json.dumps(raw, ensure_ascii=False))
        return "\n".join(c.get("text", "") for c in raw.get("contents", []))

    def subscribe(self, uri: str) -> None:
        """resources/subscribe (2025-11-25)."""
        self._do(lambda s: s.subscribe_resource(uri))

    def wait_notification(self, pred, timeout: float, since: int = 0) -> tuple[str, dict] | None:
        """The first notification (method, params) from self.notifications[since:] for which pred(method, params)
        holds, waiting up to `timeout` seconds for it; None if none came."""
        with self._notified:
            found: list = []

            def match() -> bool:
                found[:] = [n for n in self.notifications[since:] if pred(*n)][:1]
                return bool(found)

            self._notified.wait_for(match, timeout)
            return found[0] if found else None

    def list_resources(self) -> list:
        r = self._do(lambda s: s.list_resources())
        self._keep("resources/list", r.model_dump_json(by_alias=True, exclude_none=True))
        return r.resources

    def get_prompt(self, name: str, arguments: dict[str, str]) -> str:
        r = self._do(lambda s: s.get_prompt(name, arguments))
        raw = r.model_dump(mode="json", by_alias=True, exclude_none=True)
        self._keep(f"prompts/get {name}", json.dumps(raw, ensure_ascii=False))
        return json.dumps(raw, ensure_ascii=False)

    # ---- lifetime

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        try:
            self._runner.result(30)
        except Exception:  # noqa: BLE001 - the server may already be gone; we only want it stopped
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> "McpSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
