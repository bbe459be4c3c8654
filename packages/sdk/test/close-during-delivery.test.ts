import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@partyline/test-support';
import { closeAllClients, newDevice, range, record, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';

let relay: InProcessRelay;
beforeAll(async () => {
  relay = await startRelay();
});
afterEach(() => closeAllClients());
afterAll(() => relay.close());

describe('closing while messages are being delivered', () => {
  it('hands over every message already stored, so the next session neither skips nor repeats one', async () => {
    const room = `close-mid-delivery-${Date.now()}`;
    const publisher = testClient({ relays: [relay.url], token: await tokenFor('ana'), indexedDB: newDevice(), maxBatchMessages: 40 });
    const device = newDevice();
    const handed: number[] = [];

    // First session: closes itself from inside a listener, in the middle of a delivered batch.
    const first = testClient({ relays: [relay.url], token: await tokenFor('bo'), indexedDB: device });
    const firstRoom = first.room(room);
    let closing: Promise<void> | undefined;
    firstRoom.on('message', ({ seq }) => {
      handed.push(seq);
      if (handed.length === 5) closing = first.close();
    });
    await waitFor(() => first.state === 'online', 'first session online');
    await Promise.all(Array.from({ length: 40 }, (_, i) => publisher.room(room).publish('chat', { i })));
    await waitFor(() => handed.length >= 5, 'first session closing itself');
    await closing;

    // Second session on the same device continues exactly where the first left off.
    const second = testClient({ relays: [relay.url], token: await tokenFor('bo'), indexedDB: device });
    const rest = record(second.room(room));
    await waitFor(() => handed.length + rest.messages.length >= 40, 'all 40 handed over across both sessions');
    expect([...handed, ...rest.seqs()]).toEqual(range(1, 40));
  });
});
