import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { chromiumLaunchOptions, waitFor } from '@partyline/test-support';
import { tokenFor } from './relays.js';

const ENTRY = fileURLToPath(new URL('../browser/page-entry.ts', import.meta.url));
const PAGE = '<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/bundle.js"></script>';

export interface TestSite {
  url: string;
  /** How many tokens were minted per subject. */
  tokensIssued: Map<string, number>;
  /** The next `count` tokens for `sub` get this lifetime (e.g. 1 s, to expire while offline). */
  shortTokens(sub: string, count: number, ttlSeconds: number): void;
  /** The page and bundle, for serving from memory while the browser is offline. */
  files: Map<string, { type: string; body: string }>;
  close(): Promise<void>;
}

/** Bundles the test page with esbuild (SDK from source) and serves it, plus a token endpoint, on 127.0.0.1. */
export async function startTestSite(): Promise<TestSite> {
  const bundle = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['source'],
    write: false,
    logLevel: 'warning',
  });
  const files = new Map([
    ['/', { type: 'text/html', body: PAGE }],
    ['/bundle.js', { type: 'text/javascript', body: bundle.outputFiles[0]!.text }],
  ]);
  const tokensIssued = new Map<string, number>();
  const short = new Map<string, { count: number; ttlSeconds: number }>();
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/token') {
      const sub = url.searchParams.get('sub') ?? 'someone';
      tokensIssued.set(sub, (tokensIssued.get(sub) ?? 0) + 1);
      const rule = short.get(sub);
      let ttl = 3600;
      if (rule && rule.count > 0) {
        rule.count--;
        ttl = rule.ttlSeconds;
      }
      void tokenFor(sub, ['*'], ttl).then((token) => response.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(token));
      return;
    }
    const file = files.get(url.pathname);
    if (!file) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    tokensIssued,
    files,
    shortTokens(sub, count, ttlSeconds) {
      short.set(sub, { count, ttlSeconds });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch(chromiumLaunchOptions());
}

/**
 * A browser profile (own IndexedDB) whose page and bundle are served from memory when the network
 * is cut, the way a service worker or HTTP cache would: a reload works offline, the relays do not.
 */
export async function newProfile(browser: Browser, site: TestSite): Promise<BrowserContext> {
  const context = await browser.newContext();
  await context.route(`${site.url}/`, (route) => route.fulfill({ contentType: 'text/html', body: site.files.get('/')!.body }));
  await context.route(`${site.url}/?*`, (route) => route.fulfill({ contentType: 'text/html', body: site.files.get('/')!.body }));
  await context.route(`${site.url}/bundle.js`, (route) => route.fulfill({ contentType: 'text/javascript', body: site.files.get('/bundle.js')!.body }));
  return context;
}

export interface PageOptions {
  relays: string[];
  room: string;
  sub: string;
  pageSize?: number;
  /** Open the room with a history window, `from: { last }`. */
  last?: number;
  /** The tab's token function throws: it never connects. */
  tokenFails?: boolean;
  /** The client's `inboxMaxBytes`. */
  inboxMaxBytes?: number;
}

export async function openPage(context: BrowserContext, site: TestSite, options: PageOptions): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[page ${options.sub}] ${error.message}`));
  const query = new URLSearchParams({ relays: options.relays.join(','), room: options.room, sub: options.sub });
  if (options.pageSize) query.set('pageSize', String(options.pageSize));
  if (options.last) query.set('last', String(options.last));
  if (options.tokenFails) query.set('tokenFails', '1');
  if (options.inboxMaxBytes) query.set('inboxMaxBytes', String(options.inboxMaxBytes));
  await page.goto(`${site.url}/?${query}`);
  await page.waitForFunction(() => document.title === 'ready');
  return page;
}

/** What the page's app received, as seqs and ids. */
export async function received(page: Page): Promise<{ seq: number; id: string; body: unknown }[]> {
  return page.evaluate(() => (window as unknown as { pl: { received: { seq: number; id: string; body: unknown }[] } }).pl.received.map(({ seq, id, body }) => ({ seq, id, body })));
}

export async function waitForCount(page: Page, count: number, what: string, timeoutMs = 30_000): Promise<void> {
  try {
    await waitFor(async () => (await received(page)).length >= count, what, timeoutMs, 100);
  } catch (error) {
    const debug = await page.evaluate(() => {
      const pl = (window as unknown as { pl: { states: string[]; errors: string[]; statuses: unknown[]; received: unknown[] } }).pl;
      return JSON.stringify({ states: pl.states, errors: pl.errors.slice(-10), statuses: pl.statuses.length, received: pl.received.length });
    });
    throw new Error(`${(error as Error).message}; page: ${debug}`);
  }
}

export async function stateOf(page: Page): Promise<string> {
  return page.evaluate(() => (window as unknown as { pl: { state(): string } }).pl.state());
}

export interface AppView {
  history: { seq: number; id: string }[];
  events: { seq: number; id: string }[];
}

/** The tab's app view: what `history()` answered at open, then its `message` events. */
export async function appView(page: Page): Promise<AppView> {
  return page.evaluate(() => {
    const { view } = (window as unknown as { pl: { view: AppView } }).pl;
    return { history: view.history.slice(), events: view.events.slice() };
  });
}
