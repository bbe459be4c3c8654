/**
 * The HTTP API for app backends, against two relays over a real Redis: publishes with an
 * Idempotency-Key are appended once, reach socket members and history like socket publishes, and
 * interleave with them in one order; typed errors with HTTP statuses; the OpenAPI document names
 * exactly the served routes and describes what they really answer.
 */
import { ErrorKind, type RoomPage } from '@partyline/protocol';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerClient, PartylineApiError, signAccessToken, type ApiMessage } from '../src/index.js';
import { OPENAPI, ROUTES } from '../src/http-api.js';
import { collectMessages, connectClient, publish, request, startRelay, TEST_SECRET, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';
import { schemaProblems } from './support/json-schema.js';

const API_KEY = 'server-key-server-key-server-key-0123';
let redis: RedisServer;
let relays: RunningRelay[];
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const options = { redisUrl: redis.url, apiKeys: [API_KEY] };
  relays = [await startRelay(options), await startRelay(options)];
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const { relay } of relays ?? []) await relay.close();
  await redis?.stop();
});

const post = (url: string, room: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/rooms/${room}/messages`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('HTTP API', () => {
  it('appends a POST with an Idempotency-Key once, however often it is repeated, on any relay; a socket member gets it; history has it', async () => {
    const member = await connectClient(relays[1]!.url, await tokenFor('ana', ['party:*']));
    sockets.push(member);
    const live = collectMessages(member);
    expect((await request(member, 'room:join', { room: 'party:http' })).ok).toBe(true);
    const answers = [];
    for (const url of [relays[0]!.url, relays[1]!.url, relays[0]!.url]) {
      const response = await post(url, 'party:http', { type: 'system', body: { text: 'Party created' } }, { 'idempotency-key': 'created-42' });
      answers.push({ status: response.status, body: (await response.json()) as Record<string, unknown> });
    }
    expect(answers.map((a) => a.status)).toEqual([201, 200, 200]);
    expect(new Set(answers.map((a) => a.body.seq))).toEqual(new Set([1]));
    expect(answers.slice(1).every((a) => a.body.duplicate === true)).toBe(true);
    await waitFor(() => live.length === 1, 'the socket member to get the HTTP message');
    expect(live[0]).toMatchObject({ seq: 1, id: 'created-42', type: 'system', sender: 'server', body: '{"text":"Party created"}' });
    const client = createServerClient({ url: relays[1]!.url, credential: API_KEY });
    const page = await client.history('party:http', { last: 10 });
    expect(page.messages.map((m) => m.id)).toEqual(['created-42']);
  });

  it('interleaves HTTP and socket publishes over two relays in one order, without duplicates', async () => {
    const socket = await connectClient(relays[0]!.url, await tokenFor('bob', ['party:*']));
    sockets.push(socket);
    const server = createServerClient({ url: relays[1]!.url, credential: API_KEY });
    await Promise.all([
      (async () => {
        for (let i = 0; i < 100; i++) await publish(socket, 'party:mixed', [{ id: `sock-${i}` }]);
      })(),
      (async () => {
        for (let i = 0; i < 100; i++) {
          // Each HTTP publish retried once: still one append.
          await server.publish('party:mixed', { type: 'chat', body: { i } }, { idempotencyKey: `http-${i}` });
          await server.publish('party:mixed', { type: 'chat', body: { i } }, { idempotencyKey: `http-${i}` });
        }
      })(),
    ]);
    const log: ApiMessage[] = [];
    for (let since = 0; ; ) {
      const page = await server.history('party:mixed', { since });
      log.push(...page.messages);
      if (!page.hasMore) break;
      since = page.messages.at(-1)!.seq;
    }
    expect(log.map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(log.map((m) => m.id)).size).toBe(200);
  });

  it('answers typed errors with HTTP statuses', async () => {
    const url = relays[0]!.url;
    const viewer = await signAccessToken({ sub: 'vic', grants: [{ room: 'party:*', can: ['read'] }] }, TEST_SECRET);
    const cases: [Promise<Response>, number, string][] = [
      [fetch(`${url}/v1/rooms/party:x/messages`), 401, ErrorKind.Unauthorized],
      [post(url, 'party:x', { type: 'chat', body: 1 }, { authorization: `Bearer ${viewer}` }), 403, ErrorKind.Forbidden],
      [post(url, 'party:x', { type: 'chat', body: 1 }, { 'idempotency-key': 'has space' }), 400, ErrorKind.BadRequest],
      [post(url, 'party:x', { type: 'chat', body: 'x'.repeat(70_000) }), 413, ErrorKind.PayloadTooLarge],
      [post(url, 'bad%20room', { type: 'chat', body: 1 }), 400, ErrorKind.InvalidRoom],
      [fetch(`${url}/v1/rooms/party:x/messages?since=1&last=3`, { headers: { authorization: `Bearer ${API_KEY}` } }), 400, ErrorKind.BadRequest],
      [fetch(`${url}/v1/rooms/party:x/messages`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: '{not json' }), 400, ErrorKind.BadRequest],
    ];
    for (const [pending, status, kind] of cases) {
      const response = await pending;
      expect({ status: response.status, kind: ((await response.json()) as { error: { kind: string } }).error.kind }).toEqual({ status, kind });
    }
    // The same key for a different message is a conflict; the helper throws it typed.
    const client = createServerClient({ url, credential: API_KEY });
    await client.publish('party:conflict', { type: 'chat', body: 'a' }, { idempotencyKey: 'k1' });
    const error = await client.publish('party:conflict', { type: 'chat', body: 'b' }, { idempotencyKey: 'k1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartylineApiError);
    expect(error).toMatchObject({ status: 409, error: { kind: ErrorKind.Conflict } });
  });

  it('documents exactly the routes it serves, and its answers match the OpenAPI schemas', async () => {
    const documented = Object.entries(OPENAPI.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
    expect(documented.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    const served = await (await fetch(`${relays[0]!.url}/v1/openapi.json`)).json();
    expect(served).toEqual(OPENAPI);
    const url = relays[0]!.url;
    const auth = { authorization: `Bearer ${API_KEY}` };
    const check = async (response: Response, path: string, method: string) => {
      const body = await response.json();
      const schema = (OPENAPI.paths[path]![method] as { responses: Record<string, { content: { 'application/json': { schema: object } } }> }).responses[String(response.status)]!.content['application/json'].schema;
      expect(schemaProblems(OPENAPI, schema, body), `${method} ${path} ${response.status}`).toEqual([]);
    };
    await check(await post(url, 'party:doc', { type: 'chat', body: { a: 1 } }, { 'idempotency-key': 'doc-1' }), '/v1/rooms/{room}/messages', 'post');
    await check(await post(url, 'party:doc', { type: 'chat', body: { a: 1 } }, { 'idempotency-key': 'doc-1' }), '/v1/rooms/{room}/messages', 'post');
    await check(await post(url, 'party:doc', { messages: [{ id: 'doc-2', type: 'chat', body: null }] }), '/v1/rooms/{room}/messages', 'post');
    await check(await post(url, 'party:doc', { type: 'bad type!', body: 1 }), '/v1/rooms/{room}/messages', 'post');
    await check(await fetch(`${url}/v1/rooms/party:doc/messages?last=5`, { headers: auth }), '/v1/rooms/{room}/messages', 'get');
    await check(await fetch(`${url}/v1/rooms/party:doc/messages?since=0&limit=1`, { headers: auth }), '/v1/rooms/{room}/messages', 'get');
    await check(await fetch(`${url}/v1/rooms/party:doc/presence`, { headers: auth }), '/v1/rooms/{room}/presence', 'get');
    await check(await fetch(`${url}/v1/rooms/party:doc/presence`), '/v1/rooms/{room}/presence', 'get');
    const page = (await (await fetch(`${url}/v1/rooms/party:doc/messages?before=3`, { headers: auth })).json()) as RoomPage;
    expect(page.messages.map((m) => m.seq)).toEqual([1, 2]);
  });
});
