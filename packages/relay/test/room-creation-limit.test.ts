/**
 * Rooms per user per hour. A room is created by its first appended message (joins and reads of a
 * room nobody wrote to leave nothing, see the stores), so the bound is checked where an append finds
 * no room: the N+1th room a user starts within the hour is refused `rate_limited` with retryAfterMs,
 * and not created; rooms that exist take messages as ever; other users are untouched. On the memory
 * store and across two relays sharing a real Redis, over the socket and over HTTP (server API keys
 * are the app's own backend: not bounded).
 */
import { ErrorKind, type WireError } from '@partyline/protocol';
import { startRedis, type RedisServer } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCli } from '../src/index.js';
import { connectClient, expectOk, publish, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

const API_KEY = 'room-creation-test-api-key-0123456789abcdef';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe.each([
  { store: 'memory', relays: 1, options: () => ({}) },
  { store: 'redis', relays: 2, options: () => ({ redisUrl: redis.url, redisKeyPrefix: `rc${Date.now()}:` }) },
])('rooms a user creates, on the $store store', ({ relays: relayCount, options }) => {
  const relays: RunningRelay[] = [];
  const sockets: ClientSocket[] = [];
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    for (const { relay } of relays) await relay.close();
  });

  it('refuses the N+1th room of the hour, creates nothing for it, and leaves existing rooms and other users alone', async () => {
    const shared = { ...options(), roomsPerUserPerHour: 3, apiKeys: [API_KEY] };
    for (let i = 0; i < relayCount; i++) relays.push(await startRelay(shared));
    const anaToken = await tokenFor('ana', ['party:*']);
    // Ana has a connection on each relay: what she creates on one counts on the other.
    const anaSockets = await Promise.all(relays.map((relay) => connectClient(relay.url, anaToken)));
    const bob = await connectClient(relays.at(-1)!.url, await tokenFor('bob', ['party:*']));
    sockets.push(...anaSockets, bob);
    const anaOn = (n: number) => anaSockets[n % anaSockets.length]!;

    // Joining and reading rooms nobody wrote to creates none of them.
    for (let i = 0; i < 5; i++) expectOk(await request(anaOn(i), 'room:join', { room: `party:looked-at-${i}` }));
    for (let i = 1; i <= 3; i++) {
      const ack = expectOk(await publish(anaOn(i), `party:room-${i}`, [{ id: `first-${i}` }]));
      expect(ack.results[0]).toMatchObject({ seq: 1 });
    }
    const fourth = expectOk(await publish(anaOn(4), 'party:room-4', [{ id: 'first-4a' }, { id: 'first-4b' }]));
    for (const result of fourth.results) {
      expect(result).toMatchObject({ error: { kind: ErrorKind.RateLimited, retryable: true } });
      const { retryAfterMs } = (result as { error: WireError }).error;
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(retryAfterMs).toBeLessThanOrEqual(3_600_000);
    }
    // Not created: a read of it finds no room at all.
    expect(expectOk(await request(anaOn(0), 'room:read', { room: 'party:room-4', since: 0 }))).toMatchObject({ epoch: '', headSeq: 0 });

    // Her rooms take messages as ever, on any relay; Bob starts rooms of his own.
    expect(expectOk(await publish(anaOn(1), 'party:room-1', [{ id: 'second-1' }])).results[0]).toMatchObject({ seq: 2 });
    expect(expectOk(await publish(bob, 'party:bobs', [{ id: 'b1' }])).results[0]).toMatchObject({ seq: 1 });
    // A message to a room Bob created is no creation of Ana's.
    expect(expectOk(await publish(anaOn(0), 'party:bobs', [{ id: 'a-in-bobs' }])).results[0]).toMatchObject({ seq: 2 });

    // Over HTTP, her token gets the same answer (429); the server's API key creates rooms freely.
    const post = (bearer: string, room: string, id: string) =>
      fetch(`${relays[0]!.url}/v1/rooms/${room}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'idempotency-key': id },
        body: JSON.stringify({ type: 'note', body: { id } }),
      });
    const refused = await post(anaToken, 'party:room-5', 'http-5');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: WireError }).error).toMatchObject({ kind: ErrorKind.RateLimited });
    for (let i = 0; i < 5; i++) expect((await post(API_KEY, `party:server-${i}`, `s${i}`)).status).toBe(201);
  });
});

describe('flags', () => {
  it('reads --user-byte-rate, --retention-bytes and --rooms-per-user-hour (and their env vars)', () => {
    const parsed = parseCli(['--token-secret', 'x'.repeat(32), '--user-byte-rate', '0', '--retention-bytes', '1048576'], { ROOMS_PER_USER_HOUR: '7' });
    if (parsed.help) throw new Error('expected a config, not help');
    expect(parsed.config.relay).toMatchObject({ userByteRatePerSecond: 0, roomsPerUserPerHour: 7, retention: { maxBytes: 1_048_576 } });
  });
});
