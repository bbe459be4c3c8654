/**
 * Refused tokens and relays that never accept, against real relays over real sockets (issue 22 items
 * 4 and 10): the client asks the token function again and moves on, tells the app why it waits, and
 * never needs a reload.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRelay, signAccessToken } from '@partyline/relay';
import { waitFor } from '@partyline/test-support';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientEvents, PartylineError } from '../src/index.js';
import { isTokenRefusal } from '../src/connection-machine.js';
import { closeAllClients, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor } from './support/relays.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await closeAllClients();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: HttpServer, port = 0): Promise<string> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Records what the app is told: state events (with their reason) and error events. */
function watch(client: { on<K extends keyof ClientEvents>(event: K, listener: (context: ClientEvents[K]) => void): unknown }) {
  const states: ClientEvents['state'][] = [];
  const errors: PartylineError[] = [];
  client.on('state', (context) => states.push(context));
  client.on('error', ({ error }) => errors.push(error));
  return { states, errors };
}

describe('a refused token (item 4)', () => {
  it('a token endpoint that answers an error page first, then a token: online within 5 s, and the app was told why it waited', async () => {
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    // The README's own token function, `fetch(url).then((r) => r.text())`, against an endpoint that fails once.
    let requests = 0;
    const tokenUrl = await listen(
      createServer((_request, response) => {
        if (++requests === 1) return void response.writeHead(503, { 'content-type': 'text/html' }).end('<html><h1>503 Service Temporarily Unavailable</h1></html>');
        void tokenFor('junk-then-valid').then((token) => response.writeHead(200, { 'content-type': 'text/plain' }).end(token));
      }),
    );
    const started = Date.now();
    const client = testClient({ relays: [relay.url], token: () => fetch(tokenUrl).then((r) => r.text()) });
    const told = watch(client);
    await waitFor(() => client.state === 'online', 'online', 5000, 20);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(requests).toBe(2);
    const refused = told.errors.find((error) => isTokenRefusal(error));
    expect(refused?.message).toMatch(/not a JWT.*503 Service Temporarily Unavailable/);
    expect(told.states).toContainEqual(expect.objectContaining({ state: 'connecting', reason: refused }));
    await (await client.room('junk-then-valid').publish('chat', { text: 'made it' })).sent;
  });

  it('a relay restarted with a new secret: the same client asks for a new token and sends again within 10 s', async () => {
    let secret = 'first-secret-first-secret-first-secret-0001';
    const mint = () => signAccessToken({ sub: 'rotator', rooms: ['*'], ttlSeconds: 3600 }, secret);
    // The relay itself, not the support helper: the restarted one must come back on the same port.
    let relay = createRelay({ tokenSecret: secret, transports: ['websocket'] });
    const { url, port } = await relay.listen(0);
    cleanups.push(() => relay.close());
    let minted = 0;
    const client = testClient({ relays: [url], token: () => (minted++, mint()) });
    const told = watch(client);
    const room = client.room('rotation');
    await (await room.publish('chat', { n: 1 })).sent;
    expect(minted).toBe(1);

    // Secret rotated: the relay comes back on the same address and refuses the token the client holds.
    await relay.close();
    secret = 'second-secret-second-secret-second-secret-2';
    relay = createRelay({ tokenSecret: secret, transports: ['websocket'] });
    await relay.listen(port);
    const restarted = Date.now();
    let sent = false;
    void (await room.publish('chat', { n: 2 })).sent.then(
      () => (sent = true),
      () => {}, // the client closes after a failure here
    );
    await waitFor(() => sent, 'the message after the rotation to be sent', 10_000, 20);
    expect(Date.now() - restarted).toBeLessThan(10_000);
    expect(minted).toBeGreaterThanOrEqual(2);
    expect(told.errors.some((error) => error.kind === 'unauthorized')).toBe(true);
    expect(told.states).toContainEqual(expect.objectContaining({ state: 'connecting', reason: expect.objectContaining({ kind: 'unauthorized' }) }));
    expect(client.state).toBe('online');
  });
});

describe('a relay that never answers CONNECT (item 10)', () => {
  it('times out, moves on to the next relay and gets online there', async () => {
    // A real Socket.IO server whose auth hangs: the Engine.IO handshake completes, CONNECT is never answered.
    const http = createServer();
    const io = new Server(http, { transports: ['websocket'] });
    io.use(() => {});
    const hanging = await listen(http);
    cleanups.push(() => void io.close());
    const relay = await startRelay();
    cleanups.push(() => relay.close());

    const client = testClient({ relays: [hanging, relay.url], token: await tokenFor('patient'), connectTimeoutMs: 500 });
    const told = watch(client);
    await waitFor(() => client.state === 'online', 'online on the second relay', 10_000, 20);
    expect((await client.inspect()).relay).toBe(relay.url);
    expect(told.errors.map((error) => error.kind)).toContain('connect_failed');
  });
});
