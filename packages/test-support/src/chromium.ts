import { existsSync } from 'node:fs';

/** Debian's Chromium (never a downloaded browser); override with CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for headless Chromium on a machine without sandbox, GPU or outside network. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  // Pages on one loopback port (or served from memory by a test) talk to relays on other loopback
  // ports; Chromium's local-network checks would block those WebSockets.
  '--disable-features=LocalNetworkAccessChecks,LocalNetworkAccessChecksWebSockets,PrivateNetworkAccessChecks',
];

/** Launch options for playwright-core's `chromium.launch()`. */
export function chromiumLaunchOptions(): { executablePath: string; args: string[]; headless: boolean } {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Install it (Debian: apt-get install -y chromium), ` +
        'run the README test command (npm test), which installs it, or set CHROMIUM_PATH.',
    );
  }
  return { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true };
}

/**
 * Reloads a page of a browser context that is offline, and keeps the reloaded document offline.
 * Chromium 150 starts every new document with `navigator.onLine === true` even while the context
 * emulates offline (older builds kept it), so the emulation is applied again to the new document.
 * Cut the page's relay path first (a fault proxy): the moment in between then reaches nothing.
 */
export async function reloadOffline(context: { setOffline(offline: boolean): Promise<void> }, page: { reload(): Promise<unknown> }): Promise<void> {
  await page.reload();
  await context.setOffline(false);
  await context.setOffline(true);
}
