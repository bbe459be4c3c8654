import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { expect, test } from '../support/fixtures.js';
import { sendChat, shot } from '../support/party.js';
import { REPO_ROOT } from '../support/processes.js';
import { expectExactViews, settleWithSentinel } from '../support/views.js';

// What `npm start` runs after building: the app server with its embedded in-memory relay, no Redis.
const TOKEN_SECRET = 'e2e-main-command-secret-0123456789abcdef';

test('the main command serves the app with an embedded relay: create a party, post, see it', async ({ browser }) => {
  const child = spawn(process.execPath, [resolve(REPO_ROOT, 'apps/party-planner/dist/server/cli.js'), '--port', '0'], {
    env: { ...process.env, TOKEN_SECRET, RELAY_URLS: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const started = await new Promise<{ url: string; relays: string[] }>((resolveStart, reject) => {
      child.once('exit', (code) => reject(new Error(`the app server exited with ${code}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.startsWith('{')) resolveStart(JSON.parse(line) as { url: string; relays: string[] });
      });
    });
    expect(started.relays).toHaveLength(1);

    const context = await browser.newContext({ baseURL: started.url });
    const page = await context.newPage();
    await page.goto('/');
    await expect(page.getByRole('heading', { level: 1 })).toContainText('Plan a surprise party');
    await page.getByLabel('Whose party is it?').fill("Noor's farewell");
    await page.getByLabel('Your name').fill('Ana');
    await page.getByLabel(/Date idea/).fill('2031-09-05T20:00');
    await page.getByLabel(/Place idea/).fill('Harbour café');
    await shot(page, '00-home');
    await page.getByRole('button', { name: 'Create party' }).click();
    await expect(page.getByTestId('party-title')).toHaveText("Noor's farewell");
    await sendChat(page, 'Hello from the embedded relay');
    await expect(page.getByTestId('chat').locator('[data-status="sent"]')).toHaveCount(1);

    // A second friend through the invite link sees it.
    const invite = await page.getByLabel('Invite link').inputValue();
    const friendContext = await browser.newContext();
    const friendPage = await friendContext.newPage();
    await friendPage.goto(invite);
    await friendPage.getByRole('dialog').getByLabel('Your name').fill('Bo');
    await friendPage.getByRole('button', { name: 'Join the party' }).click();
    await expect(friendPage.getByTestId('chat')).toContainText('Hello from the embedded relay');
    await expect(page.getByTestId('presence')).toContainText('Bo');

    // Both apps got the embedded relay's log exactly: history() + events == 1..head, read after Bo's sentinel.
    const party = new URL(invite).pathname.split('/').at(-1) ?? '';
    const screens = [{ label: 'Ana', page }, { label: 'Bo', page: friendPage }];
    const log = await settleWithSentinel(friendPage, screens, `party:${party}`, started.relays[0]!, TOKEN_SECRET);
    await expectExactViews(screens, `party:${party}`, log);
    await context.close();
    await friendContext.close();
  } finally {
    child.kill('SIGTERM');
  }
});
