/**
 * One visitor cannot fill the relay with parties: the party server gives one browser identity tokens
 * for at most N different parties (20 by default), answers the N+1th with a 403 that says why, and
 * keeps renewing tokens for the parties the browser has.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPartyLimit } from './party-limit.js';
import { IDENTITY_COOKIE, startPartyServer, type PartyServer } from './party-server.js';

const SECRET = 'party-limit-test-secret-0123456789abcdef';

describe('parties per identity, through the party server', () => {
  let server: PartyServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'party-static-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>planner</title>');
    // The default bound; every test browser comes from 127.0.0.1, so no cap on new identities here.
    server = await startPartyServer({ staticDir: dir, tokenSecret: SECRET, newIdentitiesPerHour: 0 });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A browser profile: keeps its identity cookie between token requests. */
  function browser() {
    let cookie: string | undefined;
    return async (party: string) => {
      const response = await fetch(`${server.url}/api/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
        body: JSON.stringify({ party }),
      });
      const set = response.headers.getSetCookie().find((value) => value.startsWith(`${IDENTITY_COOKIE}=`));
      if (set) cookie = set.split(';')[0];
      return { status: response.status, answer: (await response.json()) as { error?: string; maxParties?: number; token?: string } };
    };
  }

  it('refuses the 21st different party of one browser with a 403 that says why; its parties and other browsers go on', async () => {
    const ana = browser();
    for (let i = 1; i <= 20; i++) expect((await ana(`party${String(i).padStart(4, '0')}`)).status).toBe(200);
    const refused = await ana('party0021');
    expect(refused.status).toBe(403);
    expect(refused.answer).toMatchObject({ error: expect.stringContaining('already in 20 parties'), maxParties: 20 });
    expect(refused.answer.token).toBeUndefined();
    // Her parties' tokens are renewed as ever; another browser starts parties of its own.
    expect((await ana('party0001')).status).toBe(200);
    expect((await ana('party0020')).status).toBe(200);
    expect((await browser()('party0021')).status).toBe(200);
  });
});

describe('createPartyLimit', () => {
  it('counts different parties per identity, and forgets the least recently seen identities past its memory bound', () => {
    const limit = createPartyLimit(2, 10);
    expect([limit.admit('ana', 'a'), limit.admit('ana', 'b'), limit.admit('ana', 'a'), limit.admit('ana', 'c')]).toEqual([true, true, true, false]);
    for (let i = 0; i < 10; i++) limit.admit(`guest${i}`, 'x');
    // Ana was seen least recently: forgotten with the oldest tenth, she starts again (errs towards letting a guest in).
    expect(limit.admit('ana', 'c')).toBe(true);
    expect(limit.admit('guest9', 'y')).toBe(true);
    expect(limit.admit('guest9', 'z')).toBe(false);
  });
});
