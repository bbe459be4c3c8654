/**
 * Regression test (found in review, issue 11: silent divergence): a view that joined `from: 'now'` stands at the head
 * seq with no id (room.ts #startAtHead: lastId undefined), so its positioned rejoin carries no
 * `sinceId` and the relay can only check `since > headSeq`. If the store loses its unsynced tail and
 * new messages take those seqs *and more* before the member is back, the member continues after
 * the new head's old number: the new messages at the reused seqs — all published after it joined —
 * are skipped, with no reset.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import type { ResetContext } from '../src/index.js';
import { readLog } from './support/app-view.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, record, testClient } from './support/sdk-client.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let redis: RedisServer;
let relay: InProcessRelay;
let proxy: TcpProxy;

beforeAll(async () => {
  redis = await startRedis({ fsync: 'everysec', fsyncEveryMs: 3_600_000 });
  relay = await startRelay({ redisUrl: redis.url });
  proxy = await startTcpProxy(relay.port);
}, 60_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await proxy?.close();
  await relay?.close();
  await redis?.stop();
});

describe('a from-now view and a log that lost its tail', () => {
  it('gets the messages published after it joined, or a reset — never a silent skip', { timeout: 60_000 }, async () => {
    const room = `now-div-${Date.now()}`;
    const sender = testClient({ relays: [relay.url], token: await tokenFor('sam') });
    const publish = async (tag: string, count: number) => {
      for (let i = 1; i <= count; i++) await (await sender.room(room).publish('chat', { tag, i })).sent;
    };
    await publish('durable', 5);
    redis.markDurable();
    await publish('unsynced', 3);

    const member = testClient({ relays: [proxy.url], token: await tokenFor('nora') });
    const handle = member.room(room, { from: 'now' });
    const seen = record(handle);
    const resets: ResetContext[] = [];
    handle.on('reset', (reset) => resets.push(reset));
    await waitFor(() => member.state === 'online', 'member online');
    await new Promise((resolve) => setTimeout(resolve, 300)); // joined at head 8

    proxy.sever();
    await waitFor(() => member.state !== 'online', 'member offline');
    await redis.restart({ loseUnsynced: true });
    await waitFor(async () => (await readLog(relay.url, room).catch(() => [])).length === 5, 'log back to 1..5, same epoch');
    await publish('after-crash', 4); // seqs 6, 7, 8 again, and 9 — all after the member joined
    const log = await readLog(relay.url, room);
    expect(log.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    proxy.restore();
    await waitFor(() => seen.seqs().includes(9), 'member got seq 9', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const got = seen.messages.map(({ seq, id }) => ({ seq, id }));
    if (resets.length === 0) expect(got, `events [${seen.seqs()}], no reset`).toEqual(log.slice(5));
  });
});
