/**
 * Real Chromium (Debian's, via playwright-core) running the SDK against real relays sharing a real
 * Redis. "Offline" cuts the TCP path between page and relay (a proxy the test severs) and also
 * tells the browser (context.setOffline), so the page's online/offline events fire too.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reloadOffline, startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { launchBrowser, newProfile, openPage, received, startTestSite, stateOf, waitForCount, type TestSite } from './support/browser-harness.js';
import { spawnRelay, startRelay, tokenFor, type InProcessRelay, type RelayProcess } from './support/relays.js';
import { closeAllClients, range, record, testClient } from './support/sdk-client.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

type Pl = {
  publishMany(count: number, tag: string): Promise<string[]>;
  pendingIds(): Promise<string[]>;
  historyIds(): Promise<string[]>;
  statuses: { id: string; status: string }[];
  tokenRequests(): number;
};
const pl = <T>(page: Page, run: (pl: Pl, arg: never) => T | Promise<T>, arg?: unknown): Promise<T> =>
  page.evaluate(({ body, arg }) => new Function('pl', 'arg', `return (${body})(pl, arg)`)((window as unknown as { pl: Pl }).pl, arg), { body: run.toString(), arg });

let redis: RedisServer;
let relayA: RelayProcess; // a child process: the one that gets kill -9
let relayB: InProcessRelay;
let proxyA: TcpProxy; // page ↔ relay A, severable
let proxyB: TcpProxy; // page ↔ relay B, severable
let site: TestSite;
let browser: Browser;
let roomCounter = 0;
const nextRoom = () => `party-${++roomCounter}-${Date.now()}`;

beforeAll(async () => {
  redis = await startRedis();
  // One after another: a spawned relay's free port must not be taken by a port-0 listener meanwhile.
  relayA = await spawnRelay(['--redis-url', redis.url]);
  [relayB, site, browser] = await Promise.all([startRelay({ redisUrl: redis.url }), startTestSite(), launchBrowser()]);
  proxyA = await startTcpProxy(relayA.port);
  proxyB = await startTcpProxy(relayB.port);
}, 120_000);

afterEach(async () => {
  await closeAllClients();
  for (const context of browser.contexts()) await context.close();
  proxyA.restore();
  proxyB.restore();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([proxyA?.close(), proxyB?.close(), site?.close()]);
  await relayB?.close();
  await relayA?.stop();
  await redis?.stop();
});

async function cutOff(context: import('playwright-core').BrowserContext, proxy: TcpProxy, pages: Page[]): Promise<void> {
  proxy.sever();
  await context.setOffline(true);
  for (const page of pages) await waitFor(async () => (await stateOf(page)) === 'offline', 'page offline', 10_000, 50);
}

/**
 * Publishes one last message from Node and waits until `page` has it: delivery is in log order, so
 * everything before it — and any duplicate of it — has been handed to the page's app by then.
 * Answers what the app got before the sentinel.
 */
async function untilSentinel(room: string, page: Page, count: number) {
  const client = testClient({ relays: [relayB.url], token: await tokenFor('sentinel') });
  await (await client.room(room).publish('sentinel', {})).sent;
  await waitFor(async () => (await received(page)).some((message) => JSON.stringify(message.body) === '{}'), 'the sentinel', 30_000, 50);
  const got = await received(page);
  expect(got.at(-1)!.body).toEqual({});
  expect(got).toHaveLength(count + 1);
  return got.slice(0, -1);
}

async function reconnect(context: import('playwright-core').BrowserContext, proxy: TcpProxy): Promise<void> {
  proxy.restore();
  await context.setOffline(false);
}

describe('in Chromium, two relays over Redis', () => {
  it('messages published while the network is cut and the page is reloaded arrive exactly once, in order, at a member on the other relay', async () => {
    const room = nextRoom();
    const senderProfile = await newProfile(browser, site);
    const memberProfile = await newProfile(browser, site);
    const sender = await openPage(senderProfile, site, { relays: [proxyA.url], room, sub: 'alice' });
    const member = await openPage(memberProfile, site, { relays: [relayB.url], room, sub: 'bob' });

    const before = await pl(sender, (p) => p.publishMany(3, 'before'));
    await waitForCount(member, 3, 'the first three at the member');
    // Its own view (and so its cache) has them too: acks settle before the log's delivery comes back.
    await waitForCount(sender, 3, 'the first three in the sender’s view');

    await cutOff(senderProfile, proxyA, [sender]);
    const offline1 = await pl(sender, (p) => p.publishMany(5, 'offline-1'));
    expect(await pl(sender, (p) => p.pendingIds())).toEqual(offline1);

    await reloadOffline(senderProfile, sender);
    await sender.waitForFunction(() => document.title === 'ready');
    await waitFor(async () => (await stateOf(sender)) === 'offline', 'reloaded page offline', 10_000, 50);
    // After the reload, still offline: the local cache shows the history and what is still pending.
    expect(await pl(sender, (p) => p.historyIds())).toEqual(before);
    expect(await pl(sender, (p) => p.pendingIds())).toEqual(offline1);
    const offline2 = await pl(sender, (p) => p.publishMany(5, 'offline-2'));
    expect(await pl(sender, (p) => p.pendingIds())).toEqual([...offline1, ...offline2]);
    expect(await received(member)).toHaveLength(3);

    await reconnect(senderProfile, proxyA);
    await waitForCount(member, 13, 'all thirteen at the member');
    const got = await untilSentinel(room, member, 13);
    expect(got.map((message) => message.seq)).toEqual(range(1, 13));
    expect(got.map((message) => message.id)).toEqual([...before, ...offline1, ...offline2]);
    expect(got.map((message) => message.body)).toEqual([
      ...range(1, 3).map((i) => ({ tag: 'before', i })),
      ...range(1, 5).map((i) => ({ tag: 'offline-1', i })),
      ...range(1, 5).map((i) => ({ tag: 'offline-2', i })),
    ]);
    // The reloaded sender sees its own messages once, continuing after what it had before the reload.
    await waitForCount(sender, 11, 'own messages and the sentinel back at the sender');
    expect((await received(sender)).map((message) => message.seq)).toEqual(range(4, 14));
    await waitFor(async () => (await pl(sender, (p) => p.pendingIds())).length === 0, 'sender outbox empty');
    expect((await relayB.relay.store.read(room, 0, 100)).headSeq).toBe(14);
  });

  it('two tabs of one profile, both offline, then online: each message once; each tab shows the other tab\'s pending messages', async () => {
    const room = nextRoom();
    const profile = await newProfile(browser, site);
    const memberProfile = await newProfile(browser, site);
    const tab1 = await openPage(profile, site, { relays: [proxyA.url], room, sub: 'alice' });
    const tab2 = await openPage(profile, site, { relays: [proxyA.url], room, sub: 'alice' });
    const member = await openPage(memberProfile, site, { relays: [relayB.url], room, sub: 'bob' });

    await cutOff(profile, proxyA, [tab1, tab2]);
    const [from1, from2] = await Promise.all([pl(tab1, (p) => p.publishMany(20, 'tab1')), pl(tab2, (p) => p.publishMany(20, 'tab2'))]);
    // One outbox per profile: both tabs list all 40; each saw the other's as pending (BroadcastChannel).
    expect(new Set(await pl(tab1, (p) => p.pendingIds()))).toEqual(new Set([...from1, ...from2]));
    expect(new Set(await pl(tab2, (p) => p.pendingIds()))).toEqual(new Set([...from1, ...from2]));
    await waitFor(async () => (await pl(tab1, (p) => p.statuses.filter((s) => s.status === 'pending').length)) === 40, 'tab 1 told of all 40');
    const pendingAt1 = await pl(tab1, (p) => p.statuses.filter((s) => s.status === 'pending').map((s) => s.id));
    expect(new Set(pendingAt1)).toEqual(new Set([...from1, ...from2]));

    await reconnect(profile, proxyA);
    await waitForCount(member, 40, 'forty messages at the member');
    const got = await untilSentinel(room, member, 40);
    expect(got.map((message) => message.seq)).toEqual(range(1, 40));
    expect(new Set(got.map((message) => message.id))).toEqual(new Set([...from1, ...from2]));
    // Each tab's messages keep their publish order within the room's one order.
    const order = got.map((message) => message.id);
    expect(order.filter((id) => from1.includes(id))).toEqual(from1);
    expect(order.filter((id) => from2.includes(id))).toEqual(from2);
    // Both tabs see every message sent, also those the other tab published.
    for (const tab of [tab1, tab2]) {
      await waitFor(async () => (await pl(tab, (p) => p.statuses.filter((s) => s.status === 'sent').length)) === 40, 'sent status for all 40 in each tab');
    }
    expect((await relayB.relay.store.read(room, 0, 100)).headSeq).toBe(41);
  });

  it('a member offline while others post 500 gets all 500 in order after reconnecting', async () => {
    const room = nextRoom();
    const memberProfile = await newProfile(browser, site);
    const member = await openPage(memberProfile, site, { relays: [proxyB.url], room, sub: 'bob', pageSize: 120 });
    await waitFor(async () => (await stateOf(member)) === 'online', 'member online');
    await cutOff(memberProfile, proxyB, [member]);

    const posters = [testClient({ relays: [relayA.url], token: await tokenFor('carol') }), testClient({ relays: [relayB.url], token: await tokenFor('dave') })];
    const rooms = posters.map((poster) => poster.room(room));
    const handles = [];
    for (let i = 0; i < 500; i++) handles.push(await rooms[i % 2]!.publish('chat', { i }));
    await Promise.all(handles.map((handle) => handle.sent));
    expect(await received(member)).toHaveLength(0);

    await reconnect(memberProfile, proxyB);
    await waitForCount(member, 500, '500 messages at the member', 60_000);
    const got = await untilSentinel(room, member, 500);
    expect(got.map((message) => message.seq)).toEqual(range(1, 500));
    expect(new Set(got.map((message) => message.id))).toEqual(new Set(handles.map((handle) => handle.id)));
  });

  it('an access token that expired while offline is refreshed without losing queued messages', async () => {
    const room = nextRoom();
    const sub = `erin-${Date.now()}`;
    site.shortTokens(sub, 1, 1); // the first token lives one second
    const profile = await newProfile(browser, site);
    const memberProfile = await newProfile(browser, site);
    const sender = await openPage(profile, site, { relays: [proxyA.url], room, sub });
    const member = await openPage(memberProfile, site, { relays: [relayB.url], room, sub: 'bob' });
    await waitFor(async () => (await stateOf(sender)) === 'online', 'sender online');
    await cutOff(profile, proxyA, [sender]);
    const queued = await pl(sender, (p) => p.publishMany(10, 'queued'));
    // Wait until the first token has certainly expired (the relay checks exp with second precision).
    await new Promise((resolve) => setTimeout(resolve, 2100));

    await reconnect(profile, proxyA);
    await waitForCount(member, 10, 'the queued messages at the member');
    const got = await untilSentinel(room, member, 10);
    expect(got.map((message) => message.id)).toEqual(queued);
    expect(got.map((message) => message.seq)).toEqual(range(1, 10));
    expect(site.tokensIssued.get(sub)).toBeGreaterThanOrEqual(2);
    expect(await pl(sender, (p) => p.pendingIds())).toEqual([]);
  });

  // Last: it kills a relay process.
  it('relay SIGKILL during a flush: nothing lost, nothing duplicated', async () => {
    const room = nextRoom();
    // A dedicated, rate-limited relay process so the flush of 600 messages takes ~10 s (the kill lands mid-flush even on a loaded box).
    const doomed = await spawnRelay(['--redis-url', redis.url, '--rate-limit', '60', '--rate-burst', '100']);
    try {
      const profile = await newProfile(browser, site);
      const memberProfile = await newProfile(browser, site);
      const member = await openPage(memberProfile, site, { relays: [relayB.url], room, sub: 'bob' });
      const sender = await openPage(profile, site, { relays: [doomed.url, relayB.url], room, sub: 'alice' });
      await waitFor(async () => (await stateOf(sender)) === 'online', 'sender online');
      const ids = await pl(sender, (p) => p.publishMany(600, 'kill'));
      await waitFor(async () => (await received(member)).length >= 100, 'the flush under way', 30_000, 20);
      expect((await received(member)).length).toBeLessThan(600);
      await doomed.kill();

      await waitForCount(member, 600, 'all 600 at the member after failover', 60_000);
      const got = await untilSentinel(room, member, 600);
      expect(got.map((message) => message.seq)).toEqual(range(1, 600));
      expect(got.map((message) => message.id)).toEqual(ids);
      await waitFor(async () => (await pl(sender, (p) => p.pendingIds())).length === 0, 'sender outbox empty');
      expect((await relayB.relay.store.read(room, 0, 1000)).headSeq).toBe(601);
    } finally {
      await doomed.kill();
    }
  });
});
