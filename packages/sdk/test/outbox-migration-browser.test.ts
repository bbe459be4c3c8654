/**
 * Database version 1 → 3 in real Chromium: a profile whose IndexedDB a version-1 SDK left with queued
 * messages (outbox keyed by `id` with a `room` index) opens a page of this SDK; the upgrade keeps
 * them, they reach a real relay exactly once in publish order, and the outbox holds records keyed `[room, id]`.
 */
import type { Browser, Page } from 'playwright-core';
import { waitFor } from '@partyline/test-support';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createMessageId } from '../src/message-id.js';
import type { OutboxEntry } from '../src/outbox-store.js';
import { launchBrowser, newProfile, openPage, startTestSite, type TestSite } from './support/browser-harness.js';
import { startRelay, type InProcessRelay } from './support/relays.js';

let relay: InProcessRelay;
let site: TestSite;
let browser: Browser;

beforeAll(async () => {
  [relay, site, browser] = await Promise.all([startRelay(), startTestSite(), launchBrowser()]);
}, 120_000);

afterEach(async () => {
  for (const context of browser.contexts()) await context.close();
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await relay?.close();
});

/** Makes the page's origin hold a database exactly as the version-1 SDK created it, with `entries` queued. */
function createV1(page: Page, entries: OutboxEntry[]): Promise<void> {
  return page.evaluate(
    (queued) =>
      new Promise<void>((resolve, reject) => {
        const request = indexedDB.open('partyline', 1);
        request.onupgradeneeded = () => {
          const db = request.result;
          db.createObjectStore('outbox', { keyPath: 'id' }).createIndex('room', 'room');
          db.createObjectStore('inbox', { keyPath: ['room', 'seq'] }).createIndex('room', 'room');
          db.createObjectStore('cursors', { keyPath: 'room' });
        };
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const db = request.result;
          const tx = db.transaction('outbox', 'readwrite');
          for (const entry of queued) tx.objectStore('outbox').add(entry);
          tx.oncomplete = () => {
            db.close();
            resolve();
          };
          tx.onabort = () => reject(tx.error);
        };
      }),
    entries,
  );
}

/** The database as the page's origin holds it now, read without the SDK. */
function readRaw(page: Page): Promise<{ version: number; keyPath: string | string[] | null; indexes: string[]; keys: IDBValidKey[] }> {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const request = indexedDB.open('partyline');
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const db = request.result;
          const outbox = db.transaction('outbox').objectStore('outbox');
          const keys = outbox.getAllKeys();
          keys.onsuccess = () => {
            resolve({ version: db.version, keyPath: outbox.keyPath, indexes: [...outbox.indexNames], keys: keys.result });
            db.close();
          };
        };
      }),
  );
}

it('a version-1 outbox is upgraded in place: its messages reach the relay once each, in order, and the other room’s wait', async () => {
  const room = `migrate-browser-${Date.now()}`;
  const other = `${room}-unopened`;
  const queued = (target: string, n: number): OutboxEntry => ({
    id: createMessageId(),
    room: target,
    type: 'chat',
    body: JSON.stringify({ n }),
    createdAt: Date.now(),
    attempts: 0,
    sender: 'alice',
  });
  const entries = [queued(room, 1), queued(other, 1), queued(room, 2), queued(room, 3)];
  const profile = await newProfile(browser, site);
  // A page of the same origin that does not start the SDK.
  await profile.route(`${site.url}/setup`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>setup</title>' }));
  const setup = await profile.newPage();
  await setup.goto(`${site.url}/setup`);
  await createV1(setup, entries);

  const page = await openPage(profile, site, { relays: [relay.url], room, sub: 'alice' });
  await waitFor(async () => (await relay.relay.store.read(room, 0, 0)).headSeq >= 3, 'the three queued messages at the relay', 30_000);
  await waitFor(
    async () => (await page.evaluate(() => (window as unknown as { pl: { pendingIds(): Promise<string[]> } }).pl.pendingIds())).length === 0,
    'the room’s outbox empty',
  );
  const log = await relay.relay.store.read(room, 0, 100);
  expect(log.messages.map((message) => [message.id, message.sender, message.body])).toEqual(
    entries.filter((entry) => entry.room === room).map((entry) => [entry.id, 'alice', entry.body]),
  );
  expect(log.headSeq).toBe(3);
  expect((await relay.relay.store.read(other, 0, 0)).headSeq).toBe(0);

  await page.close();
  expect(await readRaw(setup)).toEqual({ version: 3, keyPath: ['room', 'id'], indexes: [], keys: [[other, entries[1]!.id]] });
});
