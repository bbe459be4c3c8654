/**
 * History windows in real Chromium, on a big room: a room of 100,000 messages (written straight into
 * Redis in the relay's layout), a new tab opened with `from: { last: 50 }`, scrolling back 500 messages
 * with `loadOlder(100)` five times while a Node member publishes 1,000 new ones. The tab's whole view —
 * older pages prepended, `history()` at open, then its `message` events — must be exactly one run of
 * the log, from 500 before the window to the final head: no gap, no duplicate, log order, on both
 * seams (older pages | window, window | live). One relay over a real Redis, retention unlimited.
 */
import { PROTOCOL_VERSION } from '@partyline/protocol';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import type { Browser, Page } from 'playwright-core';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readLog, type Entry } from './support/app-view.js';
import { launchBrowser, newProfile, openPage, startTestSite, type TestSite } from './support/browser-harness.js';
import { fillRoomLog } from './support/redis-log.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';

const BIG = 100_000;
const WINDOW = 50;
const OLDER_PAGE = 100;
const OLDER_PAGES = 5;
const LIVE = 1_000;
/** At most this many live messages are published while the tab opens (one batch of 10 every 40 ms); the rest come during the scroll-back. */
const LIVE_AT_OPEN_MAX = 600;
const ROOM = 'big-room';

let redis: RedisServer;
let relay: InProcessRelay;
let site: TestSite;
let browser: Browser;

beforeAll(async () => {
  // No AOF: nothing here kills Redis, and 100,000 fsyncs would only slow the fill.
  redis = await startRedis({ appendOnly: false });
  const started = performance.now();
  await fillRoomLog(redis.url, ROOM, BIG, (seq) => `{"text":"message ${seq}"}`);
  console.log(`[big room window] filled ${BIG.toLocaleString('en')} messages into Redis in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  [relay, site, browser] = await Promise.all([
    startRelay({ redisUrl: redis.url, retention: { maxMessages: 0, maxAgeMs: 0 } }),
    startTestSite(),
    launchBrowser(),
  ]);
}, 180_000);

afterEach(async () => {
  for (const context of browser.contexts()) await context.close();
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await relay?.close();
  await redis?.stop();
});

/**
 * Another member of the room, straight over a socket: publishes `live-<n>` messages in batches of 10,
 * each batch acked before the next, optionally pausing between batches and stopping early.
 */
async function livePublisher(room: string) {
  const socket: Socket = io(relay.url, { transports: ['websocket'], auth: { token: await tokenFor('carol'), protocol: PROTOCOL_VERSION }, forceNew: true, reconnection: false });
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
  let next = 1;
  return {
    /** Publishes up to `count` messages (fewer once `until()` holds); answers how many. */
    async publish(count: number, options: { pauseMs?: number; until?: () => boolean } = {}): Promise<number> {
      let sent = 0;
      while (sent < count && !options.until?.()) {
        const messages = Array.from({ length: Math.min(10, count - sent) }, () => ({ id: `live-${next}`, type: 'chat', body: JSON.stringify({ n: next++ }) }));
        const ack = (await socket.timeout(10_000).emitWithAck('room:publish', { room, messages })) as { ok: boolean };
        if (!ack.ok) throw new Error(`publish failed: ${JSON.stringify(ack)}`);
        sent += messages.length;
        if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      }
      return sent;
    },
    close: () => void socket.close(),
  };
}

interface WindowView {
  older: Entry[];
  history: Entry[];
  events: Entry[];
}

type Pl = {
  view: WindowView;
  loadOlder(limit: number): Promise<{ count: number; first?: number; last?: number; hasMore: boolean }>;
  historyIds(): Promise<string[]>;
  errors: string[];
  resets: unknown[];
};

const windowView = (page: Page): Promise<WindowView> =>
  page.evaluate(() => {
    const { view } = (window as unknown as { pl: Pl }).pl;
    return { older: view.older.slice(), history: view.history.slice(), events: view.events.slice() };
  });

const loadOlder = (page: Page, limit: number) => page.evaluate((limit) => (window as unknown as { pl: Pl }).pl.loadOlder(limit), limit);

/** `1–130, 148–301` — runs of consecutive seqs, for failure messages. */
function runs(entries: readonly Entry[]): string {
  const parts: string[] = [];
  for (let i = 0; i < entries.length; ) {
    let j = i;
    while (j + 1 < entries.length && entries[j + 1]!.seq === entries[j]!.seq + 1) j++;
    parts.push(i === j ? `${entries[i]!.seq}` : `${entries[i]!.seq}–${entries[j]!.seq}`);
    i = j + 1;
  }
  return parts.join(', ') || 'none';
}

describe('history windows in Chromium, on a room of 100,000 messages', () => {
  it('a new tab opens at the newest 50, scrolls back 500 while 1,000 arrive live: one exact run of the log across both seams', async () => {
    const live = await livePublisher(ROOM);
    const profile = await newProfile(browser, site);

    // The tab opens while live messages are being appended: the window is taken at whatever head the join sees.
    const opening = performance.now();
    let windowShown = false;
    const atOpen = live.publish(LIVE_AT_OPEN_MAX, { pauseMs: 40, until: () => windowShown });
    const page = await openPage(profile, site, { relays: [relay.url], room: ROOM, sub: 'ana', last: WINDOW });
    // A fresh profile: history() answers [] and the window comes as the first events.
    const opened = await windowView(page);
    expect(opened.history, 'history() at open, on a fresh profile').toEqual([]);
    const firstWindow = await waitFor(async () => {
      const { events } = await windowView(page);
      return events.length >= WINDOW ? events : undefined;
    }, 'the window as events', 30_000, 50);
    windowShown = true;
    const publishedAtOpen = await atOpen;
    const windowStart = firstWindow[0]!.seq;
    const windowEnd = windowStart + WINDOW - 1;
    console.log(
      `[big room window] window ${windowStart}–${windowEnd} on screen ${(performance.now() - opening).toFixed(0)} ms after opening the page; ` +
        `the join came after ${windowEnd - BIG} of the ${publishedAtOpen} live messages published while the tab opened`,
    );
    // Joined at a head of 100,000 plus however many live messages were in by then.
    expect(windowEnd).toBeGreaterThanOrEqual(BIG);
    expect(windowEnd).toBeLessThanOrEqual(BIG + publishedAtOpen);

    // Scroll back 5 × 100 while the rest of the live messages come in (one run of them per page).
    const rest = LIVE - publishedAtOpen;
    const pages: { count: number; first?: number; last?: number; hasMore: boolean; ms: number; eventsBefore: number }[] = [];
    for (let i = 0; i < OLDER_PAGES; i++) {
      const eventsBefore = (await windowView(page)).events.length;
      const started = performance.now();
      const share = Math.floor((rest * (i + 1)) / OLDER_PAGES) - Math.floor((rest * i) / OLDER_PAGES);
      const [older] = await Promise.all([loadOlder(page, OLDER_PAGE), live.publish(share)]);
      pages.push({ ...older, ms: performance.now() - started, eventsBefore });
    }
    live.close();
    console.log(`[big room window] older pages (each while ${Math.floor(rest / OLDER_PAGES)}± live messages were published): ${pages.map((p) => `${p.first}–${p.last} in ${p.ms.toFixed(0)} ms with ${p.eventsBefore} events so far`).join('; ')}`);
    for (const [i, older] of pages.entries()) {
      expect(older, `older page ${i + 1}`).toMatchObject({ count: OLDER_PAGE, first: windowStart - (i + 1) * OLDER_PAGE, last: windowStart - i * OLDER_PAGE - 1, hasMore: true });
    }

    // Every live message reached the tab: its view ends at the final head.
    const head = BIG + LIVE;
    await waitFor(async () => ((await windowView(page)).events.at(-1)?.seq ?? 0) >= head, `the tab's view reaching seq ${head}`, 30_000, 100);
    const view = await windowView(page);
    const seen = [...view.older, ...view.history, ...view.events];
    const first = windowStart - OLDER_PAGES * OLDER_PAGE;
    const log = await readLog(relay.url, ROOM, { since: first - 1 });
    expect(log[0]?.seq).toBe(first);
    expect(log.at(-1)?.seq).toBe(head);
    expect(log).toHaveLength(head - first + 1); // the relay's own log has no hole there
    const problems = `older [${runs(view.older)}], history [${runs(view.history)}], events [${runs(view.events)}]`;
    expect(new Set(seen.map((entry) => entry.seq)).size, `no duplicate: ${problems}`).toBe(seen.length);
    expect(seen, `older + history + events == the log ${first}–${head}: ${problems}`).toEqual(log);
    console.log(`[big room window] view ${first}–${head}: ${view.older.length} older + ${view.history.length} at open + ${view.events.length} events, each once, in log order`);

    // The view's start moved back over the pages: history() now answers the whole view.
    const ids = await page.evaluate(() => (window as unknown as { pl: Pl }).pl.historyIds());
    expect(ids).toEqual(log.map((entry) => entry.id));
    const pl = await page.evaluate(() => {
      const { errors, resets } = (window as unknown as { pl: Pl }).pl;
      return { errors, resets };
    });
    expect(pl).toEqual({ errors: [], resets: [] });
  }, 180_000);
});
