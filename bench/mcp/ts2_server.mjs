// Benchmark server (b2): the official TypeScript SDK v2 (@modelcontextprotocol/server 2.4) over Streamable HTTP on
// Node, in its stateless mode: createMcpHandler(factory) builds a fresh McpServer for every request. 2026-07-28
// requests (with the `_meta` protocolVersion envelope) take its modern path, answered as one JSON body
// (responseMode 'json'); 2025-era requests take its default stateless legacy fallback (a fresh server and
// transport per request, no session; the SDK gives that leg no JSON option, so it answers on an SSE stream).
// Serves the same trivial tool as bench_server_main.cpp, ts_server.mjs and py_server.py:
// `echo` {text: string} -> text "echo: <text>". Mounted on node:http with the SDK's own adapter
// (toNodeHandler from @modelcontextprotocol/node), as its serving guide does for plain Node.
// Usage: node ts2_server.mjs --port N   (binds 127.0.0.1, endpoint /mcp). Run by bench/mcp/run.sh.
// Resolves the SDK from $DM_TS_SDK2_PREFIX (dev/setup.d/30-node-tools.sh installs it there).
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

const prefix = process.env.DM_TS_SDK2_PREFIX;
if (!prefix) {
  console.error('DM_TS_SDK2_PREFIX is not set (source $DM_NODE_TOOLS/env.sh)');
  process.exit(2);
}
const require = createRequire(path.join(prefix, 'package.json'));
const { McpServer, createMcpHandler } = await import(require.resolve('@modelcontextprotocol/server'));
const { toNodeHandler } = await import(require.resolve('@modelcontextprotocol/node'));
const { z } = await import(require.resolve('zod'));

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;

const echoInput = z.object({ text: z.string() });

function newServer() {
  const server = new McpServer({ name: 'bench-ts2', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echo the text back', inputSchema: echoInput },
    async ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }] }),
  );
  return server;
}

const handler = createMcpHandler(() => newServer(), {
  responseMode: 'json',
  onerror: (e) => console.error('bench-ts2:', e?.message ?? e),
});
const serve = toNodeHandler(handler);

function notFound(res) {
  res.writeHead(404, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'not found' }, id: null }));
}

const httpServer = http.createServer((req, res) => {
  if (new URL(req.url, 'http://x').pathname !== '/mcp') return notFound(res);
  serve(req, res).catch((e) => {
    if (!res.headersSent) res.writeHead(500);
    res.end(String(e));
  });
});
httpServer.keepAliveTimeout = 60_000;
httpServer.listen(port, '127.0.0.1', () => {
  console.error(`bench-ts2 listening on 127.0.0.1:${httpServer.address().port}`);
});
process.on('SIGTERM', () => {
  handler.close().finally(() => httpServer.close(() => process.exit(0)));
  setTimeout(() => process.exit(0), 2000).unref();
});
