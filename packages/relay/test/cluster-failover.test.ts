import { startRedisCluster, waitFor, type RedisCluster } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';
import { expectAckedMessagesKept, readWholeLog, startRetryingPublishers } from './support/publish-until-acked.js';

let cluster: RedisCluster;
let relays: RunningRelay[] = [];
let sockets: ClientSocket[] = [];
const room = 'failover';

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
  relays = [
    await startRelay({ redisCluster: cluster.addresses, ackReplicas: 1 }),
    await startRelay({ redisCluster: cluster.addresses, ackReplicas: 1 }),
  ];
  sockets = await Promise.all(relays.map(async ({ url }) => connectClient(url, await tokenFor('ana', [room]))));
}, 90_000);
afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const { relay } of relays) await relay.close();
  await cluster?.stop();
});

describe('Redis Cluster master killed under ackReplicas: 1', () => {
  it('loses no acked message across the failover', { timeout: 90_000 }, async () => {
    const publishers = startRetryingPublishers(sockets, room);
    await waitFor(() => publishers.acked.size >= 100, '100 acks before the kill');

    const master = cluster.masterFor(`pl:{${room}}:meta`);
    master.signal('SIGKILL');
    await waitFor(() => publishers.refusals.length > 0, 'publishes refused during the failover', 20_000);
    const ackedAtKill = publishers.acked.size;
    // The promoted replica has no replica of its own until the old master rejoins as one;
    // until then WAIT cannot be satisfied and publishes are (rightly) refused.
    await waitFor(() => cluster.masterFor(`pl:{${room}}:meta`).port !== master.port, 'a replica promoted', 30_000);
    await master.restart();
    await waitFor(() => publishers.acked.size >= ackedAtKill + 100, '100 more acks after a replica took over', 60_000);
    await publishers.stop();

    expect(cluster.masterFor(`pl:{${room}}:meta`).port).not.toBe(master.port);
    expectAckedMessagesKept(await readWholeLog(sockets[1]!, room), publishers.acked);
  });
});
