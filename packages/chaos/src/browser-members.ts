import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumLaunchOptions, startFaultProxy, type FaultProxy } from '@partyline/test-support';
import { build } from 'esbuild';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { FoldedLook } from './annotation-checker.js';
import type { MemberHistory, Session } from './checker.js';
import type { ChaosMember } from './faults.js';
import { endPresenceSession, newHistory, newPresenceHistory, recordCut, startSession, type MemberEvent } from './member-events.js';
import type { PresenceHistory, PresenceLook } from './presence-checker.js';
import type { Random } from './random.js';
import { mintChaosToken } from './system-under-test.js';

const PAGE_SOURCE = fileURLToPath(new URL('../src/browser/chaos-page.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One chaos member in real Chromium with its own persistent profile (a user-data-dir on disk, so its
 * IndexedDB is Chromium's own), behind its own fault proxy. A restart is a real reload; a crash is a
 * real renderer crash (CDP `Page.crash`), after which a new tab of the same profile opens the app.
 */
export class BrowserMember implements ChaosMember {
  readonly history: MemberHistory;
  readonly presence: PresenceHistory | undefined;
  readonly failures: string[] = [];
  crashes = 0;
  #page: Page | undefined;
  /** Page loads so far: the life a page enters presence with. */
  #loads = 0;
  #publish = true;
  /** Sessions by the page load's id; a load's first report starts its session. */
  readonly #sessions = new Map<string, (event: MemberEvent) => void>();
  #nextStart: Session['start'] = 'first';

  constructor(
    readonly name: string,
    readonly roomName: string,
    private readonly context: BrowserContext,
    private readonly proxy: FaultProxy,
    private readonly url: (publish: boolean, presenceLife: number | undefined) => string,
    private readonly random: Random,
    withPresence = false,
  ) {
    this.history = newHistory(name, roomName);
    this.presence = withPresence ? newPresenceHistory(name, roomName) : undefined;
  }

  #urlOfNextLoad(): string {
    this.#loads++;
    return this.url(this.#publish, this.presence ? this.#loads : undefined);
  }

  /** Called by the page binding, in the order the page reported. */
  record(session: string, event: MemberEvent): void {
    let record = this.#sessions.get(session);
    if (!record) {
      record = startSession(this.history, this.#nextStart, this.presence);
      this.#sessions.set(session, record);
    }
    record(event);
  }

  async open(start: Session['start']): Promise<void> {
    this.#nextStart = start;
    const page = await this.context.newPage();
    this.#page = page;
    // An uncaught error (or unhandled rejection) in the app's tab: what the SDK was doing may have stopped with it.
    page.on('pageerror', (error) => {
      const failure = `${this.name}: uncaught in its page: ${error.name}: ${error.message}${error.stack ? ` | ${error.stack.split('\n').slice(1, 4).map((line) => line.trim()).join(' | ')}` : ''}`;
      if (!this.failures.includes(failure)) this.failures.push(failure); // a retry loop throws the same error again and again
    });
    await page.goto(this.#urlOfNextLoad());
    await page.waitForFunction(() => document.title === 'ready');
  }

  cutNetwork(): void {
    this.proxy.cut();
    recordCut(this.presence, true);
  }

  healNetwork(): void {
    this.proxy.heal();
    recordCut(this.presence, false);
  }

  /** A real reload: the page's SDK starts again from its IndexedDB outbox and cache. */
  async restart(): Promise<void> {
    const page = this.#page!;
    this.#nextStart = 'restart';
    endPresenceSession(this.presence, 'closed');
    await page.goto(this.#urlOfNextLoad());
    await page.waitForFunction(() => document.title === 'ready');
  }

  /** A renderer crash (the tab's process dies, IndexedDB keeps what it committed), then the app in a new tab of the profile. */
  async crash(): Promise<void> {
    const page = this.#page!;
    const cdp = await this.context.newCDPSession(page);
    const crashed = new Promise((resolve) => page.once('crash', resolve));
    endPresenceSession(this.presence, 'killed');
    void cdp.send('Page.crash').catch(() => {});
    await Promise.race([crashed, sleep(10_000)]);
    this.crashes++;
    await sleep(this.random.between(300, 1500));
    await this.open('crash');
    // Closed only now: a profile with no tab left at all could take the browser down with it.
    await page.close().catch(() => {});
  }

  async stopPublishing(): Promise<void> {
    this.#publish = false;
    await this.#page?.evaluate(() => ((window as unknown as { chaos: { publishing: boolean } }).chaos.publishing = false));
  }

  async pendingCount(): Promise<number> {
    return (await this.#page?.evaluate(() => (window as unknown as { chaos: { pendingCount(): Promise<number> } }).chaos.pendingCount())) ?? 1;
  }

  async foldedLook(): Promise<FoldedLook | undefined> {
    const page = this.#page;
    if (!page || page.isClosed()) return undefined;
    return page.evaluate(() => (window as unknown as { chaos?: { foldedLook(): FoldedLook } }).chaos?.foldedLook()).catch(() => undefined);
  }

  async presenceLook(): Promise<PresenceLook> {
    const look: PresenceLook = { member: this.name, room: this.roomName, alive: false, connected: false, data: { name: this.name, life: this.#loads }, members: [] };
    const page = this.#page;
    if (!page || page.isClosed()) return look;
    type Shown = { online: boolean; members: { sub: string; data: unknown }[] };
    const shown = await page.evaluate(() => (window as unknown as { chaos?: { presenceShown(): Shown } }).chaos?.presenceShown()).catch(() => undefined);
    if (!shown) return look;
    return { ...look, alive: true, connected: shown.online && !this.proxy.isCut && this.proxy.openConnections > 0, members: shown.members };
  }

  async close(): Promise<void> {
    await this.#page?.close().catch(() => {});
  }
}

export interface BrowserMembers {
  members: BrowserMember[];
  close(): Promise<void>;
}

/**
 * Serves the chaos page (SDK bundled with esbuild) and a token endpoint, and opens `count` Chromium members, each its own browser profile.
 * `annotations`: the share of their actions that annotate or mark read (see annotation-traffic.ts).
 * With `presence`, every member enters its room's presence, and each is opened once the one before has `arrived`.
 */
export async function startBrowserMembers(
  count: number,
  rooms: string[],
  relayPorts: number[],
  publishEveryMs: number,
  random: Random,
  options: { annotations: number; presence?: { arrived(member: BrowserMember): Promise<void> } | undefined },
): Promise<BrowserMembers> {
  const { annotations, presence } = options;
  const bundle = await build({ entryPoints: [PAGE_SOURCE], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', conditions: ['source'], write: false, logLevel: 'warning' });
  const script = bundle.outputFiles[0]!.text;
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/token') {
      void mintChaosToken(url.searchParams.get('name') ?? 'browser', url.searchParams.get('room') ?? '', Math.random).then((token) =>
        response.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(token),
      );
      return;
    }
    if (url.pathname === '/chaos.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/chaos.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const site = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const profiles = mkdtempSync(join(tmpdir(), 'chaos-chromium-'));
  const contexts: BrowserContext[] = [];
  const proxies: FaultProxy[] = [];
  const members: BrowserMember[] = [];
  for (let i = 0; i < count; i++) {
    const name = `browser-${i}`;
    const room = rooms[i % rooms.length]!;
    const proxy = await startFaultProxy(relayPorts);
    proxies.push(proxy);
    const context = await chromium.launchPersistentContext(join(profiles, name), chromiumLaunchOptions());
    contexts.push(context);
    const url = (publish: boolean, presenceLife: number | undefined) =>
      `${site}/?${new URLSearchParams({ name, room, relays: proxy.urls.join(','), every: String(publishEveryMs), annotations: String(annotations), publish: publish ? '1' : '0', ...(presenceLife !== undefined ? { presence: String(presenceLife) } : {}) })}`;
    const member = new BrowserMember(name, room, context, proxy, url, random, presence !== undefined);
    await context.exposeBinding('chaosRecord', (_source, session: string, event: MemberEvent) => member.record(session, event));
    // The persistent context opens with a blank tab: the app gets a tab of its own, the blank one goes.
    const blank = context.pages();
    await member.open('first');
    for (const page of blank) await page.close();
    members.push(member);
    await presence?.arrived(member);
  }
  return {
    members,
    async close() {
      await Promise.all(contexts.map((context) => context.close().catch(() => {})));
      await Promise.all(proxies.map((proxy) => proxy.close()));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(profiles, { recursive: true, force: true });
    },
  };
}
