/**
 * The long-polling fallback in Chromium, as an app ships it: the page bundled with code splitting,
 * so socket.io-client sits in a chunk of its own that the page fetches only once its WebSocket
 * attempts were refused. A Chromium tab and a Node client, both behind a proxy that answers every
 * WebSocket upgrade with 403, exchange messages over polling.
 */
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { waitFor } from '@partyline/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { pollingFallback } from '../src/polling-fallback.js';
import { launchBrowser } from './support/browser-harness.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, range, record, testClient } from './support/sdk-client.js';
import { startUpgradeRefusingProxy, type UpgradeRefusingProxy } from './support/upgrade-refusing-proxy.js';

const ENTRY = fileURLToPath(new URL('./browser/polling-fallback-page.ts', import.meta.url));

interface SplitSite {
  url: string;
  /** Bundle files by path (`/polling-fallback-page.js` and its chunks). */
  files: Map<string, string>;
  /** Paths the browser fetched, in order. */
  fetched: string[];
  close(): Promise<void>;
}

/** Serves the page bundled as an app's bundler would (ESM, code splitting), and a token endpoint. */
async function startSplitSite(): Promise<SplitSite> {
  const bundle = await build({ entryPoints: [ENTRY], bundle: true, splitting: true, format: 'esm', platform: 'browser', target: 'es2022', conditions: ['source'], outdir: '/bundle', write: false, logLevel: 'warning' });
  const files = new Map(bundle.outputFiles.map((file) => [file.path, file.text]));
  const fetched: string[] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    fetched.push(url.pathname);
    if (url.pathname === '/token') {
      void tokenFor(url.searchParams.get('sub') ?? 'someone').then((token) => response.writeHead(200, { 'content-type': 'text/plain' }).end(token));
      return;
    }
    if (url.pathname === '/') return void response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>loading</title><script type="module" src="/bundle/polling-fallback-page.js"></script>');
    const file = files.get(url.pathname);
    if (file === undefined) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'text/javascript' }).end(file);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    files,
    fetched,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let site: SplitSite | undefined;
let relay: InProcessRelay | undefined;
let proxy: UpgradeRefusingProxy | undefined;
let browser: Browser | undefined;

afterAll(async () => {
  await closeAllClients();
  await browser?.close();
  await proxy?.close();
  await relay?.close();
  await site?.close();
});

type Pl = { received: { seq: number; sender: string; body: unknown }[]; state(): string; publish(body: unknown): Promise<unknown> };

describe('the long-polling fallback in Chromium', () => {
  it('a tab behind a proxy refusing WebSocket loads the polling chunk on demand and exchanges messages with a Node client', async () => {
    site = await startSplitSite();
    // Polling from the page is cross-origin (page and proxy on different ports): the relay allows the page's origin.
    relay = await startRelay({ transports: ['websocket', 'polling'], corsOrigin: site.url });
    proxy = await startUpgradeRefusingProxy(relay.port, '403');
    browser = await launchBrowser();

    const main = '/bundle/polling-fallback-page.js';
    const chunks = [...site.files.keys()].filter((path) => path !== main);
    // socket.io-client's Engine.IO client ("xhr poll error") is in a lazy chunk, not in the page's own bundle.
    expect(site.files.get(main)).not.toContain('xhr poll error');
    expect(chunks.some((path) => site!.files.get(path)!.includes('xhr poll error'))).toBe(true);

    const room = `polling-browser-${Date.now()}`;
    const page: Page = await (await browser.newContext()).newPage();
    page.on('pageerror', (error) => console.error(`[page] ${error.message}`));
    await page.goto(`${site.url}/?${new URLSearchParams({ relay: proxy.url, room, sub: 'ana' })}`);
    await page.waitForFunction(() => document.title === 'ready');
    await page.waitForFunction(() => (window as unknown as { pl: Pl }).pl.state() === 'online', undefined, { timeout: 20_000 });
    expect(proxy.refusedUpgrades).toBeGreaterThanOrEqual(2);
    const lazyChunk = chunks.find((path) => site!.files.get(path)!.includes('xhr poll error'))!;
    expect(site.fetched).toContain(lazyChunk);

    const bob = testClient({ relays: [proxy.url], token: await tokenFor('bob'), transport: pollingFallback() });
    const atBob = record(bob.room(room));
    await waitFor(() => bob.state === 'online', 'the Node client online through the proxy', 20_000);
    for (let i = 1; i <= 5; i++) {
      await page.evaluate((n) => (window as unknown as { pl: Pl }).pl.publish({ from: 'ana', n }), i);
      await bob.room(room).publish('chat', { from: 'bob', n: i });
    }
    await waitFor(() => atBob.messages.length >= 10, '10 messages at the Node client', 20_000);
    await page.waitForFunction(() => (window as unknown as { pl: Pl }).pl.received.length >= 10, undefined, { timeout: 20_000 });
    const atAna = await page.evaluate(() => (window as unknown as { pl: Pl }).pl.received);

    for (const seen of [atAna, atBob.messages]) {
      expect(seen.map((message) => message.seq)).toEqual(range(1, 10));
      for (const sender of ['ana', 'bob']) {
        expect(seen.filter((message) => message.sender === sender).map((message) => message.body)).toEqual(range(1, 5).map((n) => ({ from: sender, n })));
      }
    }
  });
});
