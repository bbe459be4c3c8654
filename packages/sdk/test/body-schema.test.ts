/**
 * Bodies checked by a room's Standard Schema, against a real relay (in this process) and a real
 * IndexedDB per device (fake-indexeddb): a body another member published that does not fit (a
 * `null` the relay's HTTP API accepted) comes as `invalid` in its place — once, in seq order, and
 * still invalid after a reload — never as a `message`. Plus the `user` option checked against the
 * accepted token's `sub`.
 */
import { waitFor } from '@partyline/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PartylineError, Room, StandardSchemaV1 } from '../src/index.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, newDevice, testClient } from './support/sdk-client.js';

interface Chat {
  text: string;
}

/** A hand-written Standard Schema (what valibot, zod and arktype schemas answer to). */
const chatSchema: StandardSchemaV1<unknown, Chat> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value) =>
      typeof value === 'object' && value !== null && typeof (value as { text?: unknown }).text === 'string'
        ? { value: value as Chat }
        : { issues: [{ message: 'expected { text: string }' }] },
  },
};

let relay: InProcessRelay;
beforeAll(async () => {
  relay = await startRelay();
});
afterEach(() => closeAllClients());
afterAll(() => relay.close());

/** Publishes one message through the relay's HTTP API as `sub`, as an app backend (or a careless client) would. */
async function publishOverHttp(room: string, sub: string, body: unknown): Promise<number> {
  const response = await fetch(`${relay.url}/v1/rooms/${room}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await tokenFor(sub)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'chat', body }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { seq: number }).seq;
}

/** What the app was handed, in order: `message:<seq>` and `invalid:<seq>`. */
function handed(room: Room): string[] {
  const seen: string[] = [];
  room.on('message', ({ seq }) => seen.push(`message:${seq}`));
  room.on('invalid', ({ seq }) => seen.push(`invalid:${seq}`));
  return seen;
}

describe('a room with a schema', () => {
  it('hands a body that fails as invalid, in its place, once — and still invalid after a reload', async () => {
    const name = `schema-${Date.now()}`;
    await publishOverHttp(name, 'bob', { text: 'one' });
    await publishOverHttp(name, 'bob', null);
    const device = newDevice();
    const token = await tokenFor('ana');
    const first = testClient({ relays: [relay.url], token, indexedDB: device }).room(name, { schema: chatSchema });
    const seen = handed(first);
    const bodies: unknown[] = [];
    first.on('message', ({ body }) => bodies.push(body));
    await waitFor(() => seen.length === 2, 'ana was handed the first two');
    await publishOverHttp(name, 'bob', { text: 'three' });
    await waitFor(() => seen.length === 3, 'ana was handed the third, live');
    expect(seen).toEqual(['message:1', 'invalid:2', 'message:3']);
    expect(bodies).toEqual([{ text: 'one' }, { text: 'three' }]);
    expect(first.invalid()).toMatchObject([{ seq: 2, sender: 'bob', type: 'chat', body: null, issues: [{ message: 'expected { text: string }' }] }]);
    await closeAllClients();

    // The reload: the cache answers the view so far, the invalid one is not in history() and stays listed as invalid.
    const again = testClient({ relays: [relay.url], token, indexedDB: device }).room(name, { schema: chatSchema });
    const later = handed(again);
    const history = await again.history();
    expect(history.map(({ seq, body }) => [seq, body])).toEqual([
      [1, { text: 'one' }],
      [3, { text: 'three' }],
    ]);
    expect(again.invalid().map(({ seq, issues }) => [seq, issues.length])).toEqual([[2, 1]]);
    await publishOverHttp(name, 'bob', null);
    await publishOverHttp(name, 'bob', { text: 'five' });
    await waitFor(() => later.length === 2, 'the new ones were handed');
    expect(later).toEqual(['invalid:4', 'message:5']);
    expect(again.invalid().map(({ seq }) => seq)).toEqual([2, 4]);
  });

  it('without a schema hands every body as a message, as before', async () => {
    const name = `no-schema-${Date.now()}`;
    await publishOverHttp(name, 'bob', null);
    const room = testClient({ relays: [relay.url], token: await tokenFor('ana') }).room(name);
    const seen = handed(room);
    await waitFor(() => seen.length === 1, 'the message was handed');
    expect(seen).toEqual(['message:1']);
    expect(room.invalid()).toEqual([]);
  });

  it('an asynchronous schema is a programmer error: bad_request, and the body counts as invalid (order kept)', async () => {
    const name = `async-schema-${Date.now()}`;
    await publishOverHttp(name, 'bob', { text: 'one' });
    const asyncSchema: StandardSchemaV1 = { '~standard': { version: 1, vendor: 'test', validate: async (value) => ({ value }) } };
    const room = testClient({ relays: [relay.url], token: await tokenFor('ana') }).room(name, { schema: asyncSchema });
    const seen = handed(room);
    const errors: PartylineError[] = [];
    room.on('error', ({ error }) => errors.push(error));
    await waitFor(() => seen.length === 1, 'the message was handed');
    expect(seen).toEqual(['invalid:1']);
    expect(errors.map((error) => [error.kind, error.message])).toEqual([['bad_request', expect.stringContaining('asynchronous')]]);
  });
});

describe('the user option', () => {
  it('that is not the accepted token’s sub is an error event, not a throw', async () => {
    const client = testClient({ relays: [relay.url], token: await tokenFor('ana'), user: 'Ana Lima' });
    const errors: PartylineError[] = [];
    client.on('error', ({ error }) => errors.push(error));
    await waitFor(() => errors.length > 0, 'the mismatch was reported');
    expect(client.state).toBe('online');
    expect(errors[0]).toMatchObject({ kind: 'bad_request', message: expect.stringContaining('"ana"') });
  });

  it('that is the token’s sub is no error', async () => {
    const client = testClient({ relays: [relay.url], token: await tokenFor('ana'), user: 'ana' });
    const errors: PartylineError[] = [];
    client.on('error', ({ error }) => errors.push(error));
    await waitFor(() => client.state === 'online', 'online');
    await client.room(`user-ok-${Date.now()}`).publish('chat', { text: 'hi' }).then((handle) => handle.sent);
    expect(errors).toEqual([]);
  });
});
