import { ErrorKind, PROTOCOL_VERSION, type WireError } from '@partyline/protocol';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signAccessToken } from '../src/index.js';
import {
  connectClient,
  connectRefusal,
  expectOk,
  publish,
  request,
  startRelay,
  TEST_SECRET,
  tokenFor,
  type ClientSocket,
  type RunningRelay,
} from './support/harness.js';

let relay: RunningRelay;
const sockets: ClientSocket[] = [];
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  relay = await startRelay();
});
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});
afterAll(async () => {
  await relay?.relay.close();
});

describe('handshake', () => {
  it('refuses a missing token', async () => {
    expect(await connectRefusal(relay.url, {})).toMatchObject({ kind: ErrorKind.Unauthorized, retryable: false, message: expect.stringContaining('missing token') });
  });

  it('refuses a token signed with another secret', async () => {
    const forged = await signAccessToken({ sub: 'mallory', rooms: ['*'] }, 'another-secret-another-secret-another!');
    expect(await connectRefusal(relay.url, { token: forged })).toMatchObject({ kind: ErrorKind.Unauthorized, message: 'token signature invalid' });
  });

  it('refuses an expired token as token_expired, which a client may fix by refreshing', async () => {
    const expired = await new SignJWT({ rooms: ['r'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ana')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(TEST_SECRET));
    expect(await connectRefusal(relay.url, { token: expired })).toMatchObject({ kind: ErrorKind.TokenExpired, retryable: true });
  });

  it('refuses alg: none', async () => {
    const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'mallory', rooms: ['*'], exp: Date.now() / 1000 + 600 })}.`;
    const refusal = await connectRefusal(relay.url, { token: unsigned });
    expect(refusal.kind).toBe(ErrorKind.Unauthorized);
  });

  it('refuses a token without exp, with bad claims, or that is not a JWT', async () => {
    const key = new TextEncoder().encode(TEST_SECRET);
    const noExp = await new SignJWT({ rooms: ['r'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('ana').sign(key);
    const badRooms = await new SignJWT({ rooms: 'r' }).setProtectedHeader({ alg: 'HS256' }).setSubject('ana').setExpirationTime('1h').sign(key);
    for (const token of [noExp, badRooms, 'not-a-jwt', 'a.b.c']) {
      expect((await connectRefusal(relay.url, { token })).kind).toBe(ErrorKind.Unauthorized);
    }
  });

  it('refuses a protocol version it does not speak', async () => {
    const refusal = await connectRefusal(relay.url, { token: await tokenFor('ana', ['r']), protocol: PROTOCOL_VERSION + 99 });
    expect(refusal).toMatchObject({ kind: ErrorKind.UnsupportedProtocol, retryable: false });
  });

  it('disconnects a connection when its token expires, saying why', async () => {
    // exp is whole seconds from a floored clock, so a TTL of 1 can leave 1 ms: 3 leaves 2–3 s to connect first.
    const socket = await connectClient(relay.url, await tokenFor('ana', ['r'], 3));
    sockets.push(socket);
    const said = new Promise<WireError>((resolve) => socket.on('relay:error', resolve));
    const closed = new Promise<string>((resolve) => socket.on('disconnect', resolve));
    expect(await said).toMatchObject({ kind: ErrorKind.TokenExpired, retryable: true });
    expect(await closed).toBe('io server disconnect');
  });

  it('keeps neither the token nor the handshake HTTP request on an open connection', async () => {
    const socket = await connectClient(relay.url, await tokenFor('ana', ['*']));
    sockets.push(socket);
    const server = relay.relay.io.sockets.sockets.get(socket.id!)!;
    expect(server.data.sub).toBe('ana');
    expect(server.handshake.auth).toEqual({});
    expect(server.handshake.headers).toEqual({});
    expect((server.conn as unknown as { request: unknown }).request).toBeNull();
    expectOk(await publish(socket, 'room', [{ id: 'still-works' }]));
  });
});

describe('room grants', () => {
  it('answers join, read, publish and signal outside the grant with forbidden', async () => {
    const socket = await connectClient(relay.url, await tokenFor('ana', ['party:mine']));
    sockets.push(socket);
    const forbidden = { ok: false, error: { kind: ErrorKind.Forbidden, retryable: false } };
    expect(await request(socket, 'room:join', { room: 'party:theirs' })).toMatchObject(forbidden);
    expect(await request(socket, 'room:read', { room: 'party:theirs', since: 0 })).toMatchObject(forbidden);
    expect(await publish(socket, 'party:theirs', [{ id: 'sneaky' }])).toMatchObject(forbidden);
    expect(await request(socket, 'room:signal', { room: 'party:theirs', type: 'typing', body: '' })).toMatchObject(forbidden);
    expectOk(await publish(socket, 'party:mine', [{ id: 'fine' }]));

    // Nothing leaked into the other room.
    const owner = await connectClient(relay.url, await tokenFor('bob', ['party:theirs']));
    sockets.push(owner);
    expect(expectOk(await request<{ headSeq: number }>(owner, 'room:read', { room: 'party:theirs', since: 0 })).headSeq).toBe(0);
  });

  it('honours prefix grants', async () => {
    const socket = await connectClient(relay.url, await tokenFor('ana', ['team:*']));
    sockets.push(socket);
    expectOk(await request(socket, 'room:join', { room: 'team:red' }));
    expect(await request(socket, 'room:join', { room: 'teams' })).toMatchObject({ ok: false, error: { kind: ErrorKind.Forbidden } });
  });

  it('does not deliver a room’s messages to a connection that was refused the join', async () => {
    const outsider = await connectClient(relay.url, await tokenFor('eve', ['elsewhere']));
    // A version-2 client: its own publish comes back live, after which the outsider is asked again.
    const insider = await connectClient(relay.url, await tokenFor('ana', ['private']), { protocol: 2 });
    sockets.push(outsider, insider);
    const leaked: unknown[] = [];
    outsider.on('room:messages', (event) => leaked.push(event));
    await request(outsider, 'room:join', { room: 'private' });
    expectOk(await request(insider, 'room:join', { room: 'private' }));
    const seen = new Promise((resolve) => insider.once('room:messages', resolve));
    expectOk(await publish(insider, 'private', [{ id: 'secret' }]));
    await seen;
    // The outsider's own later request is answered after any broadcast queued before it.
    await request(outsider, 'room:leave', { room: 'elsewhere' });
    expect(leaked).toEqual([]);
  });
});
