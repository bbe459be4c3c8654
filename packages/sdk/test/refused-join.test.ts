import { createRedisStore } from '@partyline/relay';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RoomOptions } from '../src/index.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, range, record, testClient } from './support/sdk-client.js';

// Issue 22 item 1: a join refused while the relay's Redis is paused (SIGSTOP) must be retried as a
// join — on the same connection — so live messages keep coming, and a `now` or window view must not
// read the log from seq 1 instead.
let redis: RedisServer;
let relay: InProcessRelay;
/** Ana's connections to the relay: a reconnect would count. */
let connections = 0;

beforeAll(async () => {
  redis = await startRedis({ appendOnly: false });
  // A short command timeout: a paused Redis answers `unavailable` in 300 ms, well within the SDK's request timeout.
  relay = await startRelay({ store: createRedisStore({ url: redis.url, commandTimeoutMs: 300 }) });
  relay.relay.io.on('connection', (socket) => {
    if (socket.data.sub === 'ana') connections++;
  });
}, 30_000);

afterEach(async () => {
  redis.signal('SIGCONT');
  await closeAllClients();
});

afterAll(async () => {
  await relay?.close();
  await redis?.stop();
});

async function unavailableAnswers(): Promise<number> {
  const metric = await relay.relay.metrics.errors.get();
  return metric.values.find((value) => value.labels.kind === 'unavailable')?.value ?? 0;
}

/** Bob publishes `count` messages into `room` and waits until each is in the log. */
async function publish(room: string, count: number, from: number): Promise<void> {
  const bob = testClient({ relays: [relay.url], token: await tokenFor('bob') });
  const handles = await Promise.all(range(from, from + count - 1).map((n) => bob.room(room).publish('chat', { n })));
  await Promise.all(handles.map((handle) => handle.sent));
}

/** Ana, online, opens `room` while Redis is paused: its join is refused; then Redis comes back. */
async function openDuringPause(room: string, options?: RoomOptions) {
  const ana = testClient({ relays: [relay.url], token: await tokenFor('ana') });
  const states: string[] = [];
  ana.on('state', ({ state }) => states.push(state));
  await waitFor(() => ana.state === 'online', 'ana online');
  const connectionsBefore = connections;
  const refusedBefore = await unavailableAnswers();
  redis.signal('SIGSTOP');
  const seen = record(ana.room(room, options));
  await waitFor(async () => (await unavailableAnswers()) > refusedBefore, 'the join refused with unavailable', 10_000);
  redis.signal('SIGCONT');
  return { ana, seen, states, connectionsBefore };
}

describe('a join refused while Redis is paused', () => {
  it('is retried as a join: live messages continue on the same connection', async () => {
    await publish('party:deaf', 3, 1);
    const { seen, states, connectionsBefore } = await openDuringPause('party:deaf');
    await waitFor(() => seen.messages.length === 3, 'ana caught up with the log', 10_000);
    await publish('party:deaf', 3, 4);
    // Old code: the retry was a room:read — the relay had left the socket out of the room: no live message.
    await waitFor(() => seen.messages.length === 6, 'live messages after the refused join', 10_000);
    expect(seen.seqs()).toEqual(range(1, 6));
    expect(connections).toBe(connectionsBefore);
    expect(states).not.toContain('connecting');
  });

  it.each([
    ['now', 'now', []],
    ['{ last: 2 }', { last: 2 }, [4, 5]],
  ] as const)('from %s: the view starts at the head, never at seq 1', async (_name, from, before) => {
    const room = `party:head-${typeof from === 'string' ? from : from.last}`;
    await publish(room, 5, 1);
    const { ana, seen, connectionsBefore } = await openDuringPause(room, { from });
    await waitFor(async () => (await ana.inspect()).rooms[0]?.epoch !== undefined, 'the view placed at the head', 10_000);
    await publish(room, 2, 6);
    await waitFor(() => seen.messages.length >= before.length + 2, 'live messages after the refused join', 10_000).catch((error: Error) => {
      throw new Error(`${error.message}; handed ${seen.seqs().join()}`);
    });
    expect(seen.seqs()).toEqual([...before, 6, 7]);
    expect(connections).toBe(connectionsBefore);
  });
});
