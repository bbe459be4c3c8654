/**
 * Regression test (found in review, issue 11: resources after close): a room waiting to fill a gap (a live message
 * beyond the view arms the gap-fill timer), a room left with leave() in the same state, then
 * close(): no timer may stay behind.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@partyline/test-support';
import { closeAllClients, record, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';

let relay: InProcessRelay;
beforeAll(async () => {
  relay = await startRelay();
});
afterEach(closeAllClients);
afterAll(async () => {
  await relay.close();
});

const timeouts = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('close() with pending gap fills', () => {
  it('leaves no timer behind', async () => {
    const baseline = timeouts();
    const client = testClient({ relays: [relay.url], token: await tokenFor('alice'), gapFillDelayMs: 60_000 });
    const rooms = [client.room(`close-a-${Date.now()}`), client.room(`close-b-${Date.now()}`)];
    for (const room of rooms) {
      const seen = record(room);
      await (await room.publish('chat', { i: 1 })).sent;
      await waitFor(() => seen.messages.length === 1, 'first message');
      const { epoch } = await relay.relay.store.read(room.name, 0, 0);
      // A live message far beyond the view: it waits, and a gap read is scheduled in 60 s.
      (room as unknown as { _messages(raw: unknown): void })._messages({ room: room.name, epoch, messages: [{ seq: 50, id: 'far-away', type: 'chat', body: '{}', sender: 'x', ts: 1 }] });
      await room._idle();
    }
    expect(timeouts(), 'the gap-fill timers are armed').toBeGreaterThanOrEqual(baseline + 2);
    rooms[1]!.leave();
    await client.close();
    await waitFor(() => timeouts() <= baseline, `timers released (baseline ${baseline}, now ${timeouts()})`, 3_000).catch((error: Error) => {
      expect.fail(`${error.message}: ${process.getActiveResourcesInfo().join(',')}`);
    });
  });
});
