import { ErrorKind, type WireError } from '@partyline/protocol';
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, expectOk, publish, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

let relay: RunningRelay;
let limited: RunningRelay;
const sockets: ClientSocket[] = [];

async function client(target: RunningRelay = relay): Promise<ClientSocket> {
  const socket = await connectClient(target.url, await tokenFor('ana', ['*']));
  sockets.push(socket);
  return socket;
}

beforeAll(async () => {
  relay = await startRelay();
  limited = await startRelay({ rateLimit: { perSecond: 1, burst: 100 }, signalRateLimit: { perSecond: 1, burst: 2 } });
});
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});
afterAll(async () => {
  await relay?.relay.close();
  await limited?.relay.close();
});

describe('limits and validation', () => {
  it('refuses an oversized body per message and appends the rest of the batch', async () => {
    const socket = await client();
    const ack = expectOk(
      await publish(socket, 'sizes', [{ id: 'small' }, { id: 'huge', body: 'x'.repeat(64 * 1024 + 1) }, { id: 'exact', body: 'é'.repeat(32 * 1024) }]),
    );
    expect(ack.results).toEqual([
      { id: 'small', seq: 1 },
      { id: 'huge', error: { kind: ErrorKind.PayloadTooLarge, message: expect.any(String), retryable: false } },
      { id: 'exact', seq: 2 },
    ]);
  });

  it('refuses a batch with too many messages as a whole', async () => {
    const socket = await client();
    const ack = await publish(socket, 'sizes', Array.from({ length: 101 }, (_, i) => ({ id: `m${i}` })));
    expect(ack).toMatchObject({ ok: false, error: { kind: ErrorKind.PayloadTooLarge } });
    expect(expectOk(await request<{ headSeq: number }>(socket, 'room:read', { room: 'sizes-untouched', since: 0 })).headSeq).toBe(0);
  });

  it.each([
    ['no payload', undefined],
    ['a string', 'publish please'],
    ['no messages', { room: 'r' }],
    ['an empty batch', { room: 'r', messages: [] }],
    ['messages not an array', { room: 'r', messages: { id: 'm' } }],
    ['a numeric body', { room: 'r', messages: [{ id: 'm', type: 'chat', body: 42 }] }],
    ['an object body', { room: 'r', messages: [{ id: 'm', type: 'chat', body: { deep: { er: [1] } } }] }],
    ['an id with spaces', { room: 'r', messages: [{ id: 'm 1', type: 'chat', body: '' }] }],
    ['an overlong id', { room: 'r', messages: [{ id: 'x'.repeat(129), type: 'chat', body: '' }] }],
    ['a missing type', { room: 'r', messages: [{ id: 'm', body: '' }] }],
  ])('answers a malformed batch (%s) with bad_request', async (_name, payload) => {
    const socket = await client();
    expect(await request(socket, 'room:publish', payload)).toMatchObject({ ok: false, error: { kind: ErrorKind.BadRequest, retryable: false } });
  });

  it.each(['', 'has space', '{tag}', 'star*', 'x'.repeat(129), '-leading'])('answers room name %j with invalid_room', async (room) => {
    const socket = await client();
    expect(await request(socket, 'room:join', { room })).toMatchObject({ ok: false, error: { kind: ErrorKind.InvalidRoom } });
    expect(await publish(socket, room, [{ id: 'm' }])).toMatchObject({ ok: false, error: { kind: ErrorKind.InvalidRoom } });
  });

  it('answers bad read and join arguments with bad_request', async () => {
    const socket = await client();
    for (const payload of [{ room: 'r', since: -1 }, { room: 'r', since: 1.5 }, { room: 'r', since: '3' }, { room: 'r' }]) {
      expect(await request(socket, 'room:read', payload)).toMatchObject({ ok: false, error: { kind: ErrorKind.BadRequest } });
    }
    expect(await request(socket, 'room:join', { room: 'r', limit: 0 })).toMatchObject({ ok: false, error: { kind: ErrorKind.BadRequest } });
  });

  it('answers unknown events with unknown_event, by ack or by relay:error', async () => {
    const socket = await client();
    expect(await request(socket, 'room:destroy', { room: 'r' })).toMatchObject({ ok: false, error: { kind: ErrorKind.UnknownEvent } });
    expect(await request(socket, 'toString', {})).toMatchObject({ ok: false, error: { kind: ErrorKind.UnknownEvent } });
    const reported = new Promise<WireError & { event?: string }>((resolve) => socket.on('relay:error', resolve));
    (socket as unknown as { emit(event: string, payload: unknown): void }).emit('__proto__', { room: 'r' });
    expect(await reported).toMatchObject({ kind: ErrorKind.UnknownEvent, event: '__proto__' });
  });

  it('reports a malformed publish sent without an ack callback as relay:error', async () => {
    const socket = await client();
    const reported = new Promise<WireError & { event?: string }>((resolve) => socket.on('relay:error', resolve));
    (socket as unknown as { emit(event: string, payload: unknown): void }).emit('room:publish', { room: 'r', messages: 'nope' });
    expect(await reported).toMatchObject({ kind: ErrorKind.BadRequest, event: 'room:publish' });
  });

  it('answers a reused id with a different body with conflict, keeping the original', async () => {
    const socket = await client();
    expectOk(await publish(socket, 'conflicts', [{ id: 'once', body: '"original"' }]));
    const reused = expectOk(await publish(socket, 'conflicts', [{ id: 'once', body: '"changed"' }]));
    expect(reused.results[0]).toMatchObject({ id: 'once', error: { kind: ErrorKind.Conflict, retryable: false } });
    const log = expectOk(await request<{ messages: { body: string }[] }>(socket, 'room:read', { room: 'conflicts', since: 0 }));
    expect(log.messages.map((m) => m.body)).toEqual(['"original"']);
  });

  it('answers a flood with rate_limited and retryAfterMs, appending nothing of the refused batch', async () => {
    const socket = await client(limited);
    expectOk(await publish(socket, 'flood', Array.from({ length: 100 }, (_, i) => ({ id: `m${i}` }))));
    const refused = await publish(socket, 'flood', [{ id: 'one-too-many' }]);
    expect(refused).toMatchObject({ ok: false, error: { kind: ErrorKind.RateLimited, retryable: true, retryAfterMs: expect.any(Number) } });
    expect(!refused.ok && refused.error.retryAfterMs).toBeGreaterThan(0);
    const signals = await Promise.all([1, 2, 3].map(() => request(socket, 'room:signal', { room: 'flood', type: 'typing', body: '' })));
    expect(signals.map((ack) => ack.ok)).toEqual([true, true, false]);
  });

  it('keeps serving after a packet over the buffer limit closes the offending connection', async () => {
    const offender = await client();
    const dropped = new Promise<string>((resolve) => offender.on('disconnect', resolve));
    offender.emit('room:publish', { room: 'r', messages: [{ id: 'm', type: 'chat', body: 'x'.repeat(8 * 1024 * 1024) }] }, () => {});
    expect(await dropped).toMatch(/transport/);

    const socket = await client();
    expectOk(await publish(socket, 'still-alive', [{ id: 'after-abuse' }]));
    const fresh = io(relay.url, { transports: ['websocket'], auth: {}, reconnection: false, forceNew: true });
    await new Promise((resolve) => fresh.once('connect_error', resolve));
    fresh.close();
    expectOk(await publish(socket, 'still-alive', [{ id: 'after-refusal' }]));
  });
});
