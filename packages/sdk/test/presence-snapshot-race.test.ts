/**
 * A member list (`presence:get`) can be answered after live changes that it predates: entering
 * right after starting to follow the members, while connected, gets the `joined` change before
 * the older, empty list. The list must not undo the change.
 */
import { waitFor } from '@partyline/test-support';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
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

it('keeps a member who entered while the member list was on its way', async () => {
  for (let i = 0; i < 5; i++) {
    const client = testClient({ relays: [relay.url], token: await tokenFor(`ana-${i}`) });
    await waitFor(() => client.state === 'online', 'online');
    const room = client.room(`presence-race-${i}-${Date.now()}`);
    const seen: string[][] = [];
    room.on('presence', ({ members }) => seen.push(members.map((member) => member.sub)));
    await room.presence.enter({ name: 'Ana' });
    await waitFor(() => seen.length > 0, 'a presence event');
    // Later traffic through the same socket: a stale list would have arrived by then.
    await (await room.publish('chat', { text: 'after' })).sent;
    await room.history();
    expect(room.presence.members().map((member) => member.sub)).toEqual([`ana-${i}`]);
    expect(seen.every((members) => members.length === 1)).toBe(true);
  }
});
