import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyAccessToken } from '@partyline/relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPartyServer, type PartyServer } from './party-server.js';

const SECRET = 'party-server-test-secret-0123456789abcdef';

describe('party server', () => {
  let server: PartyServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'party-static-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>planner</title>');
    writeFileSync(join(dir, 'assets', 'app-123.js'), 'console.log(1)');
    server = await startPartyServer({ staticDir: dir, tokenSecret: SECRET });
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const token = (body: unknown) => fetch(`${server.url}/api/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('mints a token that grants exactly the one party, for the profile that asked', async () => {
    const response = await token({ party: 'abc123xyz', user: 'u-ana1' });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { token: string; room: string };
    expect(answer.room).toBe('party:abc123xyz');
    const check = await verifyAccessToken(answer.token, new TextEncoder().encode(SECRET));
    expect(check.ok && check.claims).toMatchObject({ sub: 'u-ana1', rooms: ['party:abc123xyz'] });
  });

  it('refuses party ids that could widen the grant, and bad users or bodies', async () => {
    for (const party of ['*', 'abc*', 'party:x', 'ABCDEFGH', 'abc', '']) {
      expect((await token({ party, user: 'u-ana1' })).status).toBe(400);
    }
    expect((await token({ party: 'abc123xyz', user: 'a b' })).status).toBe(400);
    expect((await fetch(`${server.url}/api/token`, { method: 'POST', body: '{nope' })).status).toBe(400);
    expect((await fetch(`${server.url}/api/token`)).status).toBe(405);
  });

  it('embeds one relay and points the app at it', async () => {
    expect(server.relays).toHaveLength(1);
    const config = (await (await fetch(`${server.url}/api/config`)).json()) as { relays: string[] };
    expect(config.relays).toEqual(server.relays);
    expect((await fetch(`${server.relays[0]}/readyz`)).status).toBe(200);
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
