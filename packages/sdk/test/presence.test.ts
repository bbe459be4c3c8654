/**
 * Presence kept by the relays, seen where the app looks (`room.presence.members()` and the
 * `presence` event), with Node SDK clients on three relay processes over a real Redis:
 * members on different relays see one another; one identity in two tabs is one member; a relay
 * killed with SIGKILL loses its members within the lease; a client that fails over within the
 * grace is never seen leaving. Convergence times are printed, not asserted (the deadlines are).
 */
import { startRedis, startRedisCluster, waitFor, type RedisCluster, type RedisServer } from '@partyline/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PartylineClient, PresenceContext, Room } from '../src/index.js';
import { spawnRelay, tokenFor, type RelayProcess } from './support/relays.js';
import { closeAllClients, testClient } from './support/sdk-client.js';

let redis: RedisServer;
let cluster: RedisCluster;
let relays: RelayProcess[] = [];

beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster({ masters: 3 })]);
}, 60_000);
afterEach(async () => {
  await closeAllClients();
  await Promise.all(relays.splice(0).map((relay) => relay.kill()));
});
afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

const BACKENDS = [
  { name: 'Redis', args: () => ['--redis-url', redis.url] },
  { name: 'a 3-master Redis Cluster', args: () => ['--redis-cluster', cluster.addresses.join(',')] },
];

/** A member's client in `room` (entered, with `data` if given, unless `enter` is false); records every presence event it gets. */
async function member(sub: string, urls: string[], room: string, data?: unknown, enter = true): Promise<{ client: PartylineClient; room: Room; events: PresenceContext[] }> {
  const client = testClient({ relays: urls, token: () => tokenFor(sub) });
  const opened = client.room(room, { from: 'now' });
  const events: PresenceContext[] = [];
  opened.on('presence', (event) => events.push(event));
  if (enter) await opened.presence.enter(data);
  return { client, room: opened, events };
}

const subs = (room: Room) => room.presence.members().map((m) => m.sub).sort().join(',');

/** Waits until every room sees exactly `expected`; answers how long that took. */
async function converge(rooms: Room[], expected: string[], what: string, timeoutMs = 5_000): Promise<number> {
  const started = performance.now();
  const want = [...expected].sort().join(',');
  await waitFor(() => rooms.every((room) => subs(room) === want), what, timeoutMs, 20);
  return performance.now() - started;
}

describe.each(BACKENDS)('presence across three relays over $name', ({ args }) => {
  const threeRelays = async (): Promise<RelayProcess[]> => {
    relays = await Promise.all([0, 1, 2].map(() => spawnRelay(args())));
    return relays;
  };

  it('shows members on other relays, one member per identity across tabs, updates, and leaves with the last tab', async () => {
    const [a, b, c] = await threeRelays();
    const roomName = `party:${Date.now()}`;
    const bob = await member('bob', [c!.url], roomName, { name: 'Bob' });
    const ana1 = await member('ana', [a!.url], roomName, { name: 'Ana' });
    const ana2 = await member('ana', [b!.url], roomName); // a second tab: enters without data
    const viewer = await member('vic', [b!.url], roomName, undefined, false); // watches without entering
    const everyone = [bob.room, ana1.room, ana2.room, viewer.room];
    const joinMs = await converge(everyone, ['ana', 'bob'], 'everyone to see ana and bob');
    expect(bob.room.presence.members().find((m) => m.sub === 'ana')?.data).toEqual({ name: 'Ana' });

    await ana2.room.presence.update({ name: 'Ana (phone)' });
    const anaData = (room: Room) => JSON.stringify(room.presence.members().find((m) => m.sub === 'ana')?.data);
    await waitFor(() => [viewer.room, bob.room, ana1.room].every((room) => anaData(room) === '{"name":"Ana (phone)"}'), 'the update to reach everyone', 5_000, 20);
    expect(bob.events.flatMap((e) => e.updated).map((m) => m.data)).toContainEqual({ name: 'Ana (phone)' });

    // One of ana's tabs closes: ana is still here, and nobody saw her leave.
    await ana1.client.close();
    await new Promise((resolve) => setTimeout(resolve, 300)); // give a wrong "left" time to arrive
    expect(subs(bob.room)).toBe('ana,bob');
    // The last one closes: she leaves everywhere.
    const closedAt = performance.now();
    await ana2.client.close();
    await converge([bob.room, viewer.room], ['bob'], 'ana to leave when her last tab closes');
    const leaveMs = performance.now() - closedAt;
    console.log(`[presence] join seen on all relays in ${joinMs.toFixed(0)} ms; last tab's close seen in ${leaveMs.toFixed(0)} ms`);
    const anaEvents = bob.events.flatMap((e) => [...e.joined.map((m) => `joined:${m.sub}`), ...e.left.map((m) => `left:${m.sub}`)]).filter((e) => e.endsWith(':ana'));
    expect(anaEvents).toEqual(['joined:ana', 'left:ana']);
  }, 60_000);

  it('removes a SIGKILLed relay’s members within the lease, and never shows a member that failed over as leaving', async () => {
    const [a, b, c] = await threeRelays();
    const roomName = `party:kill-${Date.now()}`;
    const watcher = await member('wes', [c!.url], roomName, { name: 'Wes' });
    const stuck = await member('cid', [a!.url], roomName, { name: 'Cid' }); // only relay A: cannot fail over
    const mover = await member('dan', [a!.url, b!.url], roomName, { name: 'Dan' }); // fails over to B
    await converge([watcher.room, stuck.room, mover.room], ['cid', 'dan', 'wes'], 'all three present');

    const killedAt = performance.now();
    await a!.kill();
    await waitFor(() => subs(watcher.room) === 'dan,wes', 'cid to be removed after relay A died', 12_000, 50);
    const removedMs = performance.now() - killedAt;
    console.log(`[presence] members of a SIGKILLed relay removed after ${removedMs.toFixed(0)} ms (bound 10,000)`);
    expect(removedMs).toBeLessThan(10_000);
    // dan moved to relay B within the grace: present throughout, never seen leaving or rejoining.
    const danChanges = watcher.events.flatMap((e) => [...e.joined, ...e.left].map((m) => m.sub)).filter((sub) => sub === 'dan');
    expect(danChanges).toEqual(['dan']); // the one join at the start
    expect(mover.client.state).toBe('online');
  }, 60_000);
});
