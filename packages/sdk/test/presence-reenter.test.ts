/**
 * A member whose re-enter after a reconnect fails for now (the relay's Redis away: `unavailable`)
 * enters again on the same connection once Redis is back — it does not stay missing until some
 * later reconnect. Real relay, real redis-server killed and started again (empty), Node SDK clients.
 */
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, testClient } from './support/sdk-client.js';

let redis: RedisServer;
let relay: InProcessRelay;

beforeAll(async () => {
  // No AOF: the restarted Redis has no members at all, so only a new enter can bring one back.
  redis = await startRedis({ appendOnly: false });
  relay = await startRelay({ redisUrl: redis.url });
});
afterEach(closeAllClients);
afterAll(async () => {
  await relay?.close();
  await redis?.stop();
});

async function unavailableAnswers(): Promise<number> {
  const { values } = await relay.relay.metrics.errors.get();
  return values.find((value) => value.labels.kind === 'unavailable')?.value ?? 0;
}

it('enters again on the same connection when its re-enter after a reconnect was answered unavailable', async () => {
  const ana = testClient({ relays: [relay.url], token: () => tokenFor('ana') });
  await ana.room('party', { from: 'now' }).presence.enter({ name: 'Ana' });

  await redis.kill();
  // The relay drops Ana's connection; her client reconnects at once, to a relay whose Redis is gone.
  const socketOf = (sub: string) => [...relay.relay.io.sockets.sockets.values()].find((socket) => socket.data.sub === sub);
  const before = await unavailableAnswers();
  const dropped = socketOf('ana')!;
  dropped.disconnect(true);
  await waitFor(() => socketOf('ana') !== undefined && socketOf('ana') !== dropped, 'Ana connected again');
  // Her join and her re-enter are both answered unavailable (the join is retried; the enter was not, before).
  await waitFor(async () => (await unavailableAnswers()) >= before + 2, 'the reconnect answered unavailable');

  await redis.restart();
  const bo = testClient({ relays: [relay.url], token: () => tokenFor('bo') });
  const room = bo.room('party', { from: 'now' });
  room.on('presence', () => {});
  await waitFor(() => room.presence.members().some((member) => member.sub === 'ana'), 'Bo sees Ana', 15_000);
  expect(room.presence.members().find((member) => member.sub === 'ana')?.data).toEqual({ name: 'Ana' });
  expect(socketOf('ana')).toBeDefined();
});
