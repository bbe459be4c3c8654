/**
 * The byte-bounded message cache in real Chromium's IndexedDB (inbox-bounds.test.ts runs it over
 * fake-indexeddb): a tab caches only the newest run within `inboxMaxBytes`; after the tab is closed
 * and the profile opens the room again, its history() is that run, the events continue right after
 * it, and loadOlder() reaches seq 1 from the relay — one exact run of the log, nothing twice.
 */
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appView, launchBrowser, newProfile, openPage, startTestSite, waitForCount, type TestSite } from './support/browser-harness.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, range, testClient } from './support/sdk-client.js';

/** Room for about 25 of the ~330-byte messages below. */
const BOUND = 8_000;

let relay: InProcessRelay;
let site: TestSite;
let browser: Browser;

beforeAll(async () => {
  [relay, site, browser] = await Promise.all([startRelay(), startTestSite(), launchBrowser()]);
}, 120_000);
afterEach(closeAllClients);
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await relay?.close();
});

type Pl = { loadOlder(limit: number): Promise<{ hasMore: boolean }>; view: { older: { seq: number }[] }; errors: string[] };

describe('the byte-bounded message cache in Chromium', () => {
  it('keeps the newest run within inboxMaxBytes; the room opened again resumes with no gap or duplicate, and loadOlder() reaches seq 1', async () => {
    const room = `inbox-bounds-browser-${Date.now()}`;
    const alice = testClient({ relays: [relay.url], token: await tokenFor('alice') }).room(room);
    const publish = async (from: number, to: number) => {
      const handles = [];
      for (let i = from; i <= to; i++) handles.push(await alice.publish('chat', { i, pad: 'p'.repeat(200) }));
      await Promise.all(handles.map((handle) => handle.sent));
    };
    const profile = await newProfile(browser, site);
    const first = await openPage(profile, site, { relays: [relay.url], room, sub: 'ana', inboxMaxBytes: BOUND });
    await publish(1, 100);
    await waitForCount(first, 100, 'all 100 in the first tab');

    // The cache as Chromium holds it, measured as the SDK does (characters of the text plus 64 a message).
    const cache = await first.evaluate(async (room) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => Object.assign(indexedDB.open('partyline'), { onsuccess(this: IDBOpenDBRequest) { resolve(this.result); }, onerror: reject }));
      const read = <T>(store: string, query: IDBValidKey | IDBKeyRange) =>
        new Promise<T>((resolve, reject) => Object.assign(db.transaction(store).objectStore(store).getAll(query), { onsuccess(this: IDBRequest<T>) { resolve(this.result); }, onerror: reject }));
      for (;;) {
        const [cursor] = await read<{ lastSeq: number; bytes?: number }[]>('cursors', room);
        if (cursor?.lastSeq === 100) {
          const messages = await read<{ seq: number; id: string; type: string; body: string; sender: string }[]>('inbox', IDBKeyRange.bound([room, 0], [room, Number.MAX_SAFE_INTEGER]));
          db.close();
          const bytes = messages.reduce((sum, m) => sum + m.id.length + m.type.length + m.body.length + m.sender.length + 64, 0);
          return { seqs: messages.map((m) => m.seq), bytes, cursorBytes: cursor.bytes };
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }, room);
    const oldest = cache.seqs[0]!;
    console.log(`[inbox-bounds browser] 100 messages handed, ${cache.seqs.length} cached in Chromium (${cache.bytes} bytes, bound ${BOUND})`);
    expect(cache.bytes).toBeLessThanOrEqual(BOUND);
    expect(cache.seqs).toEqual(range(oldest, 100));
    expect(cache.cursorBytes).toBe(cache.bytes);
    await first.close();

    await publish(101, 110);
    const again = await openPage(profile, site, { relays: [relay.url], room, sub: 'ana', inboxMaxBytes: BOUND });
    await waitForCount(again, 10, 'what came while the room was closed');
    const older = await again.evaluate(async () => {
      const { pl } = window as unknown as { pl: Pl };
      while ((await pl.loadOlder(30)).hasMore);
      return { seqs: pl.view.older.map((m) => m.seq), errors: pl.errors };
    });
    const view = await appView(again);
    expect(view.history.map((m) => m.seq)).toEqual(range(oldest, 100));
    expect(view.events.map((m) => m.seq)).toEqual(range(101, 110));
    expect([...older.seqs, ...view.history.map((m) => m.seq), ...view.events.map((m) => m.seq)]).toEqual(range(1, 110));
    expect(older.errors).toEqual([]);
  }, 120_000);
});
