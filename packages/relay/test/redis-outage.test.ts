import { ErrorKind, type LogMessage } from '@partyline/protocol';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, expectOk, publish, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';
import { expectAckedMessagesKept, readWholeLog, startRetryingPublishers } from './support/publish-until-acked.js';

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
    const publishers = startRetryingPublishers(sockets, 'outage');
    const { acked, refusals } = publishers;

    await waitFor(() => acked.size >= 50, '50 acks before the crash');
    await redis.kill();
    await waitFor(() => refusals.length >= 4, 'publishes refused while Redis is down');
    // The relay process is still answering other requests while its store is away.
    expect(await request(sockets[0]!, 'room:read', { room: 'outage', since: 0 })).toMatchObject({ ok: false, error: { kind: ErrorKind.Unavailable, retryable: true } });

    const ackedBeforeRestart = acked.size;
    await redis.restart();
    await waitFor(() => acked.size >= ackedBeforeRestart + 50, '50 more acks after Redis returned', 20_000);
    await publishers.stop();

    expect(new Set(refusals)).toEqual(new Set([ErrorKind.Unavailable]));
    expectAckedMessagesKept(await readWholeLog(sockets[1]!, 'outage'), acked);

    // Live broadcast between the relays works again too (the adapter re-subscribed by itself).
    const live: LogMessage[] = [];
    sockets[1]!.on('room:messages', (event) => live.push(...event.messages));
    expectOk(await request(sockets[1]!, 'room:join', { room: 'outage' }));
    expectOk(await publish(sockets[0]!, 'outage', [{ id: 'after-recovery' }]));
    await waitFor(() => live.some((m) => m.id === 'after-recovery'), 'live delivery across relays after recovery');
  });
});
