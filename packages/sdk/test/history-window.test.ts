/**
 * History windows where the app looks: a tab opened with `from: { last: 50 }` gets the newest 50
 * messages, then live ones, with no gap or duplicate at the seam; `loadOlder()` pages back to seq 1
 * (from the relay, then from the profile's cache once it holds them) while messages keep arriving.
 * A relay over a real Redis, Node SDK clients with fake-indexeddb.
 */
import { PROTOCOL_VERSION } from '@partyline/protocol';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RoomMessage } from '../src/index.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, newDevice, testClient } from './support/sdk-client.js';

let redis: RedisServer;
let relay: InProcessRelay;

beforeAll(async () => {
  redis = await startRedis();
  relay = await startRelay({ redisUrl: redis.url });
}, 30_000);
afterEach(closeAllClients);
afterAll(async () => {
  await relay?.close();
  await redis?.stop();
});

/** Publishes `count` messages into `room` straight over a socket, 100 per batch; resolves when all are in the log. */
async function publishRaw(room: string, from: number, count: number): Promise<void> {
  const socket = io(relay.url, { transports: ['websocket'], auth: { token: await tokenFor('filler'), protocol: PROTOCOL_VERSION }, forceNew: true, reconnection: false });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  for (let n = from; n < from + count; n += 100) {
    const messages = Array.from({ length: Math.min(100, from + count - n) }, (_, i) => ({ id: `m${n + i}`, type: 'chat', body: JSON.stringify({ n: n + i }) }));
    const ack = (await socket.timeout(10_000).emitWithAck('room:publish', { room, messages })) as { ok: boolean };
    if (!ack.ok) throw new Error(`publish failed: ${JSON.stringify(ack)}`);
  }
  socket.close();
}

const seqs = (messages: RoomMessage[]) => messages.map((m) => m.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('history windows in the SDK', () => {
  it('opens at the newest 50, continues live without a seam, and pages back to seq 1 while messages arrive', async () => {
    const room = `window-${Date.now()}`;
    await publishRaw(room, 1, 2_000);
    const device = newDevice();
    const client = testClient({ relays: [relay.url], token: await tokenFor('ana'), indexedDB: device });
    const opened = client.room(room, { from: { last: 50 } });
    const events: RoomMessage[] = [];
    opened.on('message', (m) => events.push(m));
    const history = await opened.history();
    await waitFor(() => events.length >= 50, 'the window as events');
    expect(seqs([...history, ...events])).toEqual(range(1_951, 2_000));

    // Live messages arrive while the tab scrolls back.
    const live = publishRaw(room, 2_001, 500);
    const older: RoomMessage[] = [];
    let pages = 0;
    for (let more = true; more; pages++) {
      const page = await opened.loadOlder(200);
      older.unshift(...page.messages);
      more = page.hasMore;
    }
    await live;
    await waitFor(() => events.length === 550, 'the live messages');
    // The whole view: older pages, the window, live — exactly the log from 1.
    expect(seqs([...older, ...history, ...events])).toEqual(range(1, 2_500));
    expect(pages).toBe(10);
    expect((await opened.history()).length).toBe(2_500); // the view's start moved back over the pages
    await client.close();

    // The next session of the profile opens at the newest 50 of its cache, and pages back from the cache.
    const again = testClient({ relays: [relay.url], token: await tokenFor('ana'), indexedDB: device });
    const reopened = again.room(room, { from: { last: 50 } });
    const cached = await reopened.history();
    expect(seqs(cached)).toEqual(range(2_451, 2_500));
    const fromCache = await reopened.loadOlder(100);
    expect(seqs(fromCache.messages)).toEqual(range(2_351, 2_450));
    expect(fromCache.hasMore).toBe(true);
  }, 60_000);

  it('waits for the window before loading older messages, and runs concurrent loadOlder calls one after another', async () => {
    const room = `window-early-${Date.now()}`;
    await publishRaw(room, 1, 600);
    const client = testClient({ relays: [relay.url], token: await tokenFor('bo') });
    const opened = client.room(room, { from: { last: 50 } });
    const events: RoomMessage[] = [];
    opened.on('message', (m) => events.push(m));
    await opened.history();
    // Called before the window arrived: it waits for it instead of saying there is nothing older.
    const early = await opened.loadOlder(100);
    expect(seqs(early.messages)).toEqual(range(451, 550));
    expect(early.hasMore).toBe(true);
    const [a, b] = await Promise.all([opened.loadOlder(100), opened.loadOlder(100)]);
    expect([seqs(a.messages), seqs(b.messages)]).toEqual([range(351, 450), range(251, 350)]);
    await waitFor(() => events.length === 50, 'the window');
    expect(seqs(events)).toEqual(range(551, 600));
  });

  it('answers an empty window for a room with no messages yet, then delivers from the first', async () => {
    const room = `window-empty-${Date.now()}`;
    const client = testClient({ relays: [relay.url], token: await tokenFor('ana') });
    const opened = client.room(room, { from: { last: 50 } });
    const events: RoomMessage[] = [];
    opened.on('message', (m) => events.push(m));
    expect(await opened.history()).toEqual([]);
    await waitFor(() => client.state === 'online', 'online');
    await publishRaw(room, 1, 3);
    await waitFor(() => events.length === 3, 'three messages');
    expect(seqs(events)).toEqual([1, 2, 3]);
    expect(await opened.loadOlder(10)).toEqual({ messages: [], hasMore: false });
  });
});
