/**
 * The webhook queue and dead letters, one contract for the memory and the Redis implementation
 * (a real redis-server): rooms come due in order and leave the queue while leased or deferred;
 * dead letters are listed a page at a time, bounded, and go through replay and back. Plus the retry
 * verdicts: final 4xx at once, attempts and age used up, Retry-After honoured.
 */
import { startRedis, type RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryWebhookState, createRedisWebhookState, MAX_DEAD_LETTERS, type DeadLetter, type WebhookState } from '../src/store/webhook-state.js';
import { isFinalStatus, judgeFailure } from '../src/webhook-retry.js';

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

const letter = (id: string, at = 1_000): DeadLetter => ({ id, type: 'message.appended', room: 'r', data: { seq: 1 }, attempts: 1, firstAttemptAt: at, lastAttemptAt: at, lastStatus: 400, lastError: 'HTTP 400' });

const implementations: [string, () => WebhookState][] = [
  ['memory', () => createMemoryWebhookState()],
  ['redis', () => createRedisWebhookState(client, `t${Math.random().toString(36).slice(2)}:`)],
];

describe.each(implementations)('webhook state (%s)', (_name, create) => {
  it('queues rooms by due time; a leased or deferred room is not due; a room held elsewhere is tried again a second later', async () => {
    const state = create();
    await state.markDirty('a');
    await state.markDirty('b');
    const now = Date.now() + 1;
    expect(await state.dueRooms(10, now)).toEqual(['a', 'b']);
    expect(await state.lease('a', 'relay-1', 15_000)).toBe(true);
    expect(await state.dueRooms(10, now)).toEqual(['b']);
    await state.defer('b', now + 60_000);
    await state.markDirty('b'); // an append keeps the retry time
    expect(await state.dueRooms(10, now)).toEqual([]);
    expect(await state.dueRooms(10, now + 60_000)).toEqual(['a', 'b']); // a's lease would have run out by then
    expect(await state.lease('a', 'relay-2', 15_000)).toBe(false);
    expect(await state.dueRooms(10, now + 14_000)).toEqual([]);
    await state.release('a', 'relay-1');
    expect(await state.lease('a', 'relay-2', 15_000)).toBe(true);
    await state.clean('a');
    expect(await state.dueRooms(10, now + 60_000)).toEqual(['b']);
  });

  it('keeps the failed attempts of a room’s head event until cleared', async () => {
    const state = create();
    expect(await state.failing('r')).toBeUndefined();
    const record = { id: 'msg_x', attempts: 2, firstAttemptAt: 1, lastAttemptAt: 2, lastError: 'HTTP 503', lastStatus: 503 };
    await state.setFailing('r', record);
    expect(await state.failing('r')).toEqual(record);
    await state.setFailing('r', undefined);
    expect(await state.failing('r')).toBeUndefined();
  });

  it('lists dead letters a page at a time, once per id, and takes them through replay: delivered they are gone, failed they are listed again', async () => {
    const { deadLetters } = create();
    for (const id of ['a', 'b', 'c', 'b']) await deadLetters.add(letter(id));
    const first = await deadLetters.list(undefined, 2);
    expect(first.letters.map((l) => l.id)).toEqual(['a', 'c']);
    const second = await deadLetters.list(first.next!, 2);
    expect({ ids: second.letters.map((l) => l.id), next: second.next }).toEqual({ ids: ['b'], next: null });

    expect(await deadLetters.requestReplay(['c', 'nope'])).toEqual(['c']);
    expect((await deadLetters.list(undefined, 10)).letters.map((l) => l.id)).toEqual(['a', 'b']);
    const [claimed, ...others] = await deadLetters.claimReplays(10, Date.now(), Date.now() + 15_000);
    expect({ claimed, others }).toEqual({ claimed: { letter: letter('c') }, others: [] });
    expect(await deadLetters.claimReplays(10, Date.now(), Date.now() + 15_000)).toEqual([]); // claimed
    const round = { id: 'c', attempts: 1, firstAttemptAt: 5, lastAttemptAt: 5, lastError: 'HTTP 503', lastStatus: 503 };
    await deadLetters.retryReplay('c', round, 0);
    expect(await deadLetters.claimReplays(10, Date.now(), Date.now() + 15_000)).toEqual([{ letter: letter('c'), round }]);
    await deadLetters.add({ ...letter('c'), attempts: 8 }); // failed for good: listed again, at the end
    expect((await deadLetters.list(undefined, 10)).letters.map((l) => [l.id, l.attempts])).toEqual([['a', 1], ['b', 1], ['c', 8]]);

    expect(await deadLetters.requestReplay('all')).toEqual(['a', 'b', 'c']);
    for (const { letter: claimedLetter } of await deadLetters.claimReplays(10, Date.now(), Date.now() + 15_000)) await deadLetters.replayed(claimedLetter.id);
    expect(await deadLetters.list(undefined, 10)).toEqual({ letters: [], next: null });
    expect(await deadLetters.claimReplays(10, Date.now() + 60_000, 0)).toEqual([]);
  });

  it(`keeps the newest ${MAX_DEAD_LETTERS} dead letters`, async () => {
    const { deadLetters } = create();
    // Sent together (one pipeline on Redis), applied in order.
    await Promise.all(Array.from({ length: MAX_DEAD_LETTERS + 3 }, (_, n) => deadLetters.add(letter(`l${n}`))));
    const page = await deadLetters.list(undefined, 2);
    expect(page.letters.map((l) => l.id)).toEqual(['l3', 'l4']);
  }, 60_000);
});

describe('retry verdicts', () => {
  const policy = { maxAttempts: 3, maxAgeMs: 60_000 };
  it('gives up at once on a final 4xx, after the attempts or at the age limit; retries 3xx, 408, 429, 5xx and no answer', () => {
    expect([301, 307, 400, 401, 404, 408, 410, 422, 429, 500, 503].filter(isFinalStatus)).toEqual([400, 401, 404, 410, 422]);
    expect(judgeFailure(undefined, 'e', { final: true, status: 400, error: 'HTTP 400' }, 0, policy)).toMatchObject({ dead: 'refused', record: { attempts: 1 } });
    const once = judgeFailure(undefined, 'e', { final: false, error: 'ECONNREFUSED' }, 0, policy);
    expect(once).toMatchObject({ record: { id: 'e', attempts: 1, firstAttemptAt: 0 } });
    expect('retryAt' in once && once.retryAt).toBeGreaterThanOrEqual(250);
    const twice = judgeFailure(once.record, 'e', { final: false, status: 503, error: 'HTTP 503' }, 1_000, policy);
    expect(judgeFailure(twice.record, 'e', { final: false, status: 503, error: 'HTTP 503' }, 5_000, policy)).toMatchObject({ dead: 'attempts', record: { attempts: 3, firstAttemptAt: 0, lastAttemptAt: 5_000 } });
    // Another event's record does not count; the age limit ends attempts, the last one at the deadline.
    expect(judgeFailure(twice.record, 'f', { final: false, error: 'x' }, 9_000, policy)).toMatchObject({ record: { attempts: 1, firstAttemptAt: 9_000 } });
    expect(judgeFailure(once.record, 'e', { final: false, error: 'x' }, 60_000, policy)).toMatchObject({ dead: 'age' });
    expect(judgeFailure(once.record, 'e', { final: false, error: 'x', retryAfterMs: 3_600_000 }, 1_000, policy)).toMatchObject({ retryAt: 60_000 });
  });
});
