/**
 * Presence rooms are bounded: every room a member is present in costs the relay renewal work each
 * round, so one connection (100 rooms by default) and one user over all its connections on a relay
 * (500) cannot make thousands. Past the bound `presence:enter` answers `forbidden`; updating a room
 * already entered, or entering after a leave, still works. A real relay with its default limits.
 */
import { ErrorKind } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RELAY_DEFAULTS } from '../src/options.js';
import { connectClient, expectOk, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

const { maxPresenceRoomsPerConnection: PER_CONNECTION, maxPresenceRoomsPerUser: PER_USER } = RELAY_DEFAULTS.limits;
let relay: RunningRelay;
const sockets: ClientSocket[] = [];

async function open(sub: string): Promise<ClientSocket> {
  const socket = await connectClient(relay.url, await tokenFor(sub, ['party:*']));
  sockets.push(socket);
  return socket;
}
async function enterRooms(socket: ClientSocket, prefix: string, count: number): Promise<void> {
  const answers = await Promise.all(Array.from({ length: count }, (_, i) => request(socket, 'presence:enter', { room: `party:${prefix}-${i}` })));
  for (const answer of answers) expectOk(answer);
}

beforeAll(async () => {
  relay = await startRelay();
});
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});
afterAll(async () => {
  await relay?.relay.close();
});

describe('presence rooms per connection and per user', () => {
  it(`refuses a connection's room number ${PER_CONNECTION + 1} with forbidden; updates and re-entries after a leave still pass`, async () => {
    const member = await open('ana');
    await enterRooms(member, 'conn', PER_CONNECTION);
    const refused = await request(member, 'presence:enter', { room: 'party:one-too-many' });
    expect(refused).toMatchObject({ ok: false, error: { kind: ErrorKind.Forbidden, retryable: false, message: expect.stringContaining(`${PER_CONNECTION} rooms`) } });
    // Entering a room again (new data) is an update, not a new room.
    expectOk(await request(member, 'presence:enter', { room: 'party:conn-0', data: '{"name":"Ana"}' }));
    expectOk(await request(member, 'presence:leave', { room: 'party:conn-1' }));
    expectOk(await request(member, 'presence:enter', { room: 'party:one-too-many' }));
  });

  it(`refuses a user's room number ${PER_USER + 1} on a relay, over all its connections`, async () => {
    const connections = await Promise.all(Array.from({ length: Math.ceil(PER_USER / PER_CONNECTION) + 1 }, () => open('bob')));
    for (const [index, socket] of connections.slice(0, -1).entries()) await enterRooms(socket, `user-${index}`, PER_CONNECTION);
    const fresh = connections.at(-1)!;
    expect(await request(fresh, 'presence:enter', { room: 'party:user-extra' })).toMatchObject({
      ok: false,
      error: { kind: ErrorKind.Forbidden, message: expect.stringContaining(`this user is present in ${PER_USER} rooms`) },
    });
    // Another user is not affected; and a connection that goes frees its rooms for the user.
    expectOk(await request(await open('cy'), 'presence:enter', { room: 'party:user-extra' }));
    connections[0]!.close();
    await waitFor(async () => (await request(fresh, 'presence:enter', { room: 'party:user-extra' })).ok, 'the closed connection to free its rooms');
  });
});
