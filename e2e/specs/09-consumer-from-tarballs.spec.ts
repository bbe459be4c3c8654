import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { reloadOffline, startFaultProxy } from '@partyline/test-support';
import {
  type ConsumerProcess,
  installExample,
  packAll,
  pointAtTestRelays,
  progress,
  publishablePackages,
  reactExampleIn,
  readmeReactExample,
  removeApp,
  run,
  startExampleServer,
  startInstalledRelay,
} from '../support/consumer-app.js';

/** The chat line a member's list shows for a message from the log (`sender: text`), or an own pending one (`text (status)`). */
function line(page: Page, text: string) {
  return page.getByRole('listitem').filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) });
}

async function say(page: Page, text: string): Promise<void> {
  const input = page.getByRole('textbox', { name: 'Message' });
  await input.fill(text);
  await input.press('Enter');
}

async function openAs(browser: Browser, url: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`page error at ${url}: ${error.message}`));
  await page.goto(url);
  return { context, page };
}

/** The line the apps show, muted, for a message whose body fails their schema. */
const UNSHOWABLE = 'a message could not be shown';

/** A backend's message with a body no chat schema accepts, through the relay's HTTP API (JSON body `null`). */
async function publishNullBody(relay: ConsumerProcess, apiKey: string, room: string): Promise<void> {
  const response = await fetch(`${relay.url}/v1/rooms/${encodeURIComponent(room)}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': `null-body-${randomBytes(8).toString('hex')}` },
    body: JSON.stringify({ type: 'chat', body: null }),
  });
  if (!response.ok) throw new Error(`the relay refused the null body: ${response.status} ${await response.text()}`);
}

/** Each page shows each text exactly once, as a line from the log. */
async function expectEachOnce(pages: Page[], lines: string[]): Promise<void> {
  for (const page of pages) for (const text of lines) await expect(line(page, text)).toHaveCount(1);
}

test('a stranger\'s app: packed packages installed outside the repo; the README React example and examples/react-chat typecheck strictly, build, chat, work offline, and show what went wrong', async ({ browser }) => {
  // Pack, install from npm's cache, two typechecks, two builds and two browser runs: ~25 s on 2 cores.
  test.setTimeout(180_000);
  const cleanup: (() => Promise<void>)[] = [];
  const servers: ConsumerProcess[] = [];
  try {
    const packages = await publishablePackages();
    progress(`pack: ${packages.map(({ name }) => name).join(', ')}`);
    const packDir = await mkdtemp(join(tmpdir(), 'partyline-packs-'));
    cleanup.push(() => rm(packDir, { recursive: true, force: true }));
    const tarballs = await packAll(packages, packDir);

    progress('install: examples/react-chat with the tarballs, in a fresh directory outside the repository');
    const appDir = await installExample(tarballs);
    cleanup.push(() => removeApp(appDir));

    progress('typecheck + build: examples/react-chat');
    await run('npm', ['run', 'build'], { cwd: appDir });

    const tokenSecret = randomBytes(32).toString('hex');
    progress('relay: node_modules/.bin/partyline-relay, in memory');
    const apiKey = randomBytes(32).toString('hex');
    const relay = await startInstalledRelay(appDir, tokenSecret, apiKey);
    servers.push(relay);
    cleanup.push(() => relay.stop());
    const server = await startExampleServer(appDir, tokenSecret, ['chat:*', 'party:*']);
    servers.push(server);
    cleanup.push(() => server.stop());
    // The same built app, with a token endpoint that grants neither app's room.
    const ungranted = await startExampleServer(appDir, tokenSecret, ['other:*']);
    servers.push(ungranted);
    cleanup.push(() => ungranted.stop());

    await test.step('examples/react-chat: two users chat; a visitor without a session is told why it is not online', async () => {
      progress('browser: examples/react-chat');
      const ana = await openAs(browser, `${server.url}/?user=ana&relay=${relay.url}`);
      cleanup.push(() => ana.context.close());
      const bo = await openAs(browser, `${server.url}/?user=bo&relay=${relay.url}`);
      cleanup.push(() => bo.context.close());
      await say(ana.page, 'hi from ana');
      await say(bo.page, 'hi from bo');
      await expectEachOnce([ana.page, bo.page], ['ana: hi from ana', 'bo: hi from bo']);

      // A body the schema refuses is a muted line in its place, for every member; the page keeps chatting.
      await publishNullBody(relay, apiKey, 'chat:lobby');
      await say(bo.page, 'after the bad one');
      await expectEachOnce([ana.page, bo.page], ['ana: hi from ana', 'bo: hi from bo', UNSHOWABLE, 'bo: after the bad one']);

      // A token without the room: the room says why (useErrors), instead of "Opening…" for ever.
      const outsider = await openAs(browser, `${ungranted.url}/?user=cy&relay=${relay.url}`);
      await expect(outsider.page.getByRole('alert')).toContainText('chat:lobby: forbidden');
      await outsider.context.close();

      // The token endpoint refuses a name it does not accept: the connection banner says so (useConnectionReason).
      const stranger = await openAs(browser, `${server.url}/?user=${encodeURIComponent('no one')}&relay=${relay.url}`);
      await expect(stranger.page.getByRole('status')).toContainText('token endpoint answered 401');
      await stranger.context.close();
    });

    progress('README: the React example becomes src/App.tsx (its const relays line → the app\'s relays, the only edit)');
    await writeFile(join(appDir, 'src', 'App.tsx'), pointAtTestRelays(await readmeReactExample()));
    progress('typecheck + build: the README React example');
    await run('npm', ['run', 'build'], { cwd: appDir });

    await test.step('README React example: two users chat; one goes offline, publishes, reloads, comes back: delivered once', async () => {
      progress('browser: the README React example, online then offline');
      // Bo reaches the relay through a proxy the test can cut: setOffline alone leaves an open WebSocket up.
      const proxy = await startFaultProxy([relay.port]);
      cleanup.push(() => proxy.close());
      const ana = await openAs(browser, `${server.url}/?user=ana&relay=${relay.url}`);
      cleanup.push(() => ana.context.close());
      const [proxyUrl] = proxy.urls;
      if (!proxyUrl) throw new Error('the proxy listens for the relay');
      const bo = await openAs(browser, `${server.url}/?user=bo&relay=${proxyUrl}`);
      cleanup.push(() => bo.context.close());
      await say(ana.page, 'hello from ana');
      await say(bo.page, 'hello from bo');
      await expectEachOnce([ana.page, bo.page], ['ana: hello from ana', 'bo: hello from bo']);
      await expect(bo.page.locator('html[data-offline-ready="true"]')).toHaveCount(1);

      proxy.cut();
      await bo.context.setOffline(true);
      await expect(bo.page.getByRole('status')).toContainText('messages wait in the outbox');
      await say(bo.page, 'sent while offline');
      await expect(line(bo.page, 'sent while offline (pending)')).toHaveCount(1);

      // The service worker serves the shell; history and the outbox come from IndexedDB.
      await reloadOffline(bo.context, bo.page);
      await expect(line(bo.page, 'sent while offline (pending)')).toHaveCount(1);
      await expect(line(bo.page, 'ana: hello from ana')).toHaveCount(1);
      await expect(line(ana.page, 'bo: sent while offline')).toHaveCount(0);

      await bo.context.setOffline(false);
      proxy.heal();
      // A later message from Ana, seen by both, closes the window in which a duplicate could still show up.
      await expect(line(ana.page, 'bo: sent while offline')).toHaveCount(1);
      await say(ana.page, 'welcome back');
      await expectEachOnce([ana.page, bo.page], ['ana: hello from ana', 'bo: hello from bo', 'bo: sent while offline', 'ana: welcome back']);
      await expect(bo.page.getByRole('listitem')).toHaveCount(4);
      await expect(ana.page.getByRole('listitem')).toHaveCount(4);
    });
    await test.step('README React example: a failing token endpoint and a room the token does not grant are on screen; a bad body is a muted line, also after a reload', async () => {
      progress('browser: the README React example, errors');
      // The token endpoint answers 503 until the page has shown why it is not online. (Service workers
      // blocked: requests stay visible to the route.)
      let tokenEndpointDown = true;
      const context = await browser.newContext({ serviceWorkers: 'block' });
      cleanup.push(() => context.close());
      await context.route('**/api/partyline-token', (route) => (tokenEndpointDown ? route.fulfill({ status: 503, body: 'busy' }) : route.continue()));
      const cy = await context.newPage();
      cy.on('pageerror', (error) => console.log(`page error (cy): ${error.message}`));
      await cy.goto(`${server.url}/?user=cy&relay=${relay.url}`);
      await expect(cy.getByRole('alert')).toContainText('token endpoint answered 503');
      tokenEndpointDown = false;
      await expect(cy.getByRole('alert')).toHaveCount(0);
      await expect(cy.getByRole('status')).toHaveCount(0);
      await say(cy, 'cy got in');
      await expect(line(cy, 'cy: cy got in')).toHaveCount(1);

      const outsider = await openAs(browser, `${ungranted.url}/?user=dee&relay=${relay.url}`);
      cleanup.push(() => outsider.context.close());
      await expect(outsider.page.getByRole('alert')).toContainText('party:abc forbidden');

      const eve = await openAs(browser, `${server.url}/?user=eve&relay=${relay.url}`);
      cleanup.push(() => eve.context.close());
      await expect(line(eve.page, 'cy: cy got in')).toHaveCount(1);
      await publishNullBody(relay, apiKey, 'party:abc');
      await say(eve.page, 'still here');
      const after = ['ana: welcome back', UNSHOWABLE, 'cy: cy got in', 'eve: still here'];
      await expectEachOnce([cy, eve.page], after);
      await eve.page.reload();
      await expectEachOnce([eve.page], after);
    });
    progress('done');
  } catch (error) {
    for (const server of servers) console.log(`--- ${server.name} output:\n${server.output()}`);
    throw error;
  } finally {
    for (const step of cleanup.reverse()) await step().catch((error: unknown) => console.warn('cleanup failed', error));
  }
});

test('the consumer test says what is missing when the README no longer has the React example it builds', () => {
  expect(() => reactExampleIn('# Partyline\n\n## Quick start\n')).toThrow('README.md has no heading "## React (`@partyline/react`)"');
  expect(() => reactExampleIn('## React (`@partyline/react`)\n\nProse only.\n\n## Relay\n\n```tsx\nexport {};\n```\n')).toThrow('no ```tsx block under');
  expect(() => pointAtTestRelays('export const relays = 1;\n')).toThrow('expected exactly one `const relays = [...];` line');
  expect(pointAtTestRelays("import { useState } from 'react';\nconst relays = ['https://relay.example.com'];\nuse(relays);\n")).toBe(
    "import { relays } from './config';\nimport { useState } from 'react';\nuse(relays);\n",
  );
});
