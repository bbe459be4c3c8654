import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@partyline/test-support';
import { systemClock, type StatusContext } from '../src/index.js';
import { closeAllClients, newDevice, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';

let relay: InProcessRelay;
let unreachable: string;
let counter = 0;
const nextRoom = () => `owner-${++counter}-${Date.now()}`;

beforeAll(async () => {
  relay = await startRelay();
  const dead = await startRelay();
  unreachable = dead.url;
  await dead.close();
});
afterEach(() => closeAllClients());
afterAll(() => relay.close());

describe('the outbox beyond the open rooms', () => {
  it('reports the expiry of a message whose room no tab has open, through the client', async () => {
    const device = newDevice();
    const x = nextRoom();
    const queueing = testClient({ relays: [unreachable], token: await tokenFor('ana'), indexedDB: device });
    const { id } = await queueing.room(x).publish('chat', { text: 'never sent' });
    await queueing.close();
    // A later session, days later for the outbox, opens another room only.
    const later = testClient({ relays: [relay.url], token: await tokenFor('ana'), indexedDB: device, clock: { ...systemClock, now: () => Date.now() + 8 * 24 * 3600_000 } });
    const statuses: StatusContext[] = [];
    later.on('status', (status) => statuses.push(status));
    later.room(nextRoom());
    await waitFor(() => statuses.length > 0, 'the expiry reported');
    expect(statuses).toEqual([expect.objectContaining({ room: x, id, status: 'expired', error: expect.objectContaining({ kind: 'expired' }) })]);
  });

  it('binds a queued message to its sender: another account in the same profile never sends it', async () => {
    const device = newDevice();
    const x = nextRoom();
    // Identity learnt from the token (no `user` option): the entry is ana's.
    const ana = testClient({ relays: [unreachable], token: await tokenFor('ana'), indexedDB: device });
    const { id } = await ana.room(x).publish('chat', { text: 'from ana' });
    await ana.close();
    // Bob signs in on the same device and opens the same room; his own message is the sentinel.
    const bob = testClient({ relays: [relay.url], token: await tokenFor('bob'), indexedDB: device });
    const bobs = await bob.room(x).publish('chat', { text: 'from bob' });
    await bobs.sent;
    await bob.flush();
    expect((await relay.relay.store.read(x, 0, 10)).messages.map((m) => [m.sender, m.id])).toEqual([['bob', bobs.id]]);
    expect((await bob.room(x).pending()).map((entry) => entry.id)).toEqual([id]);
    await bob.close();
    // Ana comes back: hers goes out, under her name.
    const anaAgain = testClient({ relays: [relay.url], token: await tokenFor('ana'), indexedDB: device, user: 'ana' });
    anaAgain.room(x);
    await waitFor(async () => (await relay.relay.store.read(x, 0, 0)).headSeq === 2, 'ana’s message sent by ana');
    expect((await relay.relay.store.read(x, 0, 10)).messages.map((m) => [m.sender, m.id])).toEqual([['bob', bobs.id], ['ana', id]]);
  });

});
