import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from '@playwright/test';
import { reloadOffline, startFaultProxy, type FaultProxy } from '@partyline/test-support';

export const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

/**
 * One friend: their own browser profile (context) whose every relay connection goes through a
 * TCP proxy the test can sever. `offline()` cuts the proxy (closing open WebSockets, which
 * `setOffline` alone does not) and sets the browser offline; `online()` undoes both.
 */
export interface Friend {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  readonly proxy: FaultProxy;
  newTab(): Promise<Page>;
  offline(): Promise<void>;
  /** Reloads the page while offline; the reloaded document stays offline too. */
  reloadOffline(): Promise<void>;
  online(): Promise<void>;
  close(): Promise<void>;
}

export interface FriendOptions {
  name: string;
  appUrl: string;
  /** Relay ports in the order this friend's app should prefer them. */
  relayPorts: number[];
  contextOptions?: BrowserContextOptions;
}

export async function openFriend(browser: Browser, options: FriendOptions): Promise<Friend> {
  const proxy = await startFaultProxy(options.relayPorts);
  const context = await browser.newContext({ baseURL: options.appUrl, viewport: { width: 420, height: 860 }, ...options.contextOptions });
  // The app takes a preset relay list (else it asks the server): this friend reaches relays through the proxy only.
  await context.addInitScript((urls) => {
    (window as unknown as { __PARTYLINE_RELAYS__: string[] }).__PARTYLINE_RELAYS__ = urls;
  }, proxy.urls);
  const page = await context.newPage();
  return {
    name: options.name,
    context,
    page,
    proxy,
    newTab: () => context.newPage(),
    async offline() {
      proxy.cut();
      await context.setOffline(true);
    },
    reloadOffline: () => reloadOffline(context, page),
    async online() {
      await context.setOffline(false);
      proxy.heal();
    },
    async close() {
      await context.close();
      await proxy.close();
    },
  };
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits until the app shell is cached by the service worker, so a reload while offline works. */
export async function waitOfflineReady(page: Page): Promise<void> {
  await expect(page.locator('html[data-offline-ready="true"]')).toHaveCount(1);
}

/** Creates a party from the home page; answers its id. */
export async function createParty(page: Page, input: { title: string; name: string; date?: string; venue?: string }): Promise<string> {
  await page.goto('/');
  await page.getByLabel('Whose party is it?').fill(input.title);
  await page.getByLabel('Your name').fill(input.name);
  if (input.date) await page.getByLabel(/Date idea/).fill(input.date);
  if (input.venue) await page.getByLabel(/Place idea/).fill(input.venue);
  await page.getByRole('button', { name: 'Create party' }).click();
  await expect(page).toHaveURL(/\/p\/[a-z0-9]+$/);
  await expect(page.getByTestId('party-title')).toHaveText(input.title);
  return new URL(page.url()).pathname.split('/').at(-1) ?? '';
}

/** Opens an invite link and joins with a display name. */
export async function joinParty(page: Page, party: string, name: string, title?: string): Promise<void> {
  await page.goto(`/p/${party}`);
  const dialog = page.getByRole('dialog');
  if (title) await expect(dialog).toContainText(title);
  await dialog.getByLabel('Your name').fill(name);
  await dialog.getByRole('button', { name: 'Join the party' }).click();
  await expect(dialog).toHaveCount(0);
}

/** The friends a page shows in "Here now" (everyone but the viewer), one element each, its text the name. */
export function friendsHere(page: Page) {
  return page.getByTestId('presence').locator('[data-sub]');
}

export async function sendChat(page: Page, text: string): Promise<void> {
  const input = page.getByLabel('Message');
  await input.fill(text);
  await input.press('Enter');
  await expect(page.getByTestId('chat').locator('li.line', { hasText: text }).first()).toBeVisible();
}

/** Chat lines as shown: text, who, status of own lines. */
export async function chatLines(page: Page): Promise<{ text: string; who: string; status: string | null; seq: string | null }[]> {
  return page.getByTestId('chat').locator('li.line').evaluateAll((items) =>
    items.map((item) => ({
      text: item.querySelector('.text')?.textContent ?? '',
      who: item.querySelector('.who')?.textContent ?? '',
      status: item.querySelector('[data-status]')?.getAttribute('data-status') ?? null,
      seq: item.getAttribute('data-seq'),
    })),
  );
}

/**
 * Puts the whole chat on screen: the chat shows the newest 50 lines at first (older ones on scroll, or
 * with "Load older messages"); presses the button until the start of the chat is shown.
 */
export async function showWholeChat(page: Page): Promise<void> {
  const older = page.getByRole('button', { name: 'Load older messages' });
  while ((await older.count()) > 0) await older.click();
}

/** The chat texts on screen (the chat's window: see `showWholeChat`). */
export async function chatTextsOnPage(page: Page): Promise<string[]> {
  return (await chatLines(page)).map((line) => line.text);
}

export async function addItem(page: Page, label: string): Promise<void> {
  await page.getByLabel('Item to bring').fill(label);
  await page.getByLabel('Item to bring').press('Enter');
  await expect(item(page, label)).toBeVisible();
}

export function item(page: Page, label: string) {
  return page.getByTestId('checklist').locator(`li[data-item="${label}"]`);
}

export async function claimItem(page: Page, label: string): Promise<void> {
  await page.getByRole('button', { name: `I'll bring ${label}` }).click();
  await expect(item(page, label)).toContainText('You bring it');
}

export async function tickItem(page: Page, label: string): Promise<void> {
  // A controlled checkbox: it turns checked once the change is queued in the outbox (a moment later).
  const box = page.getByRole('checkbox', { name: `${label} done` });
  await box.click();
  await expect(box).toBeChecked();
}

export function pollOption(page: Page, kind: 'date' | 'venue', label: string) {
  return page.getByTestId(`poll-${kind}`).locator(`li[data-option="${label}"]`);
}

export async function proposeVenue(page: Page, label: string): Promise<void> {
  await page.getByLabel('Propose a place').fill(label);
  await page.getByLabel('Propose a place').press('Enter');
  await expect(pollOption(page, 'venue', label)).toBeVisible();
}

export async function vote(page: Page, kind: 'date' | 'venue', label: string): Promise<void> {
  await pollOption(page, kind, label).getByRole('button').click();
  await expect(pollOption(page, kind, label).getByRole('button')).toHaveAttribute('aria-pressed', 'true');
}

/** Every own chat line and change on the page has reached the log. */
export async function expectAllSent(page: Page): Promise<void> {
  await expect(page.locator('[data-status="pending"], [data-status="failed"]')).toHaveCount(0);
  await expect(page.getByTestId('offline-banner')).toHaveCount(0);
}
