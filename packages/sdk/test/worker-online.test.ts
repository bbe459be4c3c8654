/**
 * Real Chromium: an SDK client inside a dedicated Worker, whose global scope is `self`, not `window`
 * (issue 22 item 8). It must hear the network go away and come back, and reconnect to a real relay.
 * Playwright's setOffline does not reach a worker's online/offline events, so the page has the worker
 * dispatch them on its own global scope, where the browser would.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@partyline/test-support';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from './support/browser-harness.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';

const ENTRY = fileURLToPath(new URL('./browser/worker-entry.ts', import.meta.url));
const PAGE = `<!doctype html><meta charset="utf-8"><script>
  window.states = [];
  window.worker = new Worker('/worker.js' + location.search, { type: 'module' });
  worker.onmessage = (event) => states.push(event.data);
</script>`;

let relay: InProcessRelay;
let browser: Browser;
let server: ReturnType<typeof createServer>;
let site: string;

beforeAll(async () => {
  const bundle = await build({ entryPoints: [ENTRY], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', conditions: ['source'], write: false, logLevel: 'warning' });
  const worker = bundle.outputFiles[0]!.text;
  server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/worker.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(worker);
    response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  site = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  [relay, browser] = await Promise.all([startRelay(), launchBrowser()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await relay?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

const states = (page: Page) => page.evaluate(() => (window as unknown as { states: string[] }).states.slice());
const tell = (page: Page, event: 'offline' | 'online') => page.evaluate((type) => (window as unknown as { worker: Worker }).worker.postMessage(type), event);

describe('in a Chromium Worker', () => {
  it('goes offline when the network goes away and reconnects when it comes back', async () => {
    const page = await browser.newPage();
    page.on('pageerror', (error) => console.error(`[page] ${error.message}`));
    await page.goto(`${site}/?${new URLSearchParams({ relay: relay.url, token: await tokenFor('worker') })}`);
    await waitFor(async () => (await states(page)).at(-1) === 'online', 'online in the worker', 10_000, 50);

    await tell(page, 'offline');
    await waitFor(async () => (await states(page)).at(-1) === 'offline', 'offline in the worker', 5000, 50);
    await tell(page, 'online');
    await waitFor(async () => (await states(page)).at(-1) === 'online', 'online again in the worker', 5000, 50);
    expect((await states(page)).slice(-3)).toEqual(['offline', 'connecting', 'online']);
    await page.close();
  });
});
