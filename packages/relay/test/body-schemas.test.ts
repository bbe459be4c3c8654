/**
 * Body schemas by room pattern (`--body-schemas`): a publish whose body does not match is refused
 * `bad_request` per message, over the socket and the HTTP API alike, naming the path that failed; a
 * matching body passes; rooms without a schema are not touched (not even parsed); a schema file that
 * cannot be used stops the CLI at startup with exit 2. Also prints what a check costs per message.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorKind } from '@partyline/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BodySchemas, createServerClient, PartylineApiError, type BodySchemaMap } from '../src/index.js';
import { connectClient, publish, startRelay, TEST_SECRET, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';
import { captureOutput, exitOf, runCli, startRelayProcess } from './support/relay-process.js';

const API_KEY = 'server-key-server-key-server-key-0123';
const SCHEMAS: BodySchemaMap = {
  'party:*': {
    chat: { type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: 500 } }, additionalProperties: false },
    '*': { type: 'object' },
  },
  'party:open': {},
};
const dir = mkdtempSync(join(tmpdir(), 'body-schemas-'));
const file = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

let relay: RunningRelay;
let socket: ClientSocket;

beforeAll(async () => {
  relay = await startRelay({ apiKeys: [API_KEY], bodySchemas: BodySchemas.compile(SCHEMAS) });
  socket = await connectClient(relay.url, await tokenFor('ana', ['*']));
});
afterAll(async () => {
  socket?.close();
  await relay?.relay.close();
});

describe('body schemas', () => {
  it('refuses a chat body that does not match over the socket, per message, naming the path; a matching one and other rooms pass', async () => {
    const ack = await publish(socket, 'party:a', [
      { id: 'good', body: JSON.stringify({ text: 'hello' }) },
      { id: 'wrong-type', body: JSON.stringify({ text: 42 }) },
      { id: 'extra', body: JSON.stringify({ text: 'hi', html: '<b>' }) },
      { id: 'not-json', body: 'hello' },
      { id: 'vote', type: 'vote', body: JSON.stringify({ option: 2 }) },
      { id: 'vote-bad', type: 'vote', body: '[1]' },
    ]);
    if (!ack.ok) throw new Error(ack.error.message);
    const byId = Object.fromEntries(ack.results.map((result) => [result.id, result]));
    expect(byId.good).toMatchObject({ seq: 1 });
    expect(byId.vote).toMatchObject({ seq: 2 });
    for (const id of ['wrong-type', 'extra', 'not-json', 'vote-bad']) expect(byId[id], id).toMatchObject({ error: { kind: ErrorKind.BadRequest, retryable: false } });
    const message = (id: string) => (byId[id] as { error: { message: string } }).error.message;
    expect(message('wrong-type')).toContain('party:* → chat at /text');
    expect(message('extra')).toContain('party:* → chat at /html');
    expect(message('not-json')).toContain('not JSON');
    expect(message('vote-bad')).toContain('party:* → *');

    // The most specific pattern decides: party:open has no schemas, other rooms none at all — any text goes, unparsed.
    for (const room of ['party:open', 'lobby:1']) {
      const free = await publish(socket, room, [{ id: 'x', body: 'not JSON at all' }]);
      expect(free.ok && free.results[0]).toMatchObject({ seq: 1 });
    }
  });

  it('refuses the same over HTTP: 400 bad_request for one message, a per-message error in a batch', async () => {
    const server = createServerClient({ url: relay.url, credential: API_KEY });
    const refused = await server.publish('party:h', { type: 'chat', body: { text: ['no'] } }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PartylineApiError);
    expect(refused).toMatchObject({ status: 400, error: { kind: ErrorKind.BadRequest } });
    expect((refused as PartylineApiError).error.message).toContain('at /text');
    expect(await server.publish('party:h', { type: 'chat', body: { text: 'yes' } })).toMatchObject({ seq: 1 });
    const batch = await server.publishBatch('party:h', [
      { id: 'b1', type: 'chat', body: { text: 'ok' } },
      { id: 'b2', type: 'chat', body: 'a string' },
    ]);
    expect(batch.results).toMatchObject([{ id: 'b1', seq: 2 }, { id: 'b2', error: { kind: ErrorKind.BadRequest } }]);
    expect(await server.publish('elsewhere', { type: 'chat', body: 'a string' })).toMatchObject({ seq: 1 });
  });

  it('takes --body-schemas / BODY_SCHEMAS in the CLI: a relay process refuses a non-matching body', async () => {
    const running = await startRelayProcess(['--token-secret', TEST_SECRET, '--api-keys', API_KEY], { BODY_SCHEMAS: file('ok.json', SCHEMAS) });
    try {
      const server = createServerClient({ url: running.url, credential: API_KEY });
      await expect(server.publish('party:cli', { type: 'chat', body: {} })).rejects.toMatchObject({ status: 400, error: { kind: ErrorKind.BadRequest } });
      expect(await server.publish('party:cli', { type: 'chat', body: { text: 'ok' } })).toMatchObject({ seq: 1 });
    } finally {
      await running.stop();
    }
  });

  it.each([
    ['not JSON', '{"party:*": ', 'not JSON'],
    ['not an object of types', { 'party:*': [1] }, 'party:*: expected an object of message types'],
    ['a bad room pattern', { 'pa*rty': {} }, 'room pattern "pa*rty"'],
    ['an unknown type name', { 'party:*': { chat: { properties: { text: { type: 'strng' } } } } }, 'party:* → chat/properties/text/type: unknown type "strng"'],
    ['a pattern that does not compile', { 'party:*': { chat: { pattern: '(' } } }, 'party:* → chat: pattern "("'],
    ['an unresolvable $ref', { 'party:*': { chat: { $ref: '#/$defs/missing' } } }, 'party:* → chat: Unresolved $ref'],
    ['a schema that is not an object', { 'party:*': { chat: 'string' } }, 'a JSON Schema is an object or a boolean'],
  ])('exits 2 with a clear message for a schema file with %s', async (_name, content, message) => {
    const child = runCli(['--token-secret', TEST_SECRET, '--body-schemas', file('bad.json', content)]);
    const output = captureOutput(child);
    expect(await exitOf(child)).toBe(2);
    expect(output.text()).toContain(`partyline-relay: --body-schemas ${join(dir, 'bad.json')}: `);
    expect(output.text()).toContain(message);
  });

  it('exits 2 for a schema file that cannot be read', async () => {
    const child = runCli(['--token-secret', TEST_SECRET, '--body-schemas', join(dir, 'missing.json')]);
    const output = captureOutput(child);
    expect(await exitOf(child)).toBe(2);
    expect(output.text()).toContain('--body-schemas: cannot read');
  });

  it('prints what checking a body costs (a micro-benchmark; nothing asserted on time)', () => {
    const schemas = BodySchemas.compile(SCHEMAS);
    const body = JSON.stringify({ text: 'Who brings the cake? I can do the balloons and some snacks.' });
    const runs = 20_000;
    const time = (room: string) => {
      const started = performance.now();
      for (let i = 0; i < runs; i++) if (schemas.check(room, 'chat', body)) throw new Error('refused');
      return ((performance.now() - started) * 1000) / runs;
    };
    time('party:warm');
    const checked = time('party:bench');
    const unchecked = time('lobby:bench');
    console.log(`body schema check per message (${body.length}-byte chat body): ${checked.toFixed(2)} µs with a schema (parse + validate), ${unchecked.toFixed(2)} µs in a room without one`);
    expect(checked).toBeGreaterThan(0);
  });
});
