/**
 * `client.inspect()`: what devtools show when a message "did not arrive" — state, relay, each room's
 * position, the outbox with attempts, and who flushes it.
 */
import { waitFor } from '@partyline/test-support';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createManualOnlineManager } from '../src/index.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, testClient } from './support/sdk-client.js';

let relay: InProcessRelay;

beforeAll(async () => {
  relay = await startRelay();
});
afterEach(closeAllClients);
afterAll(async () => {
  await relay.close();
});

it('shows the outbox while offline, then the relay, the room position and an empty outbox', async () => {
  const network = createManualOnlineManager(false);
  const client = testClient({ relays: [relay.url], token: await tokenFor('ana'), onlineManager: network });
  const name = `inspect-${Date.now()}`;
  const room = client.room(name);
  const { id } = await room.publish('chat', { text: 'waiting' });

  const offline = await client.inspect();
  expect(offline).toMatchObject({ state: 'offline', relay: undefined, relays: [relay.url], user: 'ana', retentionMs: 604_800_000 });
  expect(offline.rooms).toEqual([{ name, epoch: undefined, lastSeq: 0, waiting: [], sync: { state: expect.any(String), joined: false } }]);
  expect(offline.outbox).toMatchObject([{ id, room: name, type: 'chat', body: '{"text":"waiting"}', attempts: 0, sender: 'ana' }]);
  // No Web Locks here (an injected IndexedDB): this client flushes on its own, nobody right now.
  expect(offline.flush).toEqual({ shared: false, leading: [], otherTabs: [], failures: 0, retryAt: undefined });

  network.setOnline(true);
  await waitFor(async () => (await client.inspect()).rooms[0]?.lastSeq === 1, 'the message in the view');
  const online = await client.inspect();
  expect(online).toMatchObject({ state: 'online', relay: relay.url });
  expect(online.rooms[0]).toMatchObject({ name, lastSeq: 1, waiting: [] });
  expect(typeof online.rooms[0]?.epoch).toBe('string');
  expect(online.outbox).toEqual([]);

  await client.close();
  await expect(client.inspect()).rejects.toMatchObject({ kind: 'closed' });
});
