/**
 * Regression test (review of issue 11): two clients on one fake-indexeddb IDBFactory (two tabs of a profile).
 * Tabs open at random points while another tab delivers a fast stream; one tab's network is cut
 * and restored mid-stream; small pages so catch-up, live and the shared cache interleave. Every
 * tab's app view (history() right after room(), then events) must be the log from seq 1.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@partyline/test-support';
import type { ResetContext } from '../src/index.js';
import { readLog, viewProblems, type Entry } from './support/app-view.js';
import { closeAllClients, newDevice, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let relays: InProcessRelay[];
let proxy: TcpProxy;

beforeAll(async () => {
  relays = [await startRelay()];
  proxy = await startTcpProxy(relays[0]!.port);
});
afterEach(closeAllClients);
afterAll(async () => {
  await proxy.close();
  for (const relay of relays) await relay.close();
});

describe('tabs of one profile in Node', () => {
  it('late tabs, a cut tab and small pages: every view exact', { timeout: 60_000 }, async () => {
    const name = `tabs-${Date.now()}`;
    const device = newDevice();
    const url = relays[0]!.url;
    const views: { label: string; history: Entry[]; events: Entry[]; resets: ResetContext[] }[] = [];
    const openTab = async (label: string, relay: string, pageSize: number) => {
      const client = testClient({ relays: [relay], token: await tokenFor('bob'), indexedDB: device, pageSize, gapFillDelayMs: 20 });
      const room = client.room(name);
      const view = { label, history: [] as Entry[], events: [] as Entry[], resets: [] as ResetContext[] };
      room.on('message', ({ seq, id }) => view.events.push({ seq, id }));
      room.on('reset', (reset) => view.resets.push(reset));
      view.history = (await room.history()).map(({ seq, id }) => ({ seq, id }));
      views.push(view);
      return client;
    };
    await openTab('first', url, 3);
    await openTab('cut', proxy.url, 2);
    const sender = testClient({ relays: [url], token: await tokenFor('alice') });
    const room = sender.room(name);
    const sent = [];
    for (let n = 1; n <= 150; n++) {
      sent.push((await room.publish('chat', { n })).sent);
      if (n % 25 === 0) void openTab(`late-${n}`, url, 1 + (n % 4));
      if (n === 40) proxy.sever();
      if (n === 90) proxy.restore();
      if (n % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(sent);
    await (await room.publish('chat', { n: 'sentinel' })).sent;
    const log = await readLog(url, name);
    await waitFor(() => views.length === 8 && views.every((view) => [...view.history, ...view.events].at(-1)?.seq === log.length), 'every tab at the head', 30_000);
    const problems = views.map((view) => ({ label: view.label, resets: view.resets.length, problems: viewProblems(view, log) }));
    expect(problems.filter((p) => p.problems.length > 0 || p.resets > 0)).toEqual([]);
  });
});
