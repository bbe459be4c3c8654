/**
 * The socket client against relays that misbehave during the opening, and a laptop that wakes up
 * (issue 22 items 5, 10 and 11): every case ends in an answer, never in a socket that hangs.
 */
import type { AddressInfo } from 'node:net';
import { PROTOCOL_VERSION } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { systemClock, type Clock } from '../src/clock.js';
import { createSocket, type DisconnectReason } from '../src/socket-client.js';
import { startRelay, tokenFor } from './support/relays.js';

type Emit = { 'room:join': (request: object, ack: (answer: object) => void) => void };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A raw WebSocket server that answers each connection with `onConnection` and nothing else. */
async function rawServer(onConnection: (ws: WebSocket) => void): Promise<string> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', onConnection);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function open(url: string, auth: object, timeout: number, clock?: Clock) {
  const socket = createSocket<Record<string, never>, Emit>(url, { auth, timeout, ...(clock ? { clock } : {}) });
  cleanups.push(() => socket.disconnect());
  const events: string[] = [];
  let connectError: Error | undefined;
  socket.on('connect', () => events.push('connect'));
  socket.on('connect_error', (error) => {
    connectError = error;
    events.push('connect_error');
  });
  socket.on('disconnect', (reason: DisconnectReason) => events.push(`disconnect:${reason}`));
  return { socket, events, connectError: () => connectError };
}

const HANDSHAKE = `0${JSON.stringify({ sid: 'e1', upgrades: [], pingInterval: 25_000, pingTimeout: 20_000, maxPayload: 1e6 })}`;

describe('socket client: the opening', () => {
  it('a relay that opens the Engine.IO session but never answers CONNECT: connect_error "timeout" (item 10)', async () => {
    let connects = 0;
    const url = await rawServer((ws) => {
      ws.send(HANDSHAKE);
      ws.on('message', (data) => {
        if (String(data).startsWith('40')) connects++; // the CONNECT arrives, and stays unanswered
      });
    });
    const { events, connectError } = open(url, { token: 't' }, 300);
    await waitFor(() => events.length > 0, 'an answer to the opening', 5000, 20);
    expect(connects).toBe(1);
    expect(events).toEqual(['connect_error']);
    expect(connectError()?.message).toBe('timeout');
  });

  it.each(['0null', '0[]', '0"text"', '0{"sid":"e1","pingInterval":"soon","pingTimeout":1}'])('a handshake frame %s is a parse error, not an uncaught TypeError (item 11)', async (frame) => {
    const url = await rawServer((ws) => ws.send(frame));
    const { events, connectError } = open(url, { token: 't' }, 5000);
    await waitFor(() => events.length > 0, 'an answer to the opening', 5000, 20);
    expect(events).toEqual(['connect_error']);
    expect(connectError()?.message).toBe('parse error');
  });
});

describe('socket client: a laptop that wakes up (item 5)', () => {
  it('a request sent after the heartbeat lapsed, before the overdue ping timer fired, fails at once with "disconnected"', async () => {
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    // Time jumps the way it does for a suspended laptop: the clock moves, its timers have not fired yet.
    let slept = 0;
    const clock: Clock = { ...systemClock, now: () => Date.now() + slept };
    const { socket, events } = open(relay.url, { token: await tokenFor('sleeper'), protocol: PROTOCOL_VERSION }, 5000, clock);
    await waitFor(() => events.includes('connect'), 'connected', 5000, 20);
    slept = 60 * 60_000;

    let outcome: unknown;
    socket
      .timeout(10_000)
      .emitWithAck('room:join', { room: 'wake' })
      .then(
        (answer) => (outcome = answer),
        (error: Error) => (outcome = error),
      );
    // Generous, but far below the request's own 10 s timeout.
    await waitFor(() => outcome !== undefined, 'the request to settle', 3000, 20);
    expect((outcome as Error).message).toBe('socket has been disconnected');
    expect(events).toEqual(['connect', 'disconnect:ping timeout']);
  });
});
