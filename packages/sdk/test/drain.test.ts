import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@partyline/test-support';
import { startRedis, type RedisServer } from '@partyline/test-support';
import { closeAllClients, range, record, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';

let redis: RedisServer | undefined;
const relays: InProcessRelay[] = [];
afterEach(async () => {
  await closeAllClients();
  for (const relay of relays.splice(0)) await relay.close().catch(() => {});
  await redis?.stop();
  redis = undefined;
});

describe('a relay that drains', () => {
  it('moves the client to the next relay after the delay it was told, without a refused reconnect, losing nothing', async () => {
    redis = await startRedis();
    relays.push(await startRelay({ redisUrl: redis.url }), await startRelay({ redisUrl: redis.url }));
    const [first, second] = relays as [InProcessRelay, InProcessRelay];
    const client = testClient({ relays: [first.url, second.url], token: () => tokenFor('ana') });
    const errors: string[] = [];
    client.on('error', ({ error }) => errors.push(error.kind));
    const room = client.room('drain');
    const seen = record(room);
    for (let i = 0; i < 5; i++) await room.publish('chat', { i });
    await waitFor(() => seen.messages.length === 5, 'first five messages');

    const drained = first.relay.drain({ deadlineMs: 5_000, spreadMs: 300 });
    for (let i = 5; i < 10; i++) await room.publish('chat', { i });
    await drained;
    await waitFor(() => client.state === 'online' && second.relay.io.of('/').sockets.size === 1, 'client online on the second relay');
    await waitFor(() => seen.messages.length === 10, 'all ten messages');
    expect(seen.seqs()).toEqual(range(1, 10));
    expect(errors).not.toContain('draining');
  });
});
