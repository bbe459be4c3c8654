/**
 * A room's log is bounded in bytes (`--retention-bytes`), beside count and age: relay processes on
 * the memory store and on a real Redis take 2.6 MB of 64 KiB bodies into one room, and what the log
 * holds afterwards — read back and summed — stays within the bound, newest kept, `firstSeq` saying
 * where it starts. And a Redis log written before bytes were counted comes within the bound too.
 */
import type { LogMessage } from '@partyline/protocol';
import { startRedis, type RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/index.js';
import { connectClient, expectOk, publish, request, TEST_SECRET, tokenFor, type ClientSocket } from './support/harness.js';
import { startRelayProcess, type RelayProcess } from './support/relay-process.js';

const BOUND = 256 * 1024;
const BODY = 64 * 1024 - 64;

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe.each([
  { store: 'memory', args: () => [] },
  { store: 'redis', args: () => ['--redis-url', redis.url] },
])('a room log on the $store store, through a relay process with --retention-bytes', ({ args }) => {
  let relay: RelayProcess | undefined;
  let socket: ClientSocket | undefined;
  afterAll(async () => {
    socket?.close();
    await relay?.stop();
  });

  it('keeps the newest messages within the byte bound, and readers see where it starts', async () => {
    // The byte rate is off here: this is about what the log keeps, not how fast it is written.
    relay = await startRelayProcess(['--token-secret', TEST_SECRET, '--retention-bytes', String(BOUND), '--user-byte-rate', '0', ...args()]);
    socket = await connectClient(relay.url, await tokenFor('ana', ['big:*']));
    const room = `big:${Date.now()}`;
    for (let batch = 0; batch < 5; batch++) {
      const messages = Array.from({ length: 8 }, (_, i) => ({ id: `m${batch * 8 + i + 1}`, type: 'blob', body: 'b'.repeat(BODY) }));
      expectOk(await publish(socket, room, messages));
    }
    const page = expectOk(await request<{ firstSeq: number; headSeq: number; messages: LogMessage[] }>(socket, 'room:read', { room, since: 0, limit: 100 }));
    const bodyBytes = page.messages.reduce((sum, message) => sum + Buffer.byteLength(message.body), 0);
    console.log(`${page.messages.length} of 40 messages kept, ${bodyBytes} body bytes (bound ${BOUND})`);
    expect(bodyBytes).toBeLessThanOrEqual(BOUND);
    // Each weighs ~65,482 bytes (id, type, body, sender): the newest four fit, five would not. Oldest
    // first and no gap, as trimming by count leaves a log; firstSeq says where it starts.
    expect(page.messages.map((message) => message.seq)).toEqual([37, 38, 39, 40]);
    expect(page).toMatchObject({ firstSeq: 37, headSeq: 40 });
  });
});

describe('a Redis log written before its bytes were counted', () => {
  it('counts from the next message on, trims the older ones first, and then holds the bound with an exact total', async () => {
    const prefix = `legacy${Date.now()}:`;
    const client = new Redis(redis.url);
    const message = (id: string) => ({ id, type: 'blob', body: 'l'.repeat(10_000), sender: 'ana' });
    const unbounded = createRedisStore({ url: redis.url, keyPrefix: prefix });
    try {
      for (let i = 1; i <= 10; i++) await unbounded.append('r', [message(`old${i}`)]);
      // What the meta hash of a log from before this version looks like: no byte fields.
      await client.hdel(`${prefix}{r}:meta`, 'bytes', 'bytes_from');
      const bounded = createRedisStore({ url: redis.url, keyPrefix: prefix, retention: { maxBytes: 50_000 } });
      try {
        for (let i = 1; i <= 3; i++) await bounded.append('r', [message(`new${i}`)]);
        // Counted: the three new ones (30 KB, within the bound); the old ones go by count and age as before.
        expect((await bounded.read('r', 0, 100)).messages).toHaveLength(13);
        for (let i = 4; i <= 6; i++) await bounded.append('r', [message(`new${i}`)]);
        // Six counted (10,011 bytes each) pass 50,000: every old message goes first, then the oldest new ones.
        const page = await bounded.read('r', 0, 100);
        expect(page.messages.map((m) => m.id)).toEqual(['new3', 'new4', 'new5', 'new6']);
        const weight = page.messages.reduce((sum, m) => sum + Buffer.byteLength(m.id + m.type + m.body + m.sender), 0);
        expect(Number(await client.hget(`${prefix}{r}:meta`, 'bytes'))).toBe(weight);
      } finally {
        await bounded.close();
      }
    } finally {
      await unbounded.close();
      client.disconnect();
    }
  });
});
