/**
 * Per-user rate limits that hold across relays: two limiters (two relays) share one tally in a real
 * Redis; what one user spends on relay A counts against them on relay B, another user is untouched.
 * Then the same through two real relays: a user with a connection on each cannot pass the limit by
 * spreading their publishes.
 */
import { ErrorKind } from '@partyline/protocol';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryTally, redisTally, UserRateLimiter } from '../src/user-rate-limit.js';
import { connectClient, publish, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

let redis: RedisServer;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

describe('UserRateLimiter', () => {
  const noError = (error: Error) => {
    throw error;
  };

  it('counts a user over every relay sharing the Redis tally, per second', async () => {
    let now = 10_000;
    const tally = redisTally(client, `t${Date.now()}:`);
    const relayA = new UserRateLimiter({ messagesPerSecond: 100, bytesPerSecond: 0 }, tally, noError, 60_000, () => now);
    const relayB = new UserRateLimiter({ messagesPerSecond: 100, bytesPerSecond: 0 }, tally, noError, 60_000, () => now);
    try {
      expect(relayA.take('ana', 60)).toBe(0);
      await relayA.flush();
      // B has not counted ana yet: its first request reports to the tally and learns A's 60.
      expect(relayB.take('ana', 30)).toBe(0);
      await relayB.flush();
      expect(relayB.take('ana', 20)).toBeGreaterThan(0); // 60 + 30 + 20 > 100
      expect(relayB.take('ana', 10)).toBe(0); // exactly 100
      await relayB.flush();
      await relayA.flush();
      expect(relayA.take('ana', 1)).toBe(0); // A still believes 60: it learns at its next report
      await relayA.flush();
      expect(relayA.take('ana', 1)).toBeGreaterThan(0);
      expect(relayA.take('bob', 100)).toBe(0);
      // The next second starts from nothing, on both relays.
      now += 1_000;
      expect(relayA.take('ana', 100)).toBe(0);
      expect(relayB.take('ana', 1)).toBe(0);
    } finally {
      relayA.stop();
      relayB.stop();
    }
  });

  it('answers how long until the second ends, and holds the limit locally when the tally fails', async () => {
    let now = 5_250;
    let failing = false;
    const errors: Error[] = [];
    const flaky = memoryTally();
    const limiter = new UserRateLimiter(
      { messagesPerSecond: 50, bytesPerSecond: 0 },
      { add: (window, counts) => (failing ? Promise.reject(new Error('tally down')) : flaky.add(window, counts)) },
      (error) => errors.push(error),
      60_000,
      () => now,
    );
    try {
      expect(limiter.take('ana', 50)).toBe(0);
      expect(limiter.take('ana', 1)).toBe(750);
      now += 750;
      failing = true;
      expect(limiter.take('ana', 30)).toBe(0);
      await limiter.flush();
      expect(errors.map((error) => error.message)).toEqual(['tally down']);
      expect(limiter.take('ana', 30)).toBeGreaterThan(0); // 30 counted locally + 30 > 50
    } finally {
      limiter.stop();
    }
  });
});

describe('per-user limit across two relays over Redis', () => {
  let relays: RunningRelay[] = [];
  const sockets: ClientSocket[] = [];
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    for (const { relay } of relays) await relay.close();
  });

  it('refuses a user spreading publishes over two relays once their total passes the limit; others are untouched', async () => {
    const options = { redisUrl: redis.url, redisKeyPrefix: `u${Date.now()}:`, userRateLimitPerSecond: 200, limits: { maxBatchMessages: 50 } };
    relays = [await startRelay(options), await startRelay(options)];
    const anaToken = await tokenFor('ana', ['party:*']);
    const [anaOnA, anaOnB, bobOnB] = await Promise.all([
      connectClient(relays[0]!.url, anaToken),
      connectClient(relays[1]!.url, anaToken),
      connectClient(relays[1]!.url, await tokenFor('bob', ['party:*'])),
    ]);
    sockets.push(anaOnA!, anaOnB!, bobOnB!);
    const batch = (who: string, n: number) => Array.from({ length: 50 }, (_, i) => ({ id: `${who}-${n}-${i}` }));
    // Alternate relays until ana is refused; within one second she may not get much past 200.
    let accepted = 0;
    let refusal: { kind: string; message: string } | undefined;
    await waitFor(async () => {
      for (let n = 0; !refusal; n++) {
        const ack = await publish(n % 2 ? anaOnB! : anaOnA!, 'party:1', batch(`ana${Date.now()}`, n));
        if (ack.ok) accepted += 50;
        else refusal = ack.error;
        if (n > 40) break;
      }
      return refusal !== undefined;
    }, 'ana to be refused');
    expect(refusal).toMatchObject({ kind: ErrorKind.RateLimited, message: expect.stringContaining('this user') });
    // Each relay admits ana up to what it knows of the other's count (one report interval behind).
    expect(accepted).toBeLessThanOrEqual(400);
    const bob = await publish(bobOnB!, 'party:1', batch('bob', 0));
    expect(bob.ok).toBe(true);
  });
});
