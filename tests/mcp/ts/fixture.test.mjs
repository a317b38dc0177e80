// The TypeScript SDK v2 client (@modelcontextprotocol/client 2.4), pinned to 2026-07-28, drives multi round-trip
// requests (input_required results) against $DM_BUILD/mcp-fixture-server over stdio and Streamable HTTP: the SDK
// answers the embedded elicitation / sampling requests through its registered handlers and retries with the
// answers and the sealed requestState; in manual mode the test retries itself, and a changed or misused
// requestState is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { MODERN, binary, connectModern, firstText, freePort, privateHome, sdk, startHttp } from './lib.mjs';

const FORM = { elicitation: { form: {} } };

for (const kind of ['stdio', 'http']) {
  describe(`mcp-fixture-server over ${kind}: input_required through the TypeScript SDK v2 client`, () => {
    let home;
    let server = null;
    let target;
    const open = []; // clients to close

    before(async () => {
      home = privateHome(`fixture-${kind}`);
      const fixture = binary('mcp-fixture-server');
      if (kind === 'stdio') {
        target = { kind, command: fixture, args: ['--stdio'], env: home.env, stderrFile: path.join(home.dir, 'fixture.stderr') };
      } else {
        const port = await freePort();
        server = await startHttp(fixture, ['--port', String(port)],
          { port, env: home.env, logFile: path.join(home.dir, 'fixture.log') });
        target = { kind, url: server.url };
      }
    });

    after(async () => {
      for (const c of open) await c.close();
      await server?.stop();
    });

    // A client pinned to 2026-07-28 whose elicitation handler answers from `answers` (by message, in order of
    // calls when a function) and records every elicitation it was asked.
    async function client({ capabilities = FORM, elicit, sample, clientOptions, exchanges } = {}) {
      const asked = { elicitations: [], samplings: [] };
      const handlers = {};
      if (elicit) {
        handlers['elicitation/create'] = async (req) => {
          asked.elicitations.push(req.params);
          return elicit(req.params);
        };
      }
      if (sample) {
        handlers['sampling/createMessage'] = async (req) => {
          asked.samplings.push(req.params);
          return sample(req.params);
        };
      }
      const c = await connectModern({ ...target, exchanges }, { capabilities, handlers, clientOptions });
      open.push(c);
      assert.equal(c.getNegotiatedProtocolVersion(), MODERN);
      return { c, asked };
    }

    test('an elicitation asked through input_required is answered by the SDK and the call completes', async () => {
      const exchanges = kind === 'http' ? [] : undefined;
      const { c, asked } = await client({ exchanges, elicit: () => ({ action: 'accept', content: { name: 'Ada' } }) });
      const r = await c.callTool({ name: 'test_input_required_result_elicitation', arguments: {} });
      assert.notEqual(r.isError, true);
      assert.equal(firstText(r), 'Hello, Ada!');
      assert.equal(asked.elicitations.length, 1);
      const e = asked.elicitations[0];
      assert.equal(e.mode, 'form');
      assert.equal(e.message, 'What is your name?');
      assert.deepEqual(e.requestedSchema.required, ['name']);
      assert.equal(e.requestedSchema.properties.name.type, 'string');
      if (exchanges) {
        // Two stateless POSTs: the first answered input_required, the retry carried the answer on a fresh id.
        const calls = exchanges.filter((x) => x.body?.method === 'tools/call');
        assert.equal(calls.length, 2, JSON.stringify(calls.map((x) => x.body)));
        const [first, retry] = calls;
        assert.equal(first.status, 200);
        assert.equal(first.response?.result?.resultType, 'input_required', JSON.stringify(first.response));
        assert.equal(first.response.result.inputRequests.user_name.method, 'elicitation/create');
        assert.notEqual(retry.body.id, first.body.id);
        assert.deepEqual(retry.body.params.inputResponses?.user_name, { action: 'accept', content: { name: 'Ada' } });
        assert.equal(retry.response?.result?.resultType, 'complete', JSON.stringify(retry.response));
        for (const x of calls) assert.equal(x.responseHeaders.get('mcp-session-id'), null);
      }
    });

    test('two rounds carry what the first taught the server in the requestState', async () => {
      const answers = [{ name: 'Ada' }, { color: 'green' }];
      const { c, asked } = await client({ elicit: () => ({ action: 'accept', content: answers.shift() }) });
      const r = await c.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
      assert.equal(firstText(r), 'Ada likes green');
      assert.deepEqual(asked.elicitations.map((e) => e.message),
        ['Step 1: What is your name?', 'Step 2: What is your favorite color?']);
    });

    test('the sealed requestState comes back intact through the SDK', async () => {
      const { c } = await client({ elicit: () => ({ action: 'accept', content: { ok: true } }) });
      const r = await c.callTool({ name: 'test_input_required_result_request_state', arguments: {} });
      assert.equal(firstText(r), 'state-ok: the requestState came back intact');
    });

    test('a sampling request through input_required is answered by the SDK', async () => {
      const { c, asked } = await client({
        capabilities: { sampling: {} },
        sample: () => ({ model: 'test-model', role: 'assistant', content: { type: 'text', text: 'Paris' } }),
      });
      const r = await c.callTool({ name: 'test_input_required_result_sampling', arguments: {} });
      assert.equal(firstText(r), 'The model said: Paris');
      assert.equal(asked.samplings.length, 1);
      assert.equal(asked.samplings[0].messages[0].content.text, 'What is the capital of France?');
      assert.equal(asked.samplings[0].maxTokens, 100);
    });

    test('the server asks only for what the client declared', async () => {
      const { c: bare } = await client({ capabilities: {} });
      const none = await bare.callTool({ name: 'test_input_required_result_capabilities', arguments: {} });
      assert.equal(firstText(none), 'nothing to ask this client');
      const { c, asked } = await client({ elicit: () => ({ action: 'accept', content: { name: 'Ada' } }) });
      const r = await c.callTool({ name: 'test_input_required_result_capabilities', arguments: {} });
      assert.equal(firstText(r), 'thanks');
      assert.equal(asked.elicitations.length, 1); // no sampling, no roots: not declared
    });

    test('a client without the elicitation capability gets -32021 whose data and message name it', async () => {
      const { c } = await client({ capabilities: {} });
      await assert.rejects(c.callTool({ name: 'test_input_required_result_elicitation', arguments: {} }), (e) => {
        assert.ok(e instanceof sdk.MissingRequiredClientCapabilityError, `${e?.constructor?.name}: ${e?.message}`);
        assert.equal(e.code, -32021);
        assert.deepEqual(Object.keys(e.data?.requiredCapabilities ?? {}), ['elicitation']);
        // The message names what is missing (today it reads "Missing required client capability: null").
        assert.match(e.message, /elicitation/);
        return true;
      });
    });

    // Manual mode (autoFulfill: false): the caller gets the input_required result (allowInputRequired) and retries.
    const MANUAL_TOOL = 'test_input_required_result_tampered_state';
    const ANSWER = { confirm: { action: 'accept', content: { ok: true } } };
    let manual = null; // {c, first}: one manual client and its first answer, made by the first test that needs it
    async function manualFirst() {
      manual ??= (async () => {
        const { c } = await client({ clientOptions: { inputRequired: { autoFulfill: false } } });
        const first = await c.callTool({ name: MANUAL_TOOL, arguments: {} }, { allowInputRequired: true });
        return { c, first };
      })();
      return manual;
    }

    test('manual mode: the input_required result reaches the caller with its requests and a sealed state', async () => {
      const { first } = await manualFirst();
      assert.equal(first.resultType, 'input_required');
      assert.equal(first.inputRequests?.confirm?.method, 'elicitation/create');
      assert.equal(first.inputRequests.confirm.params.message, 'Please confirm');
      assert.match(first.requestState ?? '', /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    });

    test('manual mode: the retry with the answers and the state completes', async () => {
      const { c, first } = await manualFirst();
      const r = await c.callTool({ name: MANUAL_TOOL, arguments: {}, inputResponses: ANSWER, requestState: first.requestState });
      assert.equal(firstText(r), 'state verified');
    });

    test('manual mode: a changed requestState is refused (-32602)', async () => {
      const { c, first } = await manualFirst();
      const [body, mac] = first.requestState.split('.');
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      claims.p = { issued: 'by someone else' };
      const forged = `${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}`;
      await assert.rejects(
        c.callTool({ name: MANUAL_TOOL, arguments: {}, inputResponses: ANSWER, requestState: forged }),
        (e) => e instanceof sdk.ProtocolError && e.code === -32602 && /requestState refused/.test(e.message),
      );
    });

    test('manual mode: a requestState used for another tool or other arguments is refused (-32602)', async () => {
      const { c, first } = await manualFirst();
      for (const params of [
        { name: 'test_input_required_result_request_state', arguments: {} },
        { name: MANUAL_TOOL, arguments: { extra: 1 } },
      ]) {
        await assert.rejects(
          c.callTool({ ...params, inputResponses: ANSWER, requestState: first.requestState }),
          (e) => e instanceof sdk.ProtocolError && e.code === -32602 && /another request/.test(e.message),
          JSON.stringify(params),
        );
      }
    });
  });
}
