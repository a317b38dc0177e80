// Benchmark server (b): the official TypeScript SDK (@modelcontextprotocol/sdk) over Streamable HTTP on Node.
// Serves the same trivial tool as bench_server_main.cpp and py_server.py: `echo` {text: string} -> text "echo: <text>".
// Default: stateful sessions with JSON responses (enableJsonResponse), one McpServer + transport per session, as the
// SDK's jsonResponseStreamableHttp example does. --stateless: no sessions, a fresh McpServer + transport per POST,
// as its simpleStatelessStreamableHttp example does. node:http without express keeps the SDK's own cost in front.
// Usage: node ts_server.mjs --port N [--stateless]   (binds 127.0.0.1, endpoint /mcp). Run by bench/mcp/run.sh.
// Resolves the SDK from $DM_TS_SDK_PREFIX (dev/setup.d/30-node-tools.sh installs it there).
import http from 'node:http';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import path from 'node:path';

const prefix = process.env.DM_TS_SDK_PREFIX;
if (!prefix) {
  console.error('DM_TS_SDK_PREFIX is not set (source $DM_NODE_TOOLS/env.sh)');
  process.exit(2);
}
const require = createRequire(path.join(prefix, 'package.json'));
const { McpServer } = await import(require.resolve('@modelcontextprotocol/sdk/server/mcp.js'));
const { StreamableHTTPServerTransport } = await import(require.resolve('@modelcontextprotocol/sdk/server/streamableHttp.js'));
const { isInitializeRequest } = await import(require.resolve('@modelcontextprotocol/sdk/types.js'));
const { z } = await import(require.resolve('zod'));

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
const stateless = process.argv.includes('--stateless');

function newServer() {
  const server = new McpServer({ name: 'bench-ts', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echo the text back', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }] }),
  );
  return server;
}

const transports = new Map(); // session id -> transport

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function jsonError(res, status, message) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

const httpServer = http.createServer(async (req, res) => {
  try {
    if (new URL(req.url, 'http://x').pathname !== '/mcp') return jsonError(res, 404, 'not found');
    const sid = req.headers['mcp-session-id'];
    if (req.method === 'POST') {
      let body;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return jsonError(res, 400, 'parse error');
      }
      if (stateless) {
        const server = newServer();
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
        res.on('close', () => {
          transport.close();
          server.close();
        });
        await server.connect(transport);
        return await transport.handleRequest(req, res, body);
      }
      let transport = sid ? transports.get(sid) : undefined;
      if (!transport) {
        if (sid || !isInitializeRequest(body)) return jsonError(res, sid ? 404 : 400, 'bad session');
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: true,
          onsessioninitialized: (id) => transports.set(id, transport),
        });
        transport.onclose = () => transport.sessionId && transports.delete(transport.sessionId);
        await newServer().connect(transport);
      }
      return await transport.handleRequest(req, res, body);
    }
    if (stateless) return jsonError(res, 405, 'method not allowed');
    const transport = sid && transports.get(sid);
    if (!transport) return jsonError(res, 400, 'bad session');
    return await transport.handleRequest(req, res);
  } catch (e) {
    if (!res.headersSent) jsonError(res, 500, String(e));
  }
});
httpServer.keepAliveTimeout = 60_000;
httpServer.listen(port, '127.0.0.1', () => {
  console.error(`bench-ts listening on 127.0.0.1:${httpServer.address().port}`);
});
process.on('SIGTERM', () => httpServer.close(() => process.exit(0)));
