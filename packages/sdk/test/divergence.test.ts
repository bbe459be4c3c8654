/**
 * A store that loses the end of a room log without a new epoch — Redis with `appendfsync everysec`
 * losing its unsynced AOF tail (simulated exactly: SIGKILL, then the AOF cut back to the last fsync)
 * — hands the lost sequences to new messages. Members that had the lost tail must hear `reset`
 * `diverged` and then agree with the new log, whether they were online (live messages) or offline
 * (positioned rejoin); never keep two histories.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import type { ResetContext, RoomMessage } from '../src/index.js';
import { readLog } from './support/app-view.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, testClient } from './support/sdk-client.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let redis: RedisServer;
let relays: InProcessRelay[];
let proxy: TcpProxy;

beforeAll(async () => {
  // The simulated fsync runs only when the test says: the loss is exactly what the test chooses.
  redis = await startRedis({ fsync: 'everysec', fsyncEveryMs: 3_600_000 });
  relays = await Promise.all([startRelay({ redisUrl: redis.url }), startRelay({ redisUrl: redis.url })]);
  proxy = await startTcpProxy(relays[1]!.port);
}, 60_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await proxy?.close();
  await Promise.all(relays.map((relay) => relay.close()));
  await redis?.stop();
});

/** A member's app view: every message event and reset, in order. */
async function member(relayUrl: string, room: string, sub: string) {
  const client = testClient({ relays: [relayUrl], token: await tokenFor(sub) });
  const handle = client.room(room);
  const timeline: (RoomMessage | ResetContext)[] = [];
  handle.on('message', (message) => timeline.push(message));
  handle.on('reset', (reset) => timeline.push(reset));
  const after = () => {
    const lastReset = timeline.findLastIndex((entry) => 'reason' in entry);
    return (timeline.slice(lastReset + 1) as RoomMessage[]).map(({ seq, id }) => ({ seq, id }));
  };
  return { client, room: handle, timeline, after, resets: () => timeline.filter((entry): entry is ResetContext => 'reason' in entry) };
}

describe('a log that lost its tail without a new epoch', () => {
  it('members that had the lost messages get reset diverged, then exactly the new log — online and offline ones', async () => {
    const room = `diverge-${Date.now()}`;
    const online = await member(relays[0]!.url, room, 'olga');
    const offline = await member(proxy.url, room, 'otto');
    const sender = testClient({ relays: [relays[0]!.url], token: await tokenFor('sam') });
    const publish = async (tag: string, count: number) => {
      for (let i = 1; i <= count; i++) await (await sender.room(room).publish('chat', { tag, i })).sent;
    };

    await publish('durable', 5);
    redis.markDurable();
    await publish('unsynced', 3);
    await waitFor(() => online.after().length === 8 && offline.after().length === 8, 'both members have seq 1..8');
    const lostIds = (await readLog(relays[0]!.url, room)).slice(5).map((entry) => entry.id);

    proxy.sever(); // otto is offline through the crash
    await waitFor(() => offline.client.state !== 'online', 'otto offline');
    await redis.restart({ loseUnsynced: true });
    await waitFor(async () => (await readLog(relays[0]!.url, room).catch(() => [])).length === 5, 'the log is back to seq 1..5, same epoch');

    // New messages take seqs 6 and 7 again.
    await publish('after-crash', 2);
    const log = await readLog(relays[0]!.url, room);
    expect(log.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(log.some((entry) => lostIds.includes(entry.id))).toBe(false);

    await waitFor(() => online.resets().length === 1 && JSON.stringify(online.after()) === JSON.stringify(log), 'olga (online) reset and agreeing with the new log');
    proxy.restore();
    await waitFor(() => offline.resets().length === 1 && JSON.stringify(offline.after()) === JSON.stringify(log), 'otto (offline) reset and agreeing with the new log');
    for (const { resets, room: handle } of [online, offline]) {
      expect(resets()).toEqual([expect.objectContaining({ room, reason: 'diverged', toSeq: 8 })]);
      expect((await handle.history()).map(({ seq, id }) => ({ seq, id }))).toEqual(log);
    }
  });
});
