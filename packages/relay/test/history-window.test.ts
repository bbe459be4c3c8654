/**
 * History windows against a relay over a real Redis, with plain socket.io-client: a big room (filled
 * straight into Redis with pipelined appends in the relay's layout) answers a `last: 50` join in one
 * round trip, about as fast as a 1,000-message room; backward pages from there reach seq 1 with no
 * gap or duplicate; no page on the wire exceeds the byte bound. BIG_ROOM_MESSAGES sets the size
 * (1,000,000 for the figures in the README; 100,000 by default to keep the suite short).
 */
import { DEFAULT_LIMITS, type RoomPage } from '@partyline/protocol';
import { startRedis, type RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, expectOk, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

const BIG = Number(process.env.BIG_ROOM_MESSAGES ?? 100_000);
const SMALL = 1_000;
let redis: RedisServer;
let relay: RunningRelay;
let socket: ClientSocket;

/** Writes `count` messages into a room the way the append script does (meta + stream entries `<seq>-0`). */
async function fill(room: string, count: number, body: (seq: number) => string): Promise<void> {
  const client = new Redis(redis.url);
  for (let from = 1; from <= count; from += 10_000) {
    const pipeline = client.pipeline();
    for (let seq = from; seq < Math.min(from + 10_000, count + 1); seq++) {
      pipeline.xadd(`pl:{${room}}:log`, `${seq}-0`, 'i', `m${seq}`, 't', 'chat', 'b', body(seq), 's', 'filler', 'ts', String(Date.now()));
    }
    await pipeline.exec();
  }
  await client.hset(`pl:{${room}}:meta`, 'epoch', `epoch-${room}`, 'seq', count);
  client.disconnect();
}

beforeAll(async () => {
  redis = await startRedis();
  const started = performance.now();
  await Promise.all([fill('big', BIG, (seq) => `{"text":"message ${seq}"}`), fill('small', SMALL, (seq) => `{"text":"message ${seq}"}`)]);
  console.log(`[history window] filled ${BIG.toLocaleString('en')} + ${SMALL.toLocaleString('en')} messages in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  relay = await startRelay({ redisUrl: redis.url, retention: { maxMessages: 0, maxAgeMs: 0 } });
  socket = await connectClient(relay.url, await tokenFor('ana', ['*']));
}, 180_000);
afterAll(async () => {
  socket?.close();
  await relay?.relay.close();
  await redis?.stop();
});

/** Median time of `runs` joins with `last: 50` (each on the same connection, one round trip each). */
async function lastFiftyMs(room: string, runs = 15): Promise<{ ms: number; page: RoomPage }> {
  const times: number[] = [];
  let page: RoomPage | undefined;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    page = expectOk(await request<RoomPage>(socket, 'room:join', { room, last: 50 }));
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(runs / 2)]!, page: page! };
}

describe('history windows on a big room', () => {
  it('answers last: 50 in one round trip, in a big room about as fast as in a small one', async () => {
    await lastFiftyMs('small', 5); // warm up (JIT, script cache) before measuring either
    await lastFiftyMs('big', 5);
    const small = await lastFiftyMs('small');
    const big = await lastFiftyMs('big');
    console.log(`[history window] join last: 50 — ${SMALL.toLocaleString('en')} messages: ${small.ms.toFixed(2)} ms, ${BIG.toLocaleString('en')}: ${big.ms.toFixed(2)} ms (ratio ${(big.ms / small.ms).toFixed(2)})`);
    expect(big.page.messages.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => BIG - 49 + i));
    expect(big.page).toMatchObject({ epoch: 'epoch-big', firstSeq: 1, headSeq: BIG, hasMore: false, hasOlder: true });
  });

  it('pages backwards from the window to seq 1 with no gap and no duplicate', async () => {
    const first = expectOk(await request<RoomPage>(socket, 'room:join', { room: 'big', last: 50 }));
    let expected = first.messages[0]!.seq - 1;
    let before = first.messages[0]!.seq;
    let pages = 0;
    const started = performance.now();
    for (let more = first.hasOlder === true; more; pages++) {
      const page = expectOk(await request<RoomPage>(socket, 'room:read', { room: 'big', before }));
      // Each page ascending, ending right before the previous one: walk it backwards.
      for (let i = page.messages.length - 1; i >= 0; i--) expect(page.messages[i]!.seq).toBe(expected--);
      before = page.messages[0]!.seq;
      more = page.hasOlder === true;
    }
    console.log(`[history window] ${pages} backward pages to seq 1 in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    expect(expected).toBe(0);
  }, 300_000);

  it('never puts more than the byte bound on the wire in one page, whatever the message sizes', async () => {
    // 200 messages of 60 KiB bodies full of characters JSON escapes.
    await fill('heavy', 200, (seq) => `${'"\\'.repeat(20_000)}${String.fromCharCode(1).repeat(3_000)}${seq}`);
    const frames: number[] = [];
    const measure = (page: RoomPage) => frames.push(Buffer.byteLength(JSON.stringify(page.messages)));
    measure(expectOk(await request<RoomPage>(socket, 'room:join', { room: 'heavy', last: 500 })));
    measure(expectOk(await request<RoomPage>(socket, 'room:read', { room: 'heavy', since: 0, limit: 500 })));
    measure(expectOk(await request<RoomPage>(socket, 'room:read', { room: 'heavy', before: 150, limit: 500 })));
    console.log(`[history window] heavy pages on the wire: ${frames.map((bytes) => `${(bytes / 1024).toFixed(0)} KiB`).join(', ')} (bound ${DEFAULT_LIMITS.maxPageBytes / 1024} KiB)`);
    for (const bytes of frames) expect(bytes).toBeLessThanOrEqual(DEFAULT_LIMITS.maxPageBytes);
  });
});
