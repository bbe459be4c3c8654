/**
 * Edits, deletes and reactions over sockets, on the memory store and on two relays over a real Redis:
 * only the sender edits or deletes its message unless the token grants `moderate`; a target that is
 * not a message of the room is `not_found`, a deleted one `message_deleted`; annotations that change
 * nothing are acked `noop` (and a resend answers the same, `duplicate`); other `pl:` types and bad
 * annotation bodies are `bad_request` and never stored; appended annotations reach members live;
 * in a room with body schemas, an edit's new body must match its message type's schema.
 */
import { ErrorKind, type JoinAck, type LogMessage, type WireError } from '@partyline/protocol';
import { signAccessToken } from '@partyline/server';
import { waitFor } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BodySchemas, type BodySchemaMap } from '../src/index.js';
import { collectMessages, connectClient, expectOk, MEMORY_OR_TWO_REDIS_RELAYS, request, startRelay, TEST_SECRET, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

type Result = { id: string; seq: number; duplicate?: boolean; noop?: boolean } | { id: string; error: WireError };

const edit = (id: string, target: object, body: string) => ({ id, type: 'pl:edit', body: JSON.stringify({ ...target, body }) });
const remove = (id: string, target: object) => ({ id, type: 'pl:delete', body: JSON.stringify(target) });
const react = (id: string, target: object, key: string) => ({ id, type: 'pl:react', body: JSON.stringify({ ...target, key }) });
const unreact = (id: string, target: object, key: string) => ({ id, type: 'pl:unreact', body: JSON.stringify({ ...target, key }) });

async function send(socket: ClientSocket, room: string, message: { id: string; type: string; body: string }): Promise<Result> {
  return expectOk(await request<{ results: Result[] }>(socket, 'room:publish', { room, messages: [message] })).results[0]!;
}


describe.each(MEMORY_OR_TWO_REDIS_RELAYS)('annotations (%s)', (_name, setup) => {
  let env: Awaited<ReturnType<(typeof MEMORY_OR_TWO_REDIS_RELAYS)[number][1]>>;
  const sockets: ClientSocket[] = [];
  let ana: ClientSocket;
  let bob: ClientSocket;
  let mod: ClientSocket;
  let watcher: ClientSocket;

  beforeAll(async () => {
    env = await setup();
    const [a, b] = env.relays.map((r) => r.url) as [string, string];
    ana = await connectClient(a, await tokenFor('ana', ['party:*']));
    bob = await connectClient(b, await tokenFor('bob', ['party:*']));
    const modToken = await signAccessToken({ sub: 'mod', grants: [{ room: 'party:*', can: ['read', 'publish', 'moderate'] }] }, TEST_SECRET);
    mod = await connectClient(a, modToken);
    watcher = await connectClient(b, await tokenFor('wat', ['party:*']));
    sockets.push(ana, bob, mod, watcher);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await env?.stop();
  });

  it('refuses an annotation no store could read back (a lone surrogate) alone, and the room goes on', async () => {
    const room = 'party:surrogate';
    expect(await send(ana, room, { id: 's1', type: 'chat', body: '"hi"' })).toEqual({ id: 's1', seq: 1 });
    const batch = [
      { id: 's2', type: 'chat', body: '"before"' },
      react('s3', { id: 's1', seq: 1 }, '👍'.slice(0, 1)),
      edit('s4', { id: 's1', seq: 1 }, '\udfff'),
    ];
    const { results } = expectOk(await request<{ results: Result[] }>(ana, 'room:publish', { room, messages: batch }));
    expect(results[0]).toEqual({ id: 's2', seq: 2 });
    expect(results.slice(1).map((result) => ('error' in result ? result.error.kind : result))).toEqual([ErrorKind.BadRequest, ErrorKind.BadRequest]);
    expect(await send(bob, room, { id: 's5', type: 'chat', body: '"after"' })).toEqual({ id: 's5', seq: 3 });
  });

  it('weighs summaries into the page bound: messages edited to big bodies never make a page past it', async () => {
    const room = 'party:big-edits';
    const big = JSON.stringify('x'.repeat(60_000));
    // 30 edits of 60 KB, 10 per member (each user's byte rate is 1 MiB/s): 1.8 MB of summaries.
    for (let i = 1; i <= 30; i++) {
      const [socket, sub] = ([[ana, 'ana'], [bob, 'bob'], [watcher, 'wat']] as const)[i % 3]!;
      expect(await send(socket, room, { id: `b${i}`, type: 'chat', body: '"small"' })).toMatchObject({ seq: i * 2 - 1 });
      expect(await send(socket, room, edit(`e${i}`, { id: `b${i}`, from: sub, seq: i * 2 - 1 }, big))).toMatchObject({ seq: i * 2 });
    }
    for (const page of [
      expectOk(await request<JoinAck>(bob, 'room:read', { room, since: 0, limit: 500 })),
      expectOk(await request<JoinAck>(bob, 'room:read', { room, before: 1_000, limit: 500 })),
    ]) {
      expect(page.messages.length).toBeGreaterThan(0);
      expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThan(1024 * 1024 + 64 * 1024);
    }
  });

  it('lets a viewer without publish mark read (read marks ask only read)', async () => {
    const room = 'party:viewer-reads';
    expect(await send(ana, room, { id: 'v1', type: 'chat', body: '"hi"' })).toEqual({ id: 'v1', seq: 1 });
    const viewer = await connectClient(env.relays[1]!.url, await signAccessToken({ sub: 'viewer', grants: [{ room: 'party:*', can: ['read', 'receipts'] }] }, TEST_SECRET));
    sockets.push(viewer);
    expect(await send(viewer, room, { id: 'r1', type: 'pl:read', body: '{"seq":1}' })).toEqual({ id: 'r1', seq: 1, noop: true });
    const refused = await request(viewer, 'room:publish', { room, messages: [{ id: 'v2', type: 'chat', body: '"no"' }] });
    expect(!refused.ok && refused.error.kind).toBe(ErrorKind.Forbidden);
    expect(expectOk(await request<JoinAck>(viewer, 'room:join', { room })).read).toEqual({ seq: 1, unread: 0 });
  });

  it('lets only the sender edit and delete its message, or a moderator; others are forbidden; members get each annotation live', async () => {
    const room = 'party:rules';
    expectOk(await request(watcher, 'room:join', { room }));
    const live = collectMessages(watcher);
    expect(await send(ana, room, { id: 'm1', type: 'chat', body: '"hi"' })).toEqual({ id: 'm1', seq: 1 });
    const target = { id: 'm1', from: 'ana', seq: 1 };

    // `rooms` grants every member capability but `moderate`.
    expect(await send(bob, room, edit('e-bob', target, '"mine now"'))).toMatchObject({ id: 'e-bob', error: { kind: ErrorKind.Forbidden } });
    expect(await send(bob, room, remove('d-bob', target))).toMatchObject({ id: 'd-bob', error: { kind: ErrorKind.Forbidden } });
    expect(await send(ana, room, edit('e1', target, '"hello"'))).toEqual({ id: 'e1', seq: 2 });
    // Without seq: found by id and sender (from defaults to the annotation's sender).
    expect(await send(ana, room, edit('e2', { id: 'm1' }, '"hello!"'))).toEqual({ id: 'e2', seq: 3 });
    expect(await send(mod, room, edit('e-mod', target, '"[edited by a moderator]"'))).toEqual({ id: 'e-mod', seq: 4 });
    expect(await send(mod, room, remove('d-mod', target))).toEqual({ id: 'd-mod', seq: 5 });

    await waitFor(() => live.length === 5, 'the watcher to get the message and its four annotations');
    expect(live.map((m) => `${m.seq}:${m.type}:${m.sender}`)).toEqual(['1:chat:ana', '2:pl:edit:ana', '3:pl:edit:ana', '4:pl:edit:mod', '5:pl:delete:mod']);

    // The join page of a newcomer carries the message's summary as of its head: deleted.
    const join = expectOk(await request<JoinAck>(bob, 'room:join', { room, since: 0 }));
    expect(join.headSeq).toBe(5);
    expect(join.summaries?.['1']).toMatchObject({ deleted: true });
  });

  it('refuses edits and reactions of a deleted message, and acks a delete of it as noop (a resend answers the same)', async () => {
    const room = 'party:deleted';
    await send(ana, room, { id: 'm1', type: 'chat', body: '"bye"' });
    const target = { id: 'm1', from: 'ana', seq: 1 };
    expect(await send(ana, room, remove('d1', target))).toEqual({ id: 'd1', seq: 2 });
    expect(await send(ana, room, edit('e1', target, '"back"'))).toMatchObject({ error: { kind: ErrorKind.MessageDeleted } });
    expect(await send(bob, room, react('r1', target, '👍'))).toMatchObject({ error: { kind: ErrorKind.MessageDeleted } });
    expect(await send(mod, room, remove('d2', target))).toEqual({ id: 'd2', seq: 1, noop: true });
    expect(await send(mod, room, remove('d2', target))).toEqual({ id: 'd2', seq: 1, duplicate: true, noop: true });
    const page = expectOk(await request<JoinAck>(ana, 'room:join', { room, since: 0 }));
    expect(page.headSeq).toBe(2);
  });

  it('acks a reaction already held, and an unreact of none, as noop without appending', async () => {
    const room = 'party:reactions';
    await send(ana, room, { id: 'm1', type: 'chat', body: '"party?"' });
    const target = { id: 'm1', from: 'ana', seq: 1 };
    expect(await send(bob, room, react('r1', target, '🎉'))).toEqual({ id: 'r1', seq: 2 });
    expect(await send(bob, room, react('r2', target, '🎉'))).toEqual({ id: 'r2', seq: 1, noop: true });
    expect(await send(bob, room, react('r1', target, '🎉'))).toEqual({ id: 'r1', seq: 2, duplicate: true });
    expect(await send(ana, room, react('r3', { id: 'm1' }, '🎉'))).toEqual({ id: 'r3', seq: 3 });
    expect(await send(bob, room, unreact('u1', target, '🎉'))).toEqual({ id: 'u1', seq: 4 });
    expect(await send(bob, room, unreact('u2', target, '🎉'))).toEqual({ id: 'u2', seq: 1, noop: true });
    const page = expectOk(await request<JoinAck>(ana, 'room:join', { room, since: 0 }));
    expect(page.headSeq).toBe(4);
    expect(page.summaries?.['1']).toEqual({ reactions: { '🎉': { count: 1, mine: true } } });
  });

  it('answers not_found for a target that is not a message of the room', async () => {
    const room = 'party:missing';
    await send(ana, room, { id: 'm1', type: 'chat', body: '"x"' });
    await send(ana, room, react('r1', { id: 'm1', seq: 1 }, '👀'));
    const cases = [
      edit('e1', { id: 'nope' }, '"?"'),
      edit('e2', { id: 'm1', from: 'bob' }, '"?"'), // bob never sent m1
      edit('e3', { id: 'm1', seq: 2 }, '"?"'), // seq 2 is an annotation
      edit('e4', { id: 'other', seq: 1 }, '"?"'), // seq 1 holds another id
      react('r2', { id: 'm1', seq: 99 }, '👀'),
    ];
    for (const annotation of cases) expect(await send(ana, room, annotation), annotation.id).toMatchObject({ error: { kind: ErrorKind.NotFound } });
    // An annotation never creates a room.
    expect(await send(ana, 'party:never-written', edit('e5', { id: 'm1' }, '"?"'))).toMatchObject({ error: { kind: ErrorKind.NotFound } });
    const empty = expectOk(await request<JoinAck>(ana, 'room:join', { room: 'party:never-written', since: 0 }));
    expect(empty.epoch).toBe('');
  });

  it('refuses other pl: types and malformed annotation bodies as bad_request, storing nothing', async () => {
    const room = 'party:reserved';
    await send(ana, room, { id: 'm1', type: 'chat', body: '"x"' });
    const cases = [
      { id: 'x1', type: 'pl:pin', body: '{"id":"m1"}' },
      { id: 'x2', type: 'pl:edit', body: 'not json' },
      { id: 'x3', type: 'pl:edit', body: '{"id":"m1","body":{"not":"text"}}' },
      { id: 'x4', type: 'pl:react', body: '{"id":"m1","key":""}' },
      { id: 'x5', type: 'pl:delete', body: '{"id":"bad id!"}' },
      { id: 'x6', type: 'pl:read', body: '{"seq":-1}' },
    ];
    const ack = expectOk(await request<{ results: Result[] }>(ana, 'room:publish', { room, messages: cases }));
    expect(ack.results.map((r) => ('error' in r ? r.error.kind : 'ok'))).toEqual(cases.map(() => ErrorKind.BadRequest));
    const page = expectOk(await request<JoinAck>(ana, 'room:join', { room, since: 0 }));
    expect(page.messages.map((m: LogMessage) => m.id)).toEqual(['m1']);
  });
});

describe('edits in a room with body schemas', () => {
  const API_KEY = 'server-key-server-key-server-key-0123';
  let relay: RunningRelay;
  let ana: ClientSocket;
  beforeAll(async () => {
    const schemas: BodySchemaMap = { 'party:*': { chat: { type: 'object', required: ['text'], properties: { text: { type: 'string' } }, additionalProperties: false }, '*': { type: 'string' } } };
    relay = await startRelay({ apiKeys: [API_KEY], bodySchemas: BodySchemas.compile(schemas) });
    ana = await connectClient(relay.url, await tokenFor('ana', ['party:*']));
  });
  afterAll(async () => {
    ana?.close();
    await relay?.relay.close();
  });

  it('checks the new body against the schema of the message’s type, never an annotation against the `*` schema', async () => {
    const room = 'party:schema-edits';
    expect(await send(ana, room, { id: 'm1', type: 'chat', body: '{"text":"hi"}' })).toEqual({ id: 'm1', seq: 1 });
    expect(await send(ana, room, edit('e1', { id: 'm1', seq: 1 }, '{"txt":"oops"}'))).toMatchObject({ error: { kind: ErrorKind.BadRequest } });
    expect(await send(ana, room, edit('e2', { id: 'm1' }, '{"text":"no seq"}'))).toMatchObject({ error: { kind: ErrorKind.BadRequest } });
    expect(await send(ana, room, edit('e3', { id: 'm1', seq: 1 }, '{"text":"hi!"}'))).toEqual({ id: 'e3', seq: 2 });
    // Reactions and deletes are the protocol's shape, whatever `*` says.
    expect(await send(ana, room, react('r1', { id: 'm1', seq: 1 }, '👍'))).toEqual({ id: 'r1', seq: 3 });
    const patch = (body: unknown) =>
      fetch(`${relay.url}/v1/rooms/${room}/messages/1`, { method: 'PATCH', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ body }) });
    const refused = await patch({ text: 42 });
    expect({ status: refused.status, kind: ((await refused.json()) as { error: WireError }).error.kind }).toEqual({ status: 400, kind: ErrorKind.BadRequest });
    expect((await patch({ text: 'by the server' })).status).toBe(201);
  });
});
