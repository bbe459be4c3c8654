/**
 * Presence at the relay, on the wire: who may enter (the `presence` capability), bad input, the
 * grace after a dropped connection, an explicit leave, and the metrics. One relay on the memory
 * store with short presence timing; the Redis and cluster stores pass the same contract suite, and
 * the SDK tests run three relay processes over Redis.
 */
import { ErrorKind, type PresenceSnapshot, type RoomPresenceEvent } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signAccessToken } from '../src/index.js';
import { connectClient, expectOk, request, startRelay, TEST_SECRET, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

let relay: RunningRelay;
const sockets: ClientSocket[] = [];
const open = async (token: string) => {
  const socket = await connectClient(relay.url, token);
  sockets.push(socket);
  return socket;
};
const changes = (socket: ClientSocket) => {
  const seen: string[] = [];
  socket.on('room:presence', (event: RoomPresenceEvent) => seen.push(...event.changes.map((c) => `${c.version}:${c.kind}:${c.member.sub}`)));
  return seen;
};

beforeAll(async () => {
  relay = await startRelay({ presenceTiming: { leaseMs: 1_500, renewMs: 300, graceMs: 600, sweepMs: 100 }, metricsPublic: true });
});
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});
afterAll(async () => {
  await relay?.relay.close();
});

describe('presence on the relay', () => {
  it('lets a token with the presence capability enter; a read-only token watches but is refused entering', async () => {
    const viewer = await open(await signAccessToken({ sub: 'vic', grants: [{ room: 'party:*', can: ['read'] }] }, TEST_SECRET));
    const member = await open(await tokenFor('ana', ['party:*']));
    const seen = changes(viewer);
    expect(expectOk(await request<PresenceSnapshot>(viewer, 'presence:get', { room: 'party:cap' }))).toMatchObject({ epoch: '', version: 0, members: [] });
    const refused = await request(viewer, 'presence:enter', { room: 'party:cap' });
    expect(refused).toMatchObject({ ok: false, error: { kind: ErrorKind.Forbidden } });
    expectOk(await request(member, 'presence:enter', { room: 'party:cap', data: '{"name":"Ana"}' }));
    await waitFor(() => seen.length === 1, 'the viewer to see ana join');
    expect(seen).toEqual(['1:joined:ana']);
    const snapshot = expectOk(await request<PresenceSnapshot>(viewer, 'presence:get', { room: 'party:cap' }));
    expect(snapshot.members).toMatchObject([{ sub: 'ana', data: '{"name":"Ana"}' }]);
  });

  it('answers bad presence input with typed errors', async () => {
    const member = await open(await tokenFor('ana', ['party:*']));
    expect(await request(member, 'presence:enter', { room: 'party:bad', data: 'x'.repeat(2_000) })).toMatchObject({ ok: false, error: { kind: ErrorKind.PayloadTooLarge } });
    expect(await request(member, 'presence:enter', { room: 'not allowed!' })).toMatchObject({ ok: false, error: { kind: ErrorKind.InvalidRoom } });
    expect(await request(member, 'presence:enter', { room: 'party:bad', data: 1 })).toMatchObject({ ok: false, error: { kind: ErrorKind.BadRequest } });
    expect(await request(member, 'presence:get', { room: 'other:room' })).toMatchObject({ ok: false, error: { kind: ErrorKind.Forbidden } });
  });

  it('keeps a dropped member through the grace, removes it after, and leaves at once on presence:leave', async () => {
    const watcher = await open(await tokenFor('wes', ['party:*']));
    const seen = changes(watcher);
    expectOk(await request(watcher, 'presence:get', { room: 'party:grace' }));
    const dropper = await open(await tokenFor('dan', ['party:*']));
    const leaver = await open(await tokenFor('lea', ['party:*']));
    expectOk(await request(dropper, 'presence:enter', { room: 'party:grace' }));
    expectOk(await request(leaver, 'presence:enter', { room: 'party:grace' }));
    await waitFor(() => seen.length === 2, 'both joins');

    expectOk(await request(leaver, 'presence:leave', { room: 'party:grace' }));
    await waitFor(() => seen.includes('3:left:lea'), 'lea to leave at once');

    const droppedAt = performance.now();
    dropper.close();
    await waitFor(() => seen.includes('4:left:dan'), 'dan to leave after the grace', 5_000, 20);
    // Not before the grace: the leave waited at least for it (600 ms here).
    expect(performance.now() - droppedAt).toBeGreaterThanOrEqual(500);
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(/^partyline_presence_lease_expiries_total [1-9]/m);
    expect(metrics).toMatch(/^partyline_presence_changes_total\{kind="left"\} [2-9]/m);
  });
});
