import { startRedis, type RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/index.js';
import { describeRoomLogStore } from './support/room-log-store-contract.js';

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
