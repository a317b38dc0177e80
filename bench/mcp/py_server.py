"""Benchmark server (c): the official Python SDK's MCPServer (FastMCP's name since mcp 2.0) over Streamable HTTP.

Serves the same trivial tool as bench_server_main.cpp and ts_server.mjs: `echo` {text: str} -> "echo: <text>".
Stateful sessions with JSON responses (json_response=True), uvicorn, one process; --stateless adds stateless_http=True.
Usage: python py_server.py --port N [--stateless]   (binds 127.0.0.1, endpoint /mcp). Run by bench/mcp/run.sh only.
"""

import argparse

from mcp.server.mcpserver import MCPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stateless", action="store_true")
    args = parser.parse_args()

    server = MCPServer("bench-py", version="1.0.0", log_level="WARNING")

    @server.tool(description="Echo the text back")
    def echo(text: str) -> str:
        return f"echo: {text}"

    server.run("streamable-http", host="127.0.0.1", port=args.port, json_response=True, stateless_http=args.stateless)


if __name__ == "__main__":
    main()
