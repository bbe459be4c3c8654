import { ErrorKind, type LogMessage } from '@partyline/protocol';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, expectOk, publish, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

let redis: RedisServer;
let relays: RunningRelay[] = [];
let sockets: ClientSocket[] = [];

beforeAll(async () => {
  redis = await startRedis({ appendOnly: true });
  relays = [await startRelay({ redisUrl: redis.url }), await startRelay({ redisUrl: redis.url })];
  sockets = await Promise.all(relays.map(async ({ url }) => connectClient(url, await tokenFor('ana', ['outage']))));
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const { relay } of relays) await relay.close();
  await redis?.stop();
});

describe('Redis killed mid-run', () => {
  it('answers retryable unavailable while Redis is gone, recovers by itself, and keeps every acked message', async () => {
    const acked = new Map<string, number>();
    const refusals: string[] = [];
    let next = 0;
    let running = true;

    /** One publisher per relay, each retrying its current message until it is acked (as the SDK does). */
    const publishers = sockets.map(async (socket, p) => {
      while (running) {
        const id = `p${p}-m${next++}`;
        for (;;) {
          const ack = await publish(socket, 'outage', [{ id }]);
          const result = ack.ok ? ack.results[0] : undefined;
          if (result && 'seq' in result) {
            acked.set(id, result.seq);
            break;
          }
          const error = ack.ok ? (result as { error: { kind: string; retryable: boolean } }).error : ack.error;
          expect(error.retryable).toBe(true);
          refusals.push(error.kind);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    });

    await waitFor(() => acked.size >= 50, '50 acks before the crash');
    await redis.kill();
    await waitFor(() => refusals.length >= 4, 'publishes refused while Redis is down');
    // The relay process is still answering other requests while its store is away.
    expect(await request(sockets[0]!, 'room:read', { room: 'outage', since: 0 })).toMatchObject({ ok: false, error: { kind: ErrorKind.Unavailable, retryable: true } });

    const ackedBeforeRestart = acked.size;
    await redis.restart();
    await waitFor(() => acked.size >= ackedBeforeRestart + 50, '50 more acks after Redis returned', 20_000);
    running = false;
    await Promise.all(publishers);

    expect(new Set(refusals)).toEqual(new Set([ErrorKind.Unavailable]));
    const log: LogMessage[] = [];
    let since = 0;
    for (;;) {
      const page = expectOk(await request<{ messages: LogMessage[]; hasMore: boolean }>(sockets[1]!, 'room:read', { room: 'outage', since }));
      log.push(...page.messages);
      if (!page.hasMore) break;
      since = page.messages.at(-1)!.seq;
    }
    // Every acked message is in the log at its acked seq, exactly once, and the log has no gap.
    expect(log.map((m) => m.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
    expect(new Set(log.map((m) => m.id)).size).toBe(log.length);
    const bySeq = new Map(log.map((m) => [m.seq, m.id]));
    for (const [id, seq] of acked) expect(bySeq.get(seq)).toBe(id);

    // Live broadcast between the relays works again too (the adapter re-subscribed by itself).
    const live: LogMessage[] = [];
    sockets[1]!.on('room:messages', (event) => live.push(...event.messages));
    expectOk(await request(sockets[1]!, 'room:join', { room: 'outage' }));
    expectOk(await publish(sockets[0]!, 'outage', [{ id: 'after-recovery' }]));
    await waitFor(() => live.some((m) => m.id === 'after-recovery'), 'live delivery across relays after recovery');
  });
});
