import { waitFor } from '@partyline/test-support';
import { expect } from 'vitest';
import type { PartylineClient } from '../../src/index.js';
import type { TransportFactory } from '../../src/transport.js';
import { tokenFor } from './relays.js';
import { range, record, testClient } from './sdk-client.js';

/**
 * Two clients (alice, bob) on `relayUrl` with the given transport each publish 5 messages into one room;
 * each must see all 10, seqs 1..10, and each sender's messages once and in order. Answers the clients.
 */
export async function expectTwoClientsExchange(relayUrl: string, room: string, transport: () => TransportFactory, online: string): Promise<[PartylineClient, PartylineClient]> {
  const alice = testClient({ relays: [relayUrl], token: await tokenFor('alice'), transport: transport() });
  const bob = testClient({ relays: [relayUrl], token: await tokenFor('bob'), transport: transport() });
  const atAlice = record(alice.room(room));
  const atBob = record(bob.room(room));
  await waitFor(() => alice.state === 'online' && bob.state === 'online', online, 20_000);
  for (let i = 1; i <= 5; i++) {
    await alice.room(room).publish('chat', { from: 'alice', n: i });
    await bob.room(room).publish('chat', { from: 'bob', n: i });
  }
  await waitFor(() => atAlice.messages.length >= 10 && atBob.messages.length >= 10, '10 messages at both', 20_000);
  for (const seen of [atAlice, atBob]) {
    expect(seen.seqs()).toEqual(range(1, 10));
    for (const sender of ['alice', 'bob']) {
      expect(seen.messages.filter((message) => message.sender === sender).map((message) => message.body)).toEqual(range(1, 5).map((n) => ({ from: sender, n })));
    }
  }
  return [alice, bob];
}
