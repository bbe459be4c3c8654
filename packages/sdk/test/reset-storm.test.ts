/**
 * Regression test (found in review, issue 11: "back off after repeated epoch changes"): a buggy or hostile relay
 * whose epoch flaps. Two ways the SDK's storm guard (room.ts #resetStorm) does not hold:
 *  - #pump sets #resyncAttempt = 0 after every pass (room.ts:422), including the pass that just
 *    detected the storm, so the pause never grows past attempt 1 (≤ baseMs, 250 ms by default);
 *  - a live event of another epoch calls #pumpLater(0) (room.ts:533), which replaces the storm
 *    timer (due later) with an immediate read: live events bypass the pause entirely.
 * Either way the app gets a `reset` (and the whole log again) several times a second, forever.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { exponentialBackoff } from '../src/index.js';
import { closeAllClients, record, testClient } from './support/sdk-client.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await closeAllClients();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A fake relay whose room log has one message, but whose epoch changes every `flipMs`; with `live`, it also pushes a live event at each flip. */
async function flappingRelay(flipMs: number, live: boolean) {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  let epoch = 0;
  const page = (room: string, since: number) => ({
    ok: true,
    room,
    epoch: `epoch-${epoch}`,
    firstSeq: 1,
    headSeq: 1,
    messages: since < 1 ? [{ seq: 1, id: `m-${epoch}`, type: 'chat', body: '{}', sender: 'x', ts: Date.now() }] : [],
    hasMore: false,
  });
  let reads = 0;
  io.on('connection', (socket) => {
    socket.on('room:join', (request: { room: string; since?: number }, ack: (answer: unknown) => void) => {
      reads++;
      void socket.join(request.room);
      ack(page(request.room, request.since ?? 0));
    });
    socket.on('room:read', (request: { room: string; since: number }, ack: (answer: unknown) => void) => {
      reads++;
      ack(page(request.room, request.since));
    });
  });
  const timer = setInterval(() => {
    epoch++;
    if (live) io.to('flap').emit('room:messages', { room: 'flap', epoch: `epoch-${epoch}`, messages: [{ seq: 1, id: `m-${epoch}`, type: 'chat', body: '{}', sender: 'x', ts: Date.now() }] });
  }, flipMs);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(async () => {
    clearInterval(timer);
    io.close();
    await new Promise((resolve) => http.close(resolve));
  });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, reads: () => reads };
}

describe('an epoch that flaps', () => {
  it('backs off: resets thin out (the second 4 s see at most 3), instead of going on at the same rate', { timeout: 20_000 }, async () => {
    const relay = await flappingRelay(50, true);
    const client = testClient({ relays: [relay.url], token: 'not-checked', retryDelay: exponentialBackoff() });
    const room = client.room('flap');
    const seen = record(room);
    let resets = 0;
    room.on('reset', () => resets++);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const first = resets;
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const second = resets - first;
    // A doubling pause (250 ms, 500 ms, 1 s, 2 s, 4 s …) allows at most ~2 resets in the second window.
    expect(second, `resets: ${first} in the first 4 s, ${second} in the next 4 s; messages handed: ${seen.messages.length}; reads: ${relay.reads()}`).toBeLessThanOrEqual(3);
  });
});
