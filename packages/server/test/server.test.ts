import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { secretKey, signAccessToken, signWebhook, verifyWebhook } from '../src/index.js';

const TOKEN_SECRET = 'server-package-test-secret-32-bytes!';
const WEBHOOK_SECRET = `whsec_${Buffer.from('webhook-secret-webhook-secret-32b').toString('base64')}`;
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Everything `npm i` of a package brings along: its dependencies, theirs, and so on (as installed here). */
function installedDependencyClosure(packageDir: string): Set<string> {
  const seen = new Set<string>();
  const visit = (dir: string) => {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      if (seen.has(name)) continue;
      seen.add(name);
      visit(installedPackageDir(dir, name));
    }
  };
  visit(packageDir);
  return seen;
}

/** Node's lookup: `node_modules/<name>` in the package's folder or the nearest parent that has it. */
function installedPackageDir(from: string, name: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed (needed by ${from})`);
  }
}

describe('@partyline/server', () => {
  it('mints an HS256 access token with the subject, rooms and lifetime asked for', async () => {
    const token = await signAccessToken({ sub: 'ana', rooms: ['party:abc'], ttlSeconds: 600 }, TOKEN_SECRET);
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    const { payload } = await jwtVerify(token, secretKey(TOKEN_SECRET), { algorithms: ['HS256'] });
    expect(payload).toMatchObject({ sub: 'ana', rooms: ['party:abc'] });
    expect(payload.exp! - payload.iat!).toBe(600);
  });

  it('refuses a token secret too short to resist guessing', async () => {
    await expect(signAccessToken({ sub: 'ana' }, 'short')).rejects.toThrow(RangeError);
  });

  it('verifies a webhook signed with the endpoint secret, and refuses a forged or stale one', () => {
    const body = JSON.stringify({ type: 'message.appended', data: { room: 'party:abc', seq: 1 } });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { 'webhook-id': 'evt_1', 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook(WEBHOOK_SECRET, 'evt_1', timestamp, body) };
    expect(verifyWebhook(WEBHOOK_SECRET, headers, body)).toEqual({ ok: true });
    expect(verifyWebhook(WEBHOOK_SECRET, headers, body.replace('abc', 'xyz'))).toEqual({ ok: false, reason: 'signature mismatch' });
    expect(verifyWebhook(WEBHOOK_SECRET, headers, body, { now: (timestamp + 3600) * 1000 })).toEqual({ ok: false, reason: 'timestamp too old or in the future' });
    expect(verifyWebhook(WEBHOOK_SECRET, { 'webhook-id': 'evt_1' }, body)).toEqual({ ok: false, reason: 'missing headers' });
  });

  it('installs without the relay’s socket server, Redis client, logger or metrics', () => {
    const closure = installedDependencyClosure(PACKAGE_DIR);
    expect(closure).toContain('jose');
    for (const heavy of ['@partyline/relay', 'socket.io', 'ioredis', 'pino', 'prom-client', '@socket.io/redis-adapter']) expect(closure).not.toContain(heavy);
  });
});
