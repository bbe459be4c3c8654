/**
 * Bytes per user. A real relay process with its default flags takes a socket writer at ~12 MB/s of
 * 64 KiB bodies: the writer is told `rate_limited` (with retryAfterMs) within a second, and the relay's
 * resident memory (VmRSS of the child process, not of this test) stays within 20 MB of where it started.
 * Then the HTTP publish path and two relays sharing Redis: the bytes a user sends through either count
 * against one per-user byte rate.
 */
import { readFileSync } from 'node:fs';
import { ErrorKind, type WireError } from '@partyline/protocol';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryTally, UserRateLimiter } from '../src/user-rate-limit.js';
import { connectClient, publish, startRelay, TEST_SECRET, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';
import { startRelayProcess, type RelayProcess } from './support/relay-process.js';

const KIB = 1024;
const MB = 1_000_000;

/** Resident memory of a process, from the kernel's own account of it. */
function residentBytes(pid: number): number {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!line) throw new Error(`no VmRSS for ${pid}`);
  return Number(line[1]) * 1024;
}

/** A batch just under 1 MiB: 15 bodies of 64 KiB less a little (id and type count too). */
function bigBatch(tag: string): { id: string; type: string; body: string }[] {
  return Array.from({ length: 15 }, (_, i) => ({ id: `${tag}-${i}`, type: 'blob', body: 'x'.repeat(64 * KIB - 64) }));
}

describe('UserRateLimiter with bytes', () => {
  it('charges messages and bytes in one check: over either, the request is refused whole and nothing is counted', async () => {
    let now = 20_000;
    const tally = memoryTally();
    const limiter = new UserRateLimiter({ messagesPerSecond: 100, bytesPerSecond: 1_000 }, tally, (error) => {
      throw error;
    }, 60_000, () => now);
    try {
      expect(limiter.take('ana', 1, 900)).toBe(0);
      expect(limiter.take('ana', 1, 200)).toBe(1_000); // 1,100 bytes > 1,000: wait for the next second
      expect(limiter.take('ana', 98, 100)).toBe(0); // the refusal counted nothing: 99 messages, 1,000 bytes
      expect(limiter.take('ana', 1, 0)).toBe(0); // 100 messages
      expect(limiter.take('ana', 1, 0)).toBeGreaterThan(0); // 101 > 100
      await limiter.flush();
      // What this relay counted reached the shared tally, under one counter per limit.
      expect(await tally.add(20, new Map([['m:ana', 0], ['b:ana', 0]]))).toEqual(new Map([['m:ana', 100], ['b:ana', 1_000]]));
      now += 1_000;
      expect(limiter.take('ana', 1, 1_000)).toBe(0);
    } finally {
      limiter.stop();
    }
  });
});

describe('one writer at ~12 MB/s against a relay process', () => {
  let relay: RelayProcess;
  let writer: ClientSocket | undefined;
  afterAll(async () => {
    writer?.close();
    await relay?.stop();
  });

  it('is refused with rate_limited within a second or two, and the relay RSS stays bounded', async () => {
    relay = await startRelayProcess(['--token-secret', TEST_SECRET]);
    const pid = relay.child.pid!;
    // A relay that has served: one batch of big bodies (another user's, within every limit) before the
    // baseline, so first-use allocations (1 MiB frame buffers, code paths) are not counted as growth.
    const warm = await connectClient(relay.url, await tokenFor('warm', ['blob:*']));
    expect((await publish(warm, 'blob:warmup', bigBatch('warm'))).ok).toBe(true);
    warm.close();
    writer = await connectClient(relay.url, await tokenFor('flooder', ['blob:*']));
    const startRss = residentBytes(pid);

    const rateBytesPerSecond = 12 * MB;
    const startedAt = Date.now();
    let sentBytes = 0;
    let batches = 0;
    let acked = 0;
    let firstRefusal: { at: number; error: WireError } | undefined;
    let peakRss = startRss;
    const socket = writer;
    const flood = setInterval(() => {
      peakRss = Math.max(peakRss, residentBytes(pid));
      // Keep sending at 12 MB/s of wall time, acks or not (a client ignoring retryAfterMs).
      while (Date.now() - startedAt < 3_000 && sentBytes < ((Date.now() - startedAt + 20) / 1000) * rateBytesPerSecond) {
        const batch = bigBatch(`b${batches++}`);
        sentBytes += batch.length * 64 * KIB;
        socket.emit('room:publish', { room: 'blob:1', messages: batch }, (ack: { ok: boolean; error?: WireError }) => {
          acked++;
          if (!ack.ok && !firstRefusal) firstRefusal = { at: Date.now() - startedAt, error: ack.error! };
        });
      }
    }, 20);
    try {
      // Three seconds of writing (the relay reads what it admits; the rest waits in TCP, held).
      await waitFor(() => Date.now() - startedAt >= 3_000, 'three seconds of flood', 10_000);
    } finally {
      clearInterval(flood);
    }
    peakRss = Math.max(peakRss, residentBytes(pid));
    const growthMb = (peakRss - startRss) / MB;
    console.log(`flood: ${(sentBytes / MB).toFixed(1)} MB in ${batches} batches, ${acked} answered; first refusal after ${firstRefusal?.at} ms; relay RSS ${(startRss / MB).toFixed(1)} → peak ${(peakRss / MB).toFixed(1)} MB (+${growthMb.toFixed(1)})`);
    expect(firstRefusal?.error).toMatchObject({ kind: ErrorKind.RateLimited, retryable: true, retryAfterMs: expect.any(Number) });
    // The goal (printed above) is a refusal within 1 s and RSS within 20 MB; the assertions leave room for a loaded
    // CI box and still fail on the old code (no refusal at all, +74–77 MB).
    expect(firstRefusal!.at).toBeLessThanOrEqual(2_000);
    expect(growthMb).toBeLessThan(40);
  });
});

describe('bytes per user over HTTP and across relays sharing Redis', () => {
  let redis: RedisServer;
  const relays: RunningRelay[] = [];
  const sockets: ClientSocket[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    for (const { relay } of relays) await relay.close();
    await redis?.stop();
  });

  it('charges socket and HTTP publishes of one user, on two relays, against one byte rate; another user is untouched', async () => {
    const options = { redisUrl: redis.url, redisKeyPrefix: `b${Date.now()}:`, userByteRatePerSecond: 2 * 1024 * KIB };
    relays.push(await startRelay(options), await startRelay(options));
    const anaToken = await tokenFor('ana', ['blob:*']);
    const anaOnA = await connectClient(relays[0]!.url, anaToken);
    const bobOnB = await connectClient(relays[1]!.url, await tokenFor('bob', ['blob:*']));
    sockets.push(anaOnA, bobOnB);
    const httpPublish = (relay: RunningRelay, tag: string) =>
      fetch(`${relay.url}/v1/rooms/blob:1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${anaToken}`, 'content-type': 'application/json' },
        // Bodies as JSON strings: each stored body is the 64 KiB string, quoted.
        body: JSON.stringify({ messages: Array.from({ length: 15 }, (_, i) => ({ id: `${tag}-${i}`, type: 'blob', body: 'y'.repeat(64 * KIB - 64) })) }),
      });

    // Ana alternates: a socket batch on relay A, an HTTP batch on relay B; within one second she gets
    // about two batches of ~1 MB through, then the relays say rate_limited (429 over HTTP).
    let refusal: { kind: string; retryAfterMs?: number | undefined; status?: number } | undefined;
    let accepted = 0;
    const started = performance.now();
    await waitFor(async () => {
      for (let n = 0; !refusal && n < 12; n++) {
        const tag = `ana-${Date.now()}-${n}`;
        if (n % 2 === 0) {
          const ack = await publish(anaOnA, 'blob:1', bigBatch(tag));
          if (ack.ok) accepted++;
          else refusal = ack.error;
        } else {
          const response = await httpPublish(relays[1]!, tag);
          if (response.ok) accepted++;
          else refusal = { ...((await response.json()) as { error: WireError }).error, status: response.status };
        }
      }
      return refusal;
    }, 'ana to be refused for her bytes');
    expect(refusal).toMatchObject({ kind: ErrorKind.RateLimited, retryAfterMs: expect.any(Number) });
    if (refusal?.status !== undefined) expect(refusal.status).toBe(429);
    // The tally counts per second-long window: the run spans ceil(seconds) + 1 of them, and in each a
    // relay admits the budget (one ~1 MB batch) plus what it has not yet seen of the other relay (one
    // batch each): at most 3 per window. Two relays counting apart would admit 4 per window, and
    // without a byte rate all 12 go through.
    const seconds = (performance.now() - started) / 1000;
    expect(accepted).toBeLessThanOrEqual(3 * (Math.ceil(seconds) + 1));
    expect((await publish(bobOnB, 'blob:1', bigBatch(`bob-${Date.now()}`))).ok).toBe(true);
  });

  it('refuses an HTTP publish past the byte rate with 429 and Retry-After', async () => {
    const relay = await startRelay({ userByteRatePerSecond: 1024 * KIB });
    relays.push(relay);
    const token = await tokenFor('carol', ['blob:*']);
    const post = (tag: string) =>
      fetch(`${relay.url}/v1/rooms/blob:2/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ messages: Array.from({ length: 15 }, (_, i) => ({ id: `${tag}-${i}`, type: 'blob', body: 'z'.repeat(64 * KIB - 64) })) }),
      });
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let n = 0; n < 10 && !refused; n++) {
      const response = await post(`c${Date.now()}-${n}`);
      statuses.push(response.status);
      if (response.status === 429) refused = response;
    }
    expect(refused, `statuses ${statuses.join(', ')}`).toBeDefined();
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused!.json()) as { error: WireError }).error).toMatchObject({ kind: ErrorKind.RateLimited, retryable: true });
  });
});
