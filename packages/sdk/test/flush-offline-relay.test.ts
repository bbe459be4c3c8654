/**
 * The flusher against a real relay, with the network cut by a TCP proxy while messages queue.
 *
 * Regression test (issue 22, item 2): the flusher sent only rooms that were open, so an entry queued
 * before `room.leave()` (React's `useRoom` leaves on unmount: "send while offline, then navigate
 * away") stayed pending until some tab opened the room again, or for the whole retention.
 *
 * Regression test (issue 22, item 3): batches were sized by body bytes, but each body is JSON text
 * escaped again inside the frame (a quote costs two bytes there). Twenty quote-dense 48 KB bodies
 * fit the relay's batch byte limit as counted, yet made a frame over its Socket.IO limit
 * (`maxHttpBufferSize` = maxBatchBytes + 64 KiB): the relay closed the connection, and the flusher
 * sent the same batch again on every reconnect, forever, appending nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { waitFor } from '@partyline/test-support';
import { closeAllClients, newDevice, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let relay: InProcessRelay;
let proxy: TcpProxy;

beforeAll(async () => {
  relay = await startRelay();
  proxy = await startTcpProxy(relay.port);
});
afterEach(closeAllClients);
afterAll(async () => {
  await proxy.close();
  await relay.close();
});

describe('entries queued before leave()', () => {
  it('are appended once the relay is reachable again, with the room left', async () => {
    const name = `after-leave-${Date.now()}`;
    proxy.sever();
    const client = testClient({ relays: [`http://127.0.0.1:${proxy.port}`], token: await tokenFor('alice') });
    const room = client.room(name);
    const handle = await room.publish('chat', { text: 'sent from a page the user already left' });
    room.leave();
    proxy.restore();
    await waitFor(async () => (await relay.relay.store.read(name, 0, 10)).headSeq === 1, 'appended after leave()', 10_000);
    const log = await relay.relay.store.read(name, 0, 10);
    expect(log.messages.map((message) => message.id)).toEqual([handle.id]);
    expect(await handle.sent).toEqual({ seq: 1 });
  });

  it('still never sends a room this client never opened (it may hold no token for it)', async () => {
    const device = newDevice();
    const token = await tokenFor('alice');
    const writer = testClient({ relays: ['http://127.0.0.1:1'], token, indexedDB: device });
    const waiting = await writer.room(`never-opened-${Date.now()}`).publish('chat', { text: 'waits for a client that opens its room' });
    await writer.close();
    const other = testClient({ relays: [relay.url], token, indexedDB: device });
    const sent = await other.room(`opened-${Date.now()}`).publish('chat', { text: 'goes' });
    await sent.sent; // a flush pass over the whole outbox has run
    expect((await other.inspect()).outbox.map((entry) => entry.id)).toEqual([waiting.id]);
  });
});

/** A body of about 48 KB (4 bytes an item) whose JSON is half quotes: `["a","b",…]` grows 1.5× once escaped in a frame. */
function quoteDense(n: number, items = 12_000): string[] {
  return Array.from({ length: items }, (_, i) => String.fromCharCode(97 + ((i + n) % 26)));
}

describe('publish frames', () => {
  it('20 quote-dense 48 KB bodies queued offline are all appended once, with at most 3 reconnects', async () => {
    const name = `frames-${Date.now()}`;
    proxy.sever();
    const client = testClient({ relays: [`http://127.0.0.1:${proxy.port}`], token: await tokenFor('alice') });
    let connects = 0;
    client.on('state', ({ state }) => {
      if (state === 'online') connects++;
    });
    const room = client.room(name);
    const handles = [];
    for (let i = 0; i < 20; i++) handles.push(await room.publish('chat', quoteDense(i)));
    expect(JSON.stringify(quoteDense(0)).length).toBe(48_001);
    proxy.restore();
    await waitFor(async () => (await relay.relay.store.read(name, 0, 0)).headSeq >= 20 || connects > 3, 'all 20 appended', 15_000);
    // Pages are bounded by bytes: read the log page by page.
    const ids: string[] = [];
    for (let page = await relay.relay.store.read(name, 0, 100); page.messages.length > 0; page = await relay.relay.store.read(name, ids.length, 100)) {
      ids.push(...page.messages.map((message) => message.id));
    }
    expect(ids).toEqual(handles.map((handle) => handle.id));
    expect(connects).toBeLessThanOrEqual(3);
    expect(await Promise.all(handles.map((handle) => handle.sent))).toEqual(handles.map((_, i) => ({ seq: i + 1 })));
  });

  it('fails a message too large for any frame as payload_too_large, once, without reconnecting', async () => {
    const name = `frame-too-large-${Date.now()}`;
    // Bodies up to 200 KB, frames up to 200 KB + 64 KiB: a 190 KB quote-dense body passes the body
    // limit but its frame (285 KB) does not fit, alone or in any batch.
    const limits = { maxBodyBytes: 200_000, maxBatchBytes: 200_000 };
    const large = await startRelay({ limits });
    onTestFinished(() => large.close());
    const client = testClient({ relays: [large.url], token: await tokenFor('alice'), ...limits });
    let connects = 0;
    client.on('state', ({ state }) => {
      if (state === 'online') connects++;
    });
    const room = client.room(name);
    const big = await room.publish('chat', quoteDense(0, 47_500));
    const small = await room.publish('chat', { text: 'after it' });
    await waitFor(() => big.status !== 'pending', 'the large message settled', 10_000);
    await expect(big.sent).rejects.toMatchObject({ kind: 'payload_too_large', retryable: false });
    expect(await small.sent).toEqual({ seq: 1 });
    expect(connects).toBe(1);
    expect(await room.pending()).toEqual([]);
  });
});
