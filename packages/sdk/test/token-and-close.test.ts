import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@partyline/test-support';
import { createManualOnlineManager } from '../src/index.js';
import { closeAllClients, newDevice, range, record, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';

let relay: InProcessRelay;
beforeAll(async () => {
  relay = await startRelay();
});
afterEach(closeAllClients);
afterAll(async () => {
  await relay.close();
});

describe('token refresh', () => {
  it('asks the token function again when the relay says token_expired, without losing queued messages', async () => {
    const issued: number[] = [];
    const token = async () => {
      issued.push(Date.now());
      // The first token is already expired; later ones are fresh.
      return tokenFor('alice', ['*'], issued.length === 1 ? -60 : 3600);
    };
    const errors: string[] = [];
    const client = testClient({ relays: [relay.url], token });
    client.on('error', ({ error }) => errors.push(error.kind));
    const room = client.room('token-refresh-1');
    const seen = record(room);
    const handles = [];
    for (let i = 1; i <= 10; i++) handles.push(await room.publish('chat', { i }));
    const seqs = await Promise.all(handles.map((handle) => handle.sent.then(({ seq }) => seq)));
    expect(seqs).toEqual(range(1, 10));
    expect(issued.length).toBe(2);
    expect(errors).toContain('token_expired');
    await waitFor(() => seen.messages.length === 10, 'all back');
    expect(seen.seqs()).toEqual(range(1, 10));
  });

  it('reconnects with a fresh token when a connected token expires, and keeps receiving in order', async () => {
    let calls = 0;
    const token = async () => tokenFor('bob', ['*'], ++calls === 1 ? 2 : 3600);
    const member = testClient({ relays: [relay.url], token });
    const seen = record(member.room('token-refresh-2'));
    const sender = testClient({ relays: [relay.url], token: await tokenFor('alice') });
    const room = sender.room('token-refresh-2');
    await (await room.publish('chat', { i: 1 })).sent;
    await waitFor(() => calls >= 2 && member.state === 'online', 'a refresh after the relay dropped the expired connection', 15_000);
    for (let i = 2; i <= 5; i++) await (await room.publish('chat', { i })).sent;
    await waitFor(() => seen.messages.length === 5, 'all five');
    expect(seen.seqs()).toEqual(range(1, 5));
  });
});

describe('online detection', () => {
  it('stays offline while the detector says so and flushes as soon as it says online', async () => {
    const online = createManualOnlineManager(false);
    const client = testClient({ relays: [relay.url], token: await tokenFor('alice'), onlineManager: online });
    const states: string[] = [];
    client.on('state', ({ state }) => states.push(state));
    const room = client.room('online-detection');
    const handle = await room.publish('chat', { text: 'later' });
    expect(client.state).toBe('offline');
    expect(handle.status).toBe('pending');
    online.setOnline(true);
    expect(await handle.sent).toEqual({ seq: 1 });
    expect(states).toEqual(['connecting', 'online']);
    online.setOnline(false);
    expect(client.state).toBe('offline');
  });
});

describe('close()', () => {
  it('releases every timer, socket and database handle', async () => {
    const device = newDevice();
    const baseline = resourceCounts();
    const client = testClient({ relays: [relay.url], token: await tokenFor('alice'), indexedDB: device });
    const room = client.room('close-room');
    record(room);
    await (await room.publish('chat', { text: 'hi' })).sent;
    // And one that cannot be sent (forbidden would settle; use a retention timer instead): a pending entry keeps an expiry timer armed.
    const offline = createManualOnlineManager(false);
    const other = testClient({ relays: [relay.url], token: await tokenFor('alice'), onlineManager: offline });
    await other.room('close-room-2').publish('chat', { text: 'queued' });
    expect(relay.relay.io.of('/').sockets.size).toBe(1);

    await client.close();
    await other.close();
    await waitFor(() => relay.relay.io.of('/').sockets.size === 0, 'the relay sees the socket gone');
    await waitFor(() => {
      const now = resourceCounts();
      return now.Timeout <= baseline.Timeout && now.TCPSocketWrap <= baseline.TCPSocketWrap;
    }, 'timers and sockets released');
    // The database handle is closed: deleting the database is not blocked.
    await new Promise<void>((resolve, reject) => {
      const request = device.deleteDatabase('partyline');
      request.onsuccess = () => resolve();
      request.onblocked = () => reject(new Error('database still open'));
      request.onerror = () => reject(request.error);
    });
    expect(() => client.room('after-close')).toThrow(/closed/);
    await expect(room.publish('chat', {})).rejects.toMatchObject({ kind: 'closed' });
  });
});

function resourceCounts(): Record<'Timeout' | 'TCPSocketWrap', number> {
  const counts = { Timeout: 0, TCPSocketWrap: 0 };
  for (const kind of process.getActiveResourcesInfo()) if (kind === 'Timeout' || kind === 'TCPSocketWrap') counts[kind]++;
  return counts;
}
