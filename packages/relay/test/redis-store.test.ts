import { startRedis, type RedisServer } from '@partyline/test-support';
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

describePresenceStore('redis', async () => createRedisPresenceStore({ url: redis.url, keyPrefix: `p${Date.now()}:` }));
