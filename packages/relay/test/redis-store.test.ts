import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/index.js';
import { describeRoomLogStore } from './support/room-log-store-contract.js';
import { describePresenceStore } from './support/presence-store-contract.js';
import { createRedisPresenceStore } from '../src/store/redis-presence-store.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

async function flushAll(): Promise<void> {
  const client = new Redis(redis.url);
  await client.flushall();
  client.disconnect();
}

describeRoomLogStore('redis', async () => {
  await flushAll();
  return {
    create: async (options) => createRedisStore({ url: redis.url, ...options }),
    loseData: flushAll,
    cleanup: async () => {},
  };
});

describe('redis store layout', () => {
  it('keeps every key of a room in one hash slot', async () => {
    await flushAll();
    const store = createRedisStore({ url: redis.url });
    await store.append('party:abc', [{ id: 'm1', type: 'chat', body: '{}', sender: 'ana' }]);
    const client = new Redis(redis.url);
    const keys = await client.keys('*');
    client.disconnect();
    await store.close();
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const key of keys) expect(key).toMatch(/^pl:\{party:abc\}:/);
  });
});

describe('bounded storage on Redis', () => {
  it('leaves no key behind for 1,000 joins and reads of never-used rooms through a relay', async () => {
    await flushAll();
    const { startRelay, connectClient, request, tokenFor } = await import('./support/harness.js');
    const running = await startRelay({ redisUrl: redis.url });
    const socket = await connectClient(running.url, await tokenFor('ana', ['*']));
    for (let i = 0; i < 1000; i++) {
      await request(socket, i % 2 ? 'room:join' : 'room:read', { room: `never-used-${i}`, since: 0 });
    }
    const client = new Redis(redis.url);
    const keys = await client.keys('pl:{*');
    client.disconnect();
    socket.close();
    await running.relay.close();
    expect(keys).toEqual([]);
  });

  it('gives an active room’s meta and log an idle expiry: a room nobody writes to goes away by itself', async () => {
    await flushAll();
    const store = createRedisStore({ url: redis.url, retention: { maxAgeMs: 3_600_000 }, dedupRetentionMs: 60_000 });
    await store.append('idle-room', [{ id: 'm1', type: 'chat', body: '{}', sender: 'ana' }]);
    const client = new Redis(redis.url);
    const [metaTtl, logTtl] = await Promise.all([client.pttl('pl:{idle-room}:meta'), client.pttl('pl:{idle-room}:log')]);
    client.disconnect();
    await store.close();
    for (const ttl of [metaTtl, logTtl]) {
      expect(ttl).toBeGreaterThan(3_500_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
    }
  });
});

describe('annotation keys on Redis', () => {
  const say = (id: string) => ({ id, type: 'chat', body: '{}', sender: 'ana' });
  const react = (id: string, target: string, key: string) => ({ id, type: 'pl:react', body: JSON.stringify({ id: target, key }), sender: 'ana' });

  it('creates no summary keys for a plain room, and gives an annotated room\'s keys the idle expiry of its log', async () => {
    await flushAll();
    const store = createRedisStore({ url: redis.url, retention: { maxAgeMs: 3_600_000 }, dedupRetentionMs: 60_000 });
    await store.append('plain', [say('m1')]);
    await store.append('annotated', [say('m1'), react('a1', 'm1', '👍')]);
    const client = new Redis(redis.url);
    const plainKeys = (await client.keys('pl:{plain}:*')).filter((key) => !key.includes(':dd:')).sort();
    const ttls = await Promise.all(['meta', 'log', 'sum', 'rx', 'an', 'reads'].map((suffix) => client.pttl(`pl:{annotated}:${suffix}`)));
    client.disconnect();
    await store.close();
    expect(plainKeys).toEqual(['pl:{plain}:log', 'pl:{plain}:meta', 'pl:{plain}:reads']);
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(3_500_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
    }
  });

  it('trims summary fields, reactors and the annotation index with the log entries', async () => {
    await flushAll();
    const store = createRedisStore({ url: redis.url, retention: { maxMessages: 20 } });
    await store.append('r', Array.from({ length: 10 }, (_, i) => say(`m${i}`)));
    await store.append('r', Array.from({ length: 10 }, (_, i) => react(`a${i}`, `m${i}`, '👍')));
    const client = new Redis(redis.url);
    const sizes = () => Promise.all([client.hlen('pl:{r}:sum'), client.zcard('pl:{r}:rx'), client.zcard('pl:{r}:an')]);
    expect(await sizes()).toEqual([10, 10, 10]);
    // Five more entries push m0..m4 out: their summaries and reactors go; the annotations (seq 11..20) stay.
    await store.append('r', Array.from({ length: 5 }, (_, i) => say(`n${i}`)));
    expect(await sizes()).toEqual([5, 5, 10]);
    await store.append('r', Array.from({ length: 10 }, (_, i) => say(`o${i}`)));
    expect(await sizes()).toEqual([0, 0, 5]);
    client.disconnect();
    await store.close();
  });

  it('publishes annotations on the feed like messages, in the same step', async () => {
    await flushAll();
    const subscriber = new Redis(redis.url);
    const received: string[] = [];
    subscriber.on('message', (_channel: string, payload: string) => received.push(payload));
    await subscriber.subscribe('feed');
    const store = createRedisStore({ url: redis.url, feed: { channel: 'feed', origin: 'relay-a' } });
    await store.append('r', [say('m1'), react('a1', 'm1', '👍')]);
    // A noop is not published.
    await store.append('r', [react('a2', 'm1', '👍')]);
    await store.append('r', [say('m2')]);
    await waitFor(() => received.length >= 2, 'two feed messages');
    subscriber.disconnect();
    await store.close();
    const entries = received.map((payload) => (JSON.parse(payload.split('\n')[2]!) as { m: unknown[][] }).m.map((entry) => [entry[0], entry[2]]));
    expect(entries).toEqual([
      [
        [1, 'chat'],
        [2, 'pl:react'],
      ],
      [[3, 'chat']],
    ]);
  });
});

describePresenceStore('redis', async () => createRedisPresenceStore({ url: redis.url, keyPrefix: `p${Date.now()}:` }));

describe('acking only what a replica confirmed (ackReplicas)', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs the append before its WAIT even when the server has lost its scripts (a promoted or restarted master)', async () => {
    const store = createRedisStore({ url: server.url, ackReplicas: 1, ackReplicasTimeoutMs: 20 });
    const admin = new Redis(server.url);
    const monitor = await new Redis(server.url).monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      const command = args[0]?.toLowerCase() ?? '';
      if (['evalsha', 'eval', 'wait'].includes(command)) seen.push(command);
    });
    try {
      await admin.script('FLUSH');
      // No replica: WAIT answers 0 and the append is refused — what matters is the order it ran in.
      await expect(store.append('noscript', [{ id: 'm1', type: 'chat', body: '"hi"', sender: 'ana' }])).rejects.toThrow(/replicas confirmed/);
      await waitFor(() => seen.length >= 3 || undefined, 'the commands in the monitor');
      // ioredis's own NOSCRIPT fallback would send EVAL after the WAIT: evalsha, wait, eval.
      expect(seen.slice(0, 4)).toEqual(['evalsha', 'wait', 'eval', 'wait']);
    } finally {
      monitor.disconnect();
      admin.disconnect();
      await store.close();
    }
  });
});
