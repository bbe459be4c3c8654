import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { signAccessToken } from '@partyline/relay';
import { chromiumLaunchOptions, startFaultProxy, type FaultProxy } from '@partyline/test-support';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { ClientHistory } from './checker.js';
import type { ChaosMember } from './faults.js';
import { CHAOS_SECRET } from './system-under-test.js';

const PAGE_SOURCE = fileURLToPath(new URL('../src/browser/chaos-page.ts', import.meta.url));

interface PageState {
  queued: string[];
  failed: string[];
  deliveries: { seq: number; id: string }[][];
  resets: number;
}

/** One chaos member in its own Chromium profile (own IndexedDB), behind its own fault proxy. */
export class BrowserMember implements ChaosMember {
  #history: ClientHistory;
  constructor(
    readonly name: string,
    readonly roomName: string,
    private readonly page: Page,
    private readonly proxy: FaultProxy,
  ) {
    this.#history = { client: name, room: roomName, queued: [], failed: [], deliveries: [[]], resets: 0 };
  }

  cutNetwork(): void {
    this.proxy.cut();
  }

  healNetwork(): void {
    this.proxy.heal();
  }

  /** A real reload: the page's SDK starts again from its IndexedDB outbox and cursor. */
  async restart(): Promise<void> {
    await this.#collect();
    await this.page.reload();
    await this.page.waitForFunction(() => document.title === 'ready');
  }

  async stopPublishing(): Promise<void> {
    await this.page.evaluate(() => ((window as unknown as { chaos: { publishing: boolean } }).chaos.publishing = false));
  }

  async pendingCount(): Promise<number> {
    return this.page.evaluate(() => (window as unknown as { chaos: { pendingCount(): Promise<number> } }).chaos.pendingCount());
  }

  async lastSeq(): Promise<number> {
    const current = await this.page.evaluate(() => (window as unknown as { chaos: PageState }).chaos.deliveries.at(-1)?.at(-1)?.seq ?? 0);
    return current || (this.#history.deliveries.at(-1)?.at(-1)?.seq ?? 0);
  }

  /** Everything recorded across reloads. */
  async history(): Promise<ClientHistory> {
    await this.#collect();
    return this.#history;
  }

  /** Moves what the current page load recorded into the history (a reload starts a fresh page). */
  async #collect(): Promise<void> {
    const state = await this.page.evaluate(() => {
      const chaos = (window as unknown as { chaos: PageState }).chaos;
      const snapshot = JSON.parse(JSON.stringify({ queued: chaos.queued, failed: chaos.failed, deliveries: chaos.deliveries, resets: chaos.resets })) as PageState;
      chaos.queued.length = 0;
      chaos.failed.length = 0;
      chaos.deliveries = [[]];
      chaos.resets = 0;
      return snapshot;
    });
    const history = this.#history;
    history.queued.push(...state.queued);
    history.failed.push(...state.failed);
    history.resets += state.resets;
    const [first = [], ...rest] = state.deliveries;
    history.deliveries.at(-1)!.push(...first);
    history.deliveries.push(...rest);
  }
}

export interface BrowserMembers {
  members: BrowserMember[];
  close(): Promise<void>;
}

/** Serves the chaos page (SDK bundled with esbuild) and a token endpoint, and opens `count` Chromium members. */
export async function startBrowserMembers(count: number, rooms: string[], relayPorts: number[], publishEveryMs: number): Promise<BrowserMembers> {
  const bundle = await build({ entryPoints: [PAGE_SOURCE], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', conditions: ['source'], write: false, logLevel: 'warning' });
  const script = bundle.outputFiles[0]!.text;
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/token') {
      const ttlSeconds = 5 + Math.floor(Math.random() * 10);
      void signAccessToken({ sub: url.searchParams.get('name') ?? 'browser', rooms: [url.searchParams.get('room') ?? ''], ttlSeconds }, CHAOS_SECRET).then((token) =>
        response.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(token),
      );
      return;
    }
    if (url.pathname === '/chaos.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/chaos.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const site = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const browser: Browser = await chromium.launch(chromiumLaunchOptions());
  const contexts: BrowserContext[] = [];
  const proxies: FaultProxy[] = [];
  const members: BrowserMember[] = [];
  for (let i = 0; i < count; i++) {
    const name = `browser-${i}`;
    const room = rooms[i % rooms.length]!;
    const proxy = await startFaultProxy(relayPorts);
    const context = await browser.newContext();
    const page = await context.newPage();
    const query = new URLSearchParams({ name, room, relays: proxy.urls.join(','), every: String(publishEveryMs) });
    await page.goto(`${site}/?${query}`);
    await page.waitForFunction(() => document.title === 'ready');
    contexts.push(context);
    proxies.push(proxy);
    members.push(new BrowserMember(name, room, page, proxy));
  }
  return {
    members,
    async close() {
      await browser.close();
      await Promise.all(proxies.map((proxy) => proxy.close()));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
