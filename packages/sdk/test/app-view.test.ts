/**
 * The receive contract where the app looks, in real Chromium: each tab's view — what `history()`
 * answered at open, then its `message` events — must be exactly the room log from seq 1 (no gap, no
 * duplicate, log order), however tabs of one profile open, go offline, reload, lose their relay or
 * get stuck. Two relays (one a child process, for kill -9) over a real Redis.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { readLog, viewProblems, type Entry } from './support/app-view.js';
import { appView, launchBrowser, newProfile, openPage, startTestSite, stateOf, type AppView, type PageOptions, type TestSite } from './support/browser-harness.js';
import { spawnRelay, startRelay, tokenFor, type InProcessRelay, type RelayProcess } from './support/relays.js';
import { closeAllClients, testClient } from './support/sdk-client.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

type Pl = { publishMany(count: number, tag: string): Promise<string[]> };
const publishFrom = (page: Page, count: number, tag: string): Promise<string[]> =>
  page.evaluate(({ count, tag }) => (window as unknown as { pl: Pl }).pl.publishMany(count, tag), { count, tag });

let redis: RedisServer;
let relayA: RelayProcess;
let relayB: InProcessRelay;
let proxyA: TcpProxy;
let site: TestSite;
let browser: Browser;
let roomCounter = 0;
const nextRoom = () => `view-${++roomCounter}-${Date.now()}`;

beforeAll(async () => {
  redis = await startRedis();
  relayA = await spawnRelay(['--redis-url', redis.url]);
  [relayB, site, browser] = await Promise.all([startRelay({ redisUrl: redis.url }), startTestSite(), launchBrowser()]);
  proxyA = await startTcpProxy(relayA.port);
}, 120_000);

afterEach(async () => {
  await closeAllClients();
  for (const context of browser.contexts()) await context.close();
  proxyA.restore();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([proxyA?.close(), site?.close()]);
  await relayB?.close();
  await relayA?.stop();
  await redis?.stop();
});

/** A Node member publishing `count` messages through relay B, one every `everyMs`; resolves once all are in the log. */
async function publishFromNode(room: string, count: number, everyMs: number, onEach?: (n: number) => Promise<void> | void): Promise<Entry[]> {
  const client = testClient({ relays: [relayB.url], token: await tokenFor('carol') });
  const handle = client.room(room);
  const sent: Promise<{ seq: number }>[] = [];
  for (let n = 1; n <= count; n++) {
    sent.push((await handle.publish('chat', { n })).sent);
    await onEach?.(n);
    if (everyMs > 0) await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  await Promise.all(sent);
  return readLog(relayB.url, room);
}

/** Waits until the tab's view reaches the log head (the last message is the sentinel), then judges it. */
async function expectExactView(page: Page, room: string, label: string): Promise<AppView> {
  const log = await readLog(relayB.url, room);
  const head = log.at(-1)?.seq ?? 0;
  let view: AppView | undefined;
  try {
    await waitFor(async () => {
      view = await appView(page);
      const all = [...view.history, ...view.events];
      return (all.at(-1)?.seq ?? 0) >= head;
    }, `${label} reaches seq ${head}`, 30_000, 100);
  } catch (error) {
    const page_ = await page.evaluate(() => {
      const pl = (window as unknown as { pl: { states: string[]; errors: string[]; received: unknown[]; resets: unknown[] } }).pl;
      return { states: pl.states.slice(-5), errors: pl.errors.slice(-5), received: pl.received.length, resets: pl.resets };
    });
    throw new Error(`${(error as Error).message}: ${JSON.stringify(summary(view))} ${JSON.stringify(page_)}`);
  }
  expect(viewProblems(view!, log), `${label}: ${JSON.stringify(summary(view))}`).toEqual([]);
  return view!;
}

const summary = (view: AppView | undefined) =>
  view && { history: span(view.history), events: span(view.events) };
const span = (entries: Entry[]) => (entries.length === 0 ? '[]' : `${entries.length}: ${entries[0]!.seq}..${entries.at(-1)!.seq}`);

async function tab(context: BrowserContext, room: string, options: Partial<PageOptions> = {}): Promise<Page> {
  return openPage(context, site, { relays: [proxyA.url, relayB.url], room, sub: 'alice', ...options });
}

describe('each tab’s app view in Chromium (history() at open + message events)', () => {
  it('tabs of one profile opened while another tab is delivering see every message once, from seq 1', async () => {
    const room = nextRoom();
    const profile = await newProfile(browser, site);
    const first = await tab(profile, room);
    const late: Promise<Page>[] = [];
    // ~100 messages/s; tabs open at several points while the first tab stores them in the shared cache.
    await publishFromNode(room, 240, 8, (n) => {
      if (n % 60 === 0) late.push(tab(profile, room));
    });
    const pages = [first, ...(await Promise.all(late))];
    expect(pages).toHaveLength(5);
    for (const [i, page] of pages.entries()) await expectExactView(page, room, `tab ${i + 1}`);
    // The late tabs really opened mid-stream: their history() was a non-empty prefix, the rest came as events.
    const late2 = await appView(pages[2]!);
    expect(late2.history.length).toBeGreaterThan(0);
    expect(late2.events.length).toBeGreaterThan(0);
  });

  it('a tab opened while the profile is offline shows the cache, then continues exactly when online', async () => {
    const room = nextRoom();
    const profile = await newProfile(browser, site);
    const first = await openPage(profile, site, { relays: [proxyA.url], room, sub: 'alice' });
    await publishFromNode(room, 20, 0);
    await expectExactView(first, room, 'first tab');
    proxyA.sever();
    await profile.setOffline(true);
    await waitFor(async () => (await stateOf(first)) === 'offline', 'first tab offline', 10_000, 50);
    await publishFromNode(room, 30, 0);
    const second = await openPage(profile, site, { relays: [proxyA.url], room, sub: 'alice' });
    expect((await appView(second)).history.map((entry) => entry.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    proxyA.restore();
    await profile.setOffline(false);
    await publishFromNode(room, 5, 0); // the sentinel run
    await expectExactView(first, room, 'first tab');
    await expectExactView(second, room, 'tab opened offline');
  });

  it('three tabs writing and receiving, each reloaded once: every page’s view is exact', async () => {
    const room = nextRoom();
    const profile = await newProfile(browser, site);
    const pages = await Promise.all([tab(profile, room), tab(profile, room), tab(profile, room)]);
    const reloads = [60, 120, 180];
    await publishFromNode(room, 240, 8, async (n) => {
      const which = reloads.indexOf(n);
      if (which < 0) return;
      const page = pages[which]!;
      // Before the reload the view must be an exact prefix of the log.
      expect(viewProblems(await appView(page), await readLog(relayB.url, room), { partial: true }), `tab ${which + 1} before reload`).toEqual([]);
      await publishFrom(page, 5, `tab-${which + 1}`);
      await page.reload();
      await page.waitForFunction(() => document.title === 'ready');
    });
    for (const [i, page] of pages.entries()) await expectExactView(page, room, `tab ${i + 1} after its reload`);
    // The tabs' own messages are in the log once each.
    const log = await readLog(relayB.url, room);
    expect(new Set(log.map((entry) => entry.id)).size).toBe(log.length);
    expect(log).toHaveLength(240 + 15);
  });

  it('a stuck leader tab — its token endpoint down, or its relay path dead — does not hold back another tab’s publishes', async () => {
    const room = nextRoom();
    const profile = await newProfile(browser, site);
    // No token: this tab can never connect. It opened the room first.
    await openPage(profile, site, { relays: [relayB.url], room, sub: 'alice', tokenFails: true });
    const second = await openPage(profile, site, { relays: [relayB.url], room, sub: 'alice' });
    let started = Date.now();
    const ids = await publishFrom(second, 20, 'past-a-tokenless-tab');
    await waitFor(async () => (await readLog(relayB.url, room)).length >= 20, 'the second tab’s 20 messages in the log', 20_000, 100);
    console.log(`[stuck leader: no token] 20 messages in the log ${Date.now() - started} ms after publishing`);

    // A connected leader whose path goes dead mid-flush (nothing forwarded, nothing closed): it waits
    // for an ack that never comes, holding the room's flush; the other tab takes over.
    const stuck = await openPage(profile, site, { relays: [proxyA.url], room, sub: 'alice' });
    await waitFor(async () => (await stateOf(stuck)) === 'online', 'stuck tab online', 10_000, 50);
    proxyA.stall();
    await publishFrom(stuck, 1, 'from-the-stuck-tab');
    started = Date.now();
    const more = await publishFrom(second, 20, 'past-a-stuck-tab');
    await waitFor(async () => (await readLog(relayB.url, room)).length >= 41, 'all 41 messages in the log', 30_000, 100);
    console.log(`[stuck leader: dead path] 21 messages in the log ${Date.now() - started} ms after publishing`);
    const log = await readLog(relayB.url, room);
    expect(log.map((entry) => entry.id)).toEqual(expect.arrayContaining([...ids, ...more]));
    expect(new Set(log.map((entry) => entry.id)).size).toBe(41);
    proxyA.restore();
    await expectExactView(second, room, 'the tab that published');
  });

  it('relay SIGKILL mid-conversation: every tab moves to the other relay and its view stays exact', async () => {
    const room = nextRoom();
    const profile = await newProfile(browser, site);
    const other = await newProfile(browser, site);
    // Straight at relay A (no proxy): the kill is the only fault.
    const pages = await Promise.all([
      openPage(profile, site, { relays: [relayA.url, relayB.url], room, sub: 'alice' }),
      openPage(profile, site, { relays: [relayA.url, relayB.url], room, sub: 'alice' }),
      openPage(other, site, { relays: [relayA.url, relayB.url], room, sub: 'bob' }),
    ]);
    await publishFromNode(room, 150, 8, async (n) => {
      if (n === 50) await publishFrom(pages[0]!, 10, 'before-kill');
      if (n === 75) await relayA.kill();
      if (n === 100) await publishFrom(pages[2]!, 10, 'after-kill');
    });
    for (const [i, page] of pages.entries()) await expectExactView(page, room, `tab ${i + 1}`);
    expect(await readLog(relayB.url, room)).toHaveLength(170);
    relayA = await spawnRelay(['--redis-url', redis.url]);
    proxyA.setTarget(relayA.port);
  });
});
