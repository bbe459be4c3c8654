/**
 * Every pending `presence.enter()` settles (issue 22 item 7): one made while offline rejects with
 * `closed` when the client closes or the room is left before any relay had it — it used to wait
 * for a connection that never came. No relay needed: the client's only relay is unreachable.
 */
import { waitFor } from '@partyline/test-support';
import { afterEach, expect, it } from 'vitest';
import { PartylineError } from '../src/index.js';
import { closeAllClients, testClient } from './support/sdk-client.js';
import { tokenFor } from './support/relays.js';

afterEach(closeAllClients);

/** An enter() made while no relay can be reached, and what became of it. */
async function pendingEnter(close: (client: ReturnType<typeof testClient>, room: ReturnType<ReturnType<typeof testClient>['room']>) => unknown) {
  // Port 1 refuses connections: the client stays connecting for good.
  const client = testClient({ relays: ['http://127.0.0.1:1'], token: await tokenFor('ana') });
  const room = client.room('party');
  let outcome: unknown = 'pending';
  room.presence.enter({ name: 'Ana' }).then(
    () => (outcome = 'resolved'),
    (error: unknown) => (outcome = error),
  );
  await close(client, room);
  await waitFor(() => outcome !== 'pending', 'the enter() to settle', 2_000);
  return outcome;
}

it('rejects an offline enter() with closed when the client closes first', async () => {
  const outcome = await pendingEnter((client) => client.close());
  expect(outcome).toBeInstanceOf(PartylineError);
  expect((outcome as PartylineError).kind).toBe('closed');
});

it('rejects an offline enter() with closed when the room is left first', async () => {
  const outcome = await pendingEnter((_client, room) => room.leave());
  expect((outcome as PartylineError).kind).toBe('closed');
});
