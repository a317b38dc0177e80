"""Holds many concurrently open SSE streams against an MCP Streamable HTTP server and watches its RSS and threads.

For each stream: its own TCP connection and session (POST initialize, POST notifications/initialized), then
GET /mcp with Accept: text/event-stream; a stream counts as open once the 200 response headers and the first
event (the priming event of revision 2025-11-25) arrived. Samples /proc/PID/status (VmRSS, Threads) of the server
before, with every stream open (and again after a hold), and after closing them all. Stdlib only; prints one JSON
object. Usage: python sse_streams.py --url http://127.0.0.1:PORT/mcp --pid PID [--streams 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from urllib.parse import urlsplit

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "sse-bench", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                out[key] = int(value.split()[0])
    return {"rss_kb": out["VmRSS"], "threads": out["Threads"]}


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Reads one HTTP/1.1 response with a Content-Length body (or none); returns status, headers, body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    return status, headers, body


def post(host: str, path: str, message: dict, session: str | None) -> bytes:
    body = json.dumps(message).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
        f"Content-Length: {len(body)}",
    ]
    if session:
        lines += [f"Mcp-Session-Id: {session}", "MCP-Protocol-Version: 2025-11-25"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Stream:
    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.reader: asyncio.StreamReader | None = None

    async def open(self, hostname: str, port: int, host: str, path: str) -> None:
        self.reader, self.writer = await asyncio.open_connection(hostname, port)
        self.writer.write(post(host, path, INIT, None))
        status, headers, _ = await read_response(self.reader)
        if status != 200 or "mcp-session-id" not in headers:
            raise RuntimeError(f"initialize: HTTP {status}")
        session = headers["mcp-session-id"]
        self.writer.write(post(host, path, INITIALIZED, session))
        status, _, _ = await read_response(self.reader)
        if status != 202:
            raise RuntimeError(f"initialized: HTTP {status}")
        get = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
            f"Mcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n"
        )
        self.writer.write(get.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200") or b"text/event-stream" not in head.lower():
            raise RuntimeError(f"GET: {head[:60]!r}")
        # The first SSE event (priming: an id and empty data). Chunked framing may wrap it; look for the blank line.
        buf = b""
        while b"\n\n" not in buf.replace(b"\r\n", b"\n"):
            chunk = await self.reader.read(4096)
            if not chunk:
                raise RuntimeError("stream closed before its first event")
            buf += chunk

    def alive(self) -> bool:
        return self.writer is not None and not self.writer.is_closing() and not self.reader.at_eof()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=3.0, help="seconds to hold them all open")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.streams + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    u = urlsplit(args.url)
    host = u.netloc
    report: dict = {"streams_requested": args.streams, "before": proc_status(args.pid)}
    streams = [Stream() for _ in range(args.streams)]
    gate = asyncio.Semaphore(64)  # open in waves so the test measures holding streams, not a connect storm
    errors: list[str] = []

    async def open_one(s: Stream) -> None:
        async with gate:
            try:
                await asyncio.wait_for(s.open(u.hostname, u.port, host, u.path), 30)
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                errors.append(f"{type(e).__name__}: {e}")

    t0 = time.monotonic()
    await asyncio.gather(*(open_one(s) for s in streams))
    report["open_seconds"] = round(time.monotonic() - t0, 2)
    report["opened"] = sum(s.alive() for s in streams)
    report["open_errors"] = errors[:5]
    report["error_count"] = len(errors)
    report["all_open"] = proc_status(args.pid)
    await asyncio.sleep(args.hold)
    report["still_open_after_hold"] = sum(s.alive() for s in streams)
    report["after_hold"] = proc_status(args.pid)
    await asyncio.gather(*(s.close() for s in streams))
    await asyncio.sleep(1.0)
    report["after_close"] = proc_status(args.pid)
    print(json.dumps(report))
    return 0 if report["still_open_after_hold"] == args.streams else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
