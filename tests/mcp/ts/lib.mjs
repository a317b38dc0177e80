// Shared helpers for the TypeScript SDK v2 client tests (node:test, run by dev/test.d/23-mcp-ts.sh).
//
// The SDK is resolved from $DM_TS_SDK2_PREFIX (dev/setup.d/30-node-tools.sh installs @modelcontextprotocol/client and
// /server 2.4 there); the servers under test come from $DM_BUILD (default <repo>/build). A missing SDK or binary is a
// failure, never a skip.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync, closeSync, existsSync, accessSync, constants } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MODERN = '2026-07-28';
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BUILD = process.env.DM_BUILD || path.join(REPO, 'build');

const prefix = process.env.DM_TS_SDK2_PREFIX;
if (!prefix) throw new Error('DM_TS_SDK2_PREFIX is not set (source $DM_NODE_TOOLS/env.sh after dev/setup.d/30-node-tools.sh)');
const sdkRequire = createRequire(path.join(prefix, 'package.json'));
export const sdk = await import(sdkRequire.resolve('@modelcontextprotocol/client'));
const { StdioClientTransport } = await import(sdkRequire.resolve('@modelcontextprotocol/client/stdio'));
/** The installed client package's version (the tests check it is the pinned line). */
export const SDK_VERSION = JSON.parse(
  readFileSync(path.join(prefix, 'node_modules', '@modelcontextprotocol', 'client', 'package.json'), 'utf8'),
).version;

/** Path of an executable in $DM_BUILD; throws when it is missing. */
export function binary(name) {
  const p = path.join(BUILD, name);
  try {
    accessSync(p, constants.X_OK);
  } catch {
    throw new Error(`${p} is missing: build it (cmake --build $DM_BUILD --target ${name})`);
  }
  return p;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A private HOME (and XDG dirs) so no developer config or store is ever read; returns {dir, env}. It is made under
 * $DM_TS_TMP (dev/test.d/23-mcp-ts.sh points it into $DM_RESULTS and empties it per run; server logs stay there for
 * a failed run), else under the system temp folder.
 */
export function privateHome(tag) {
  const base = process.env.DM_TS_TMP || os.tmpdir();
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, `${tag}-`));
  const env = {
    HOME: dir,
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_STATE_HOME: path.join(dir, 'state'),
    XDG_CACHE_HOME: path.join(dir, 'cache'),
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  };
  return { dir, env };
}

/**
 * A dagmedic config with NO Airflow environment (and a SQLite store in `home`): every runbook tool is still
 * listed; calls that need Airflow answer isError, the others work.
 */
export function writeNoAirflowConfig(home) {
  const file = path.join(home, 'config.yaml');
  writeFileSync(file, ['version: 1', 'store:', '  backend: sqlite', `  path: ${path.join(home, 'store.db')}`, ''].join('\n'));
  return file;
}

/**
 * Starts `command ...args` (which must listen on 127.0.0.1:`port`), waits until the port accepts connections
 * (max 20 s). Returns {url, pid, log, stop}. stop() sends SIGTERM, waits up to 5 s, then SIGKILL.
 */
export async function startHttp(command, args, { port, env, logFile }) {
  const fd = openSync(logFile, 'w');
  const child = spawn(command, args, { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = null;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const stop = async () => {
    if (exited) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  };
  for (let i = 0; i < 200; i++) {
    if (exited) throw new Error(`${path.basename(command)} exited (${JSON.stringify(exited)}) before listening: ${readLog()}`);
    if (await canConnect(port)) return { url: `http://127.0.0.1:${port}/mcp`, pid: child.pid, log: readLog, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`${path.basename(command)} did not listen on 127.0.0.1:${port} within 20 s: ${readLog()}`);
}

/**
 * A fetch that records every HTTP exchange the SDK makes: {method, url, requestHeaders (Headers), body (parsed
 * JSON or null), status, responseHeaders (Headers), response (the parsed body of a JSON response, else null)}.
 */
export function recordingFetch(exchanges) {
  return async (url, init = {}) => {
    const res = await fetch(url, init);
    let body = null;
    if (typeof init.body === 'string') {
      try {
        body = JSON.parse(init.body);
      } catch {
        body = init.body;
      }
    }
    let response = null;
    if ((res.headers.get('content-type') ?? '').startsWith('application/json')) {
      try {
        response = await res.clone().json();
      } catch {
        response = null;
      }
    }
    exchanges.push({
      response,
      method: init.method ?? 'GET',
      url: String(url),
      requestHeaders: new Headers(init.headers),
      body,
      status: res.status,
      responseHeaders: res.headers,
    });
    return res;
  };
}

/**
 * A v2 Client pinned to 2026-07-28 (`versionNegotiation: {mode: {pin}}`: connect() sends server/discover and
 * fails unless the server offers exactly that revision), connected to `target`:
 *   {kind: 'stdio', command, args, env}  the SDK spawns the server (stderr to `stderrFile` when given)
 *   {kind: 'http', url, exchanges}      Streamable HTTP; every exchange is appended to `exchanges` when given
 * `capabilities` and `handlers` ({method: fn}) declare what the client can answer (elicitation, sampling, roots);
 * `clientOptions` is merged into the Client's options.
 */
export async function connectModern(target, { capabilities = {}, handlers = {}, clientOptions = {} } = {}) {
  const client = new sdk.Client(
    { name: 'dagmedic-ts-v2-tests', version: SDK_VERSION },
    { capabilities, versionNegotiation: { mode: { pin: MODERN } }, ...clientOptions },
  );
  for (const [method, fn] of Object.entries(handlers)) client.setRequestHandler(method, fn);
  let transport;
  if (target.kind === 'stdio') {
    transport = new StdioClientTransport({
      command: target.command,
      args: target.args,
      env: target.env,
      stderr: target.stderrFile ? openSync(target.stderrFile, 'a') : 'ignore',
    });
  } else {
    const opts = target.exchanges ? { fetch: recordingFetch(target.exchanges) } : {};
    transport = new sdk.StreamableHTTPClientTransport(new URL(target.url), opts);
  }
  await client.connect(transport, { timeout: 20000 });
  return client;
}

/** The text of the first text content block of a tool result ('' when none). */
export function firstText(result) {
  const c = (result.content ?? []).find((b) => b.type === 'text');
  return c ? c.text : '';
}
