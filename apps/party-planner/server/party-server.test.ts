import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyAccessToken } from '@partyline/relay';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IDENTITY_COOKIE, SERVER_USER_ID_PATTERN, startPartyServer, type PartyServer } from './party-server.js';
import { addressKey, createNewIdentityLimit } from './new-identity-limit.js';

const SECRET = 'party-server-test-secret-0123456789abcdef';

describe('party server', () => {
  let server: PartyServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'party-static-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>planner</title>');
    writeFileSync(join(dir, 'assets', 'app-123.js'), 'console.log(1)');
    // Every test browser comes from 127.0.0.1: no cap on new identities here (tested on its own below).
    server = await startPartyServer({ staticDir: dir, tokenSecret: SECRET, newIdentitiesPerHour: 0 });
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const token = (body: unknown, cookie?: string, target: PartyServer = server) =>
    fetch(`${target.url}/api/token`, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });

  /** A browser: keeps the identity cookie between requests, as a browser profile does. */
  function browser(target: PartyServer = server) {
    let cookie: string | undefined;
    return {
      get cookie() {
        return cookie;
      },
      async token(body: unknown) {
        const response = await token(body, cookie, target);
        const set = response.headers.getSetCookie().find((value) => value.startsWith(`${IDENTITY_COOKIE}=`));
        if (set) cookie = set.split(';')[0];
        return { response, answer: response.ok ? ((await response.json()) as { token: string; user: string; room: string }) : undefined, set };
      },
    };
  }

  const subOf = async (jwt: string) => {
    const check = await verifyAccessToken(jwt, new TextEncoder().encode(SECRET));
    if (!check.ok) throw new Error(`bad token: ${check.error.message}`);
    return check.claims;
  };

  it('mints a token that grants exactly the one party, for the identity the server gave this browser', async () => {
    const ana = browser();
    const first = await ana.token({ party: 'abc123xyz' });
    expect(first.response.status).toBe(200);
    expect(first.answer?.room).toBe('party:abc123xyz');
    expect(first.answer?.user).toMatch(SERVER_USER_ID_PATTERN);
    expect(await subOf(first.answer!.token)).toMatchObject({ sub: first.answer?.user, rooms: ['party:abc123xyz'] });
    // HttpOnly (scripts never see it), SameSite=Lax, the whole site, long-lived; not Secure over plain http.
    expect(first.set).toMatch(/; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);

    // The same browser is the same friend, in every party; another browser is another one.
    const again = await ana.token({ party: 'other1party' });
    expect(again.answer?.user).toBe(first.answer?.user);
    expect(await subOf(again.answer!.token)).toMatchObject({ sub: first.answer?.user, rooms: ['party:other1party'] });
    const bo = await browser().token({ party: 'abc123xyz' });
    expect(bo.answer?.user).toMatch(SERVER_USER_ID_PATTERN);
    expect(bo.answer?.user).not.toBe(first.answer?.user);
  });

  it('never signs a token for a user the caller names: the body `user` is ignored, forged cookies are not identities', async () => {
    const ana = browser();
    const anaId = (await ana.token({ party: 'abc123xyz' })).answer!.user;

    // Mallory has her own cookie and names Ana: she gets herself.
    const mallory = browser();
    const malloryId = (await mallory.token({ party: 'abc123xyz' })).answer!.user;
    const asked = await mallory.token({ party: 'abc123xyz', user: anaId });
    expect(asked.answer?.user).toBe(malloryId);
    expect((await subOf(asked.answer!.token)).sub).toBe(malloryId);

    // Without a cookie, naming Ana gets a new identity, never Ana's.
    const bare = await token({ party: 'abc123xyz', user: anaId });
    const bareAnswer = (await bare.json()) as { token: string; user: string };
    expect(bareAnswer.user).not.toBe(anaId);
    expect((await subOf(bareAnswer.token)).sub).toBe(bareAnswer.user);

    // A cookie with Ana's id but not the server's MAC (made up, or Mallory's MAC) is no identity at all.
    const malloryMac = mallory.cookie!.split('.').at(-1);
    for (const forged of [`${IDENTITY_COOKIE}=${anaId}.${malloryMac}`, `${IDENTITY_COOKIE}=${anaId}`, `${IDENTITY_COOKIE}=${anaId}.`, `other=1; ${IDENTITY_COOKIE}=${anaId}.AAAA`]) {
      const response = await token({ party: 'abc123xyz' }, forged);
      const answer = (await response.json()) as { user: string };
      expect(answer.user, forged).not.toBe(anaId);
      expect(answer.user, forged).toMatch(SERVER_USER_ID_PATTERN);
    }
    // Ana's real cookie among others still works (a browser sends every cookie of the site).
    const withOthers = await token({ party: 'abc123xyz' }, `theme=dark; ${ana.cookie!}; x=y`);
    expect(((await withOthers.json()) as { user: string }).user).toBe(anaId);
  });

  it('refuses party ids that could widen the grant, and bad bodies', async () => {
    for (const party of ['*', 'abc*', 'party:x', 'ABCDEFGH', 'abc', '']) {
      expect((await token({ party })).status).toBe(400);
    }
    expect((await fetch(`${server.url}/api/token`, { method: 'POST', body: '{nope' })).status).toBe(400);
    expect((await fetch(`${server.url}/api/token`)).status).toBe(405);
  });

  it('mints a read-only token for the parties a browser lists (their unread counts), only for a browser with an identity', async () => {
    const ana = browser();
    const anaId = (await ana.token({ party: 'list123abc' })).answer!.user;
    const listed = await ana.token({ parties: ['list123abc', 'other456def', 'list123abc'] });
    expect(listed.response.status).toBe(200);
    const claims = await subOf((listed.answer as unknown as { token: string }).token);
    expect(claims.sub).toBe(anaId);
    expect(claims.grants).toEqual([
      { room: 'party:list123abc', can: ['read'] },
      { room: 'party:other456def', can: ['read'] },
    ]);
    // No identity, no list: the token would be for nobody's parties.
    expect((await token({ parties: ['list123abc'] })).status).toBe(401);
    for (const parties of [[], ['*'], ['party:x'], 'list123abc', Array.from({ length: 21 }, (_, index) => `party${String(index).padStart(3, '0')}`)]) {
      expect((await token({ parties }, ana.cookie)).status, JSON.stringify(parties)).toBe(400);
    }
  });

  it('answers a malformed URL escape with a short 400, not a 500 with a stack trace in the log', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      // Raw requests: fetch would not send some of these targets as they are.
      const raw = (path: string, method = 'GET') =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const request = httpRequest(`${server.url}${path}`, { method }, (response) => {
            let body = '';
            response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
          });
          request.on('error', reject);
          request.end();
        });
      for (const path of ['/p/%E0%A4%A', '/%', '/%E0%A4', '/assets/%zz.js', '/p/abc%00def', '/%c0%af']) {
        for (const method of ['GET', 'HEAD']) {
          const answer = await raw(path, method);
          expect(answer.status, `${method} ${path}`).toBe(400);
          if (method === 'GET') expect(JSON.parse(answer.body), path).toEqual({ error: 'malformed URL' });
        }
      }
      // The server is fine afterwards, and logged nothing for any of them.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect(errors).not.toHaveBeenCalled();
    } finally {
      errors.mockRestore();
    }
  });

  it('embeds one relay and points the app at it', async () => {
    expect(server.relays).toHaveLength(1);
    const config = (await (await fetch(`${server.url}/api/config`)).json()) as { relays: string[] };
    expect(config.relays).toEqual(server.relays);
    expect((await fetch(`${server.relays[0]}/readyz`)).status).toBe(200);
    // The embedded relay is on the open port the browser uses: its metrics are not served there.
    expect((await fetch(`${server.relays[0]}/metrics`)).status).toBe(404);
  });

  it('serves the app for client routes, assets with long caching, 404 for missing files, nothing outside the app', async () => {
    const page = await fetch(`${server.url}/p/abc123xyz`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('planner');
    const asset = await fetch(`${server.url}/assets/app-123.js`);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(asset.headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${server.url}/assets/missing.js`)).status).toBe(404);
    // Escaping paths collapse inside the app directory: the app shell, never the file outside.
    for (const path of ['/..%2f..%2fetc%2fpasswd', '/assets/..%2f..%2f..%2fetc%2fhostname']) {
      const response = await fetch(`${server.url}${path}`);
      const body = await response.text();
      expect(body.includes('<title>planner</title>') || response.status === 404).toBe(true);
    }
  });
});

describe('new identities per address', () => {
  it('lets an address have `perHour` new identities at once, then one every 3600/perHour seconds', () => {
    const limit = createNewIdentityLimit(3);
    const t0 = 1_000_000;
    for (let n = 0; n < 3; n += 1) expect(limit.take('203.0.113.7', t0)).toEqual({ ok: true });
    expect(limit.take('203.0.113.7', t0)).toEqual({ ok: false, retryAfterMs: 1_200_000 });
    expect(limit.take('203.0.113.8', t0)).toEqual({ ok: true }); // another address has its own
    expect(limit.take('203.0.113.7', t0 + 1_200_000)).toEqual({ ok: true });
    expect(limit.take('203.0.113.7', t0 + 1_200_000).ok).toBe(false);
  });

  it('counts IPv4-mapped addresses as IPv4 and IPv6 addresses per /64', () => {
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:1:2:3:4')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    const limit = createNewIdentityLimit(1);
    expect(limit.take('2001:db8:1:2::1').ok).toBe(true);
    expect(limit.take('2001:db8:1:2::2').ok).toBe(false);
    expect(limit.take('2001:db8:1:3::1').ok).toBe(true);
  });

  it('answers 429 with Retry-After for the next new identity, never for a browser that has one; behind a trusted proxy per forwarded address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'party-static-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>planner</title>');
    const limited = await startPartyServer({ staticDir: dir, tokenSecret: SECRET, newIdentitiesPerHour: 2 });
    const proxied = await startPartyServer({ staticDir: dir, tokenSecret: SECRET, newIdentitiesPerHour: 1, trustProxy: true });
    const post = (target: PartyServer, headers: Record<string, string> = {}) =>
      fetch(`${target.url}/api/token`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ party: 'abc123xyz' }) });
    const cookieOf = (response: Response) => response.headers.getSetCookie().find((value) => value.startsWith(`${IDENTITY_COOKIE}=`))?.split(';')[0] ?? '';
    try {
      const first = await post(limited);
      expect(first.status).toBe(200);
      expect((await post(limited)).status).toBe(200);
      const refused = await post(limited);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await refused.json()).toMatchObject({ error: expect.stringContaining('too many new visitors') });
      // The browser that got an identity keeps getting tokens.
      expect((await post(limited, { cookie: cookieOf(first) })).status).toBe(200);
      // Without trustProxy, X-Forwarded-For is anyone's to write: it changes nothing.
      expect((await post(limited, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(429);

      // Behind a trusted proxy: the last hop's address counts, and https makes the cookie Secure.
      const a = await post(proxied, { 'x-forwarded-for': '192.0.2.1, 198.51.100.1', 'x-forwarded-proto': 'https' });
      expect(a.status).toBe(200);
      expect(a.headers.getSetCookie().join()).toContain('; Secure');
      expect((await post(proxied, { 'x-forwarded-for': '192.0.2.2, 198.51.100.1' })).status).toBe(429);
      expect((await post(proxied, { 'x-forwarded-for': '198.51.100.2' })).status).toBe(200);
    } finally {
      await limited.close();
      await proxied.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
