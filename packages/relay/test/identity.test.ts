/**
 * Identity real apps use: asymmetric tokens (ES256 here, RS256 and EdDSA alike) verified against a
 * JWKS file the relay is given, issuer/audience checks, a maximum token lifetime, and capabilities
 * per room pattern — a read-only grant reads but cannot publish or signal.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorKind } from '@partyline/protocol';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, connectRefusal, expectOk, publish, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

let dir: string;
let jwksFile: string;
let signingKey: CryptoKey;
let relay: RunningRelay;
const sockets: ClientSocket[] = [];

async function es256(claims: JWTPayload, kid: string, key = signingKey, lifetime = '1h'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).setSubject(String(claims.sub ?? 'ana')).setIssuedAt().setExpirationTime(lifetime).sign(key);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'partyline-jwks-'));
  jwksFile = join(dir, 'jwks.json');
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' }] }));
  relay = await startRelay({ jwks: { file: jwksFile }, tokenIssuer: 'https://app.example', tokenAudience: 'partyline' });
});
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});
afterAll(async () => {
  await relay?.relay.close();
  rmSync(dir, { recursive: true, force: true });
});

const claims = (extra: JWTPayload = {}): JWTPayload => ({ sub: 'ana', rooms: ['party:*'], iss: 'https://app.example', aud: 'partyline', ...extra });

describe('asymmetric tokens against a JWKS file', () => {
  it('accepts an ES256 token signed by a key in the JWKS', async () => {
    const socket = await connectClient(relay.url, await es256(claims(), 'key-1'));
    sockets.push(socket);
    expectOk(await publish(socket, 'party:abc', [{ id: 'es256-ok' }]));
  });

  it('refuses an unknown kid, a key not in the JWKS, the wrong issuer or audience — all unauthorized', async () => {
    const stranger = (await generateKeyPair('ES256')).privateKey;
    expect(await connectRefusal(relay.url, { token: await es256(claims(), 'key-404') })).toMatchObject({ kind: ErrorKind.Unauthorized, retryable: false, message: expect.stringContaining('kid') });
    expect(await connectRefusal(relay.url, { token: await es256(claims(), 'key-1', stranger) })).toMatchObject({ kind: ErrorKind.Unauthorized, message: 'token signature invalid' });
    expect(await connectRefusal(relay.url, { token: await es256(claims({ iss: 'https://evil.example' }), 'key-1') })).toMatchObject({ kind: ErrorKind.Unauthorized, message: expect.stringContaining('iss') });
    expect(await connectRefusal(relay.url, { token: await es256(claims({ aud: 'someone-else' }), 'key-1') })).toMatchObject({ kind: ErrorKind.Unauthorized, message: expect.stringContaining('aud') });
  });

  it('picks up a rotated key from the file without dropping open connections', async () => {
    const open = await connectClient(relay.url, await es256(claims(), 'key-1'));
    sockets.push(open);
    const next = await generateKeyPair('ES256');
    const current = JSON.parse((await import('node:fs')).readFileSync(jwksFile, 'utf8')) as { keys: object[] };
    writeFileSync(jwksFile, JSON.stringify({ keys: [...current.keys, { ...(await exportJWK(next.publicKey)), kid: 'key-2', alg: 'ES256' }] }));
    // The first unknown kid after a reload window makes the relay read the file again.
    await new Promise((resolve) => setTimeout(resolve, 10_100));
    const rotated = await connectClient(relay.url, await es256(claims(), 'key-2', next.privateKey));
    sockets.push(rotated);
    expectOk(await publish(rotated, 'party:abc', [{ id: 'rotated-key' }]));
    expectOk(await publish(open, 'party:abc', [{ id: 'still-open' }]));
  }, 30_000);

  it('refuses a token that lives longer than the relay allows (24 h by default)', async () => {
    const forever = await es256(claims(), 'key-1', signingKey, '1000y');
    expect(await connectRefusal(relay.url, { token: forever })).toMatchObject({ kind: ErrorKind.Unauthorized, message: expect.stringContaining('lifetime') });
  });

  it('refuses HS256 when the relay has no shared secret (no algorithm swap)', async () => {
    expect(await connectRefusal(relay.url, { token: await tokenFor('mallory', ['*']) })).toMatchObject({ kind: ErrorKind.Unauthorized, message: expect.stringContaining('HS256') });
  });
});

describe('capabilities per room pattern', () => {
  it('a read-only grant joins and reads, and gets forbidden on publish and signal', async () => {
    const viewer = await connectClient(relay.url, await es256(claims({ sub: 'viewer', rooms: undefined, grants: [{ room: 'party:*', can: ['read'] }] }), 'key-1'));
    sockets.push(viewer);
    expectOk(await request(viewer, 'room:join', { room: 'party:watch', since: 0 }));
    expectOk(await request(viewer, 'room:read', { room: 'party:watch', since: 0 }));
    const forbidden = { ok: false, error: { kind: ErrorKind.Forbidden, retryable: false, message: expect.stringContaining('publish') } };
    expect(await publish(viewer, 'party:watch', [{ id: 'not-allowed' }])).toMatchObject(forbidden);
    expect(await request(viewer, 'room:signal', { room: 'party:watch', type: 'typing', body: '{}' })).toMatchObject({ ok: false, error: { kind: ErrorKind.Forbidden } });
  });

  it('a publish-only grant cannot read', async () => {
    const writer = await connectClient(relay.url, await es256(claims({ sub: 'bot', rooms: undefined, grants: [{ room: 'inbox:*', can: ['publish'] }] }), 'key-1'));
    sockets.push(writer);
    expectOk(await publish(writer, 'inbox:1', [{ id: 'drop-box' }]));
    expect(await request(writer, 'room:read', { room: 'inbox:1', since: 0 })).toMatchObject({ ok: false, error: { kind: ErrorKind.Forbidden } });
  });
});
