/**
 * A JWKS URL that is down is an outage, not a bad token: a relay whose key source hangs, answers
 * 503, answers no JSON or refuses the connection refuses handshakes with `unavailable` and a
 * `retryAfterMs` (clients retry) within its bounded fetch timeout, and warns once; with the JWKS
 * healthy, a token signed by a key it does not hold stays `unauthorized`. Real HTTP servers, real relays.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { ErrorKind } from '@partyline/protocol';
import { findFreePort, waitFor } from '@partyline/test-support';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, connectRefusal, startRelay, type RunningRelay } from './support/harness.js';

let signingKey: CryptoKey;
let jwks: string;
const servers: Server[] = [];
const relays: RunningRelay[] = [];

function es256(kid: string, key = signingKey): Promise<string> {
  return new SignJWT({ rooms: ['party:*'] }).setProtectedHeader({ alg: 'ES256', kid }).setSubject('ana').setIssuedAt().setExpirationTime('1h').sign(key);
}

/** A JWKS endpoint on 127.0.0.1 that answers with `handle` (or never, if it does not). */
async function jwksServer(handle: (respond: (status: number, body: string) => void) => void): Promise<string> {
  const server = createServer((_request, response) => handle((status, body) => response.writeHead(status, { 'content-type': 'application/json' }).end(body)));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
}

/** A relay checking tokens against `url`, with its warnings collected. */
async function relayWith(url: string): Promise<{ relay: RunningRelay; warnings: string[] }> {
  const warnings: string[] = [];
  const sink = new Writable({
    write(line: Buffer, _encoding, done) {
      warnings.push(String((JSON.parse(line.toString()) as { msg: string }).msg));
      done();
    },
  });
  const relay = await startRelay({ jwks: { url }, logger: pino({ level: 'warn' }, sink) });
  relays.push(relay);
  return { relay, warnings };
}

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' }] });
});
afterEach(async () => {
  for (const { relay } of relays.splice(0)) await relay.close();
});
afterAll(() => {
  for (const server of servers) server.closeAllConnections();
  for (const server of servers) server.close();
});

describe('JWKS outage', () => {
  it('a JWKS URL that never answers: unavailable with retryAfterMs once the fetch times out, warned once', async () => {
    const url = await jwksServer(() => {}); // accepts, reads the request, never answers
    const { relay, warnings } = await relayWith(url);
    const refusals = await Promise.all([1, 2, 3].map(async () => connectRefusal(relay.url, { token: await es256('key-1') })));
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ kind: ErrorKind.Unavailable, retryable: true, message: expect.stringContaining('token keys unavailable') });
      expect(refusal.retryAfterMs).toBeGreaterThan(0);
    }
    expect(await connectRefusal(relay.url, { token: await es256('key-1') })).toMatchObject({ kind: ErrorKind.Unavailable });
    expect(warnings.filter((message) => message.includes('JWKS'))).toHaveLength(1);
  }, 30_000);

  it.each([
    ['answers 503', (respond: (status: number, body: string) => void) => respond(503, '{"error":"down for maintenance"}')],
    ['answers 200 with no JSON', (respond: (status: number, body: string) => void) => respond(200, '<html>proxy error</html>')],
    ['answers JSON that is no key set', (respond: (status: number, body: string) => void) => respond(200, '{"keys":"none"}')],
  ])('a JWKS URL that %s: unavailable', async (_name, handle) => {
    const { relay } = await relayWith(await jwksServer(handle));
    const refusal = await connectRefusal(relay.url, { token: await es256('key-1') });
    expect(refusal).toMatchObject({ kind: ErrorKind.Unavailable, retryable: true });
    expect(refusal.retryAfterMs).toBeGreaterThan(0);
  });

  it('a JWKS URL whose port refuses connections: unavailable, on the socket and as HTTP 503 with Retry-After', async () => {
    const { relay } = await relayWith(`http://127.0.0.1:${await findFreePort()}/jwks.json`);
    expect(await connectRefusal(relay.url, { token: await es256('key-1') })).toMatchObject({ kind: ErrorKind.Unavailable, retryable: true });
    const response = await fetch(`${relay.url}/v1/rooms/party:abc/messages`, { headers: { authorization: `Bearer ${await es256('key-1')}` } });
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await response.json()).toMatchObject({ error: { kind: ErrorKind.Unavailable } });
  });

  it('accepts tokens again once the JWKS is back', async () => {
    let down = true;
    const { relay } = await relayWith(await jwksServer((respond) => (down ? respond(503, '{}') : respond(200, jwks))));
    expect(await connectRefusal(relay.url, { token: await es256('key-1') })).toMatchObject({ kind: ErrorKind.Unavailable });
    down = false;
    const token = await es256('key-1');
    await waitFor(async () => (await connectRefusal(relay.url, { token }).catch(() => undefined)) === undefined, 'a handshake accepted after the JWKS recovered', 20_000, 500);
  }, 30_000);

  it('with the JWKS healthy, its key is accepted and an unknown kid or a stranger key stays unauthorized', async () => {
    const { relay } = await relayWith(await jwksServer((respond) => respond(200, jwks)));
    const socket = await connectClient(relay.url, await es256('key-1'));
    expect(socket.connected).toBe(true);
    socket.close();
    const stranger = (await generateKeyPair('ES256')).privateKey;
    expect(await connectRefusal(relay.url, { token: await es256('key-404', stranger) })).toMatchObject({ kind: ErrorKind.Unauthorized, retryable: false, message: expect.stringContaining('kid') });
    expect(await connectRefusal(relay.url, { token: await es256('key-1', stranger) })).toMatchObject({ kind: ErrorKind.Unauthorized, message: 'token signature invalid' });
  });
});
