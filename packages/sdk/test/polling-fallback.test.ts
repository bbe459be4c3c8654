import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@partyline/test-support';
import { pollingFallback } from '../src/polling-fallback.js';
import { closeAllClients, record, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { expectTwoClientsExchange } from './support/polling-exchange.js';
import { startUpgradeRefusingProxy, type UpgradeRefusingProxy } from './support/upgrade-refusing-proxy.js';

let relay: InProcessRelay;
const proxies: UpgradeRefusingProxy[] = [];
let roomCounter = 0;
const nextRoom = () => `polling-${++roomCounter}-${Date.now()}`;

beforeAll(async () => {
  relay = await startRelay({ transports: ['websocket', 'polling'] });
});
afterEach(async () => {
  await closeAllClients();
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});
afterAll(async () => {
  await relay.close();
});

async function proxyRefusing(refusal: '403' | 'reset'): Promise<UpgradeRefusingProxy> {
  const proxy = await startUpgradeRefusingProxy(relay.port, refusal);
  proxies.push(proxy);
  return proxy;
}

describe('behind a proxy that refuses WebSocket upgrades', () => {
  for (const refusal of ['403', 'reset'] as const) {
    it(`two clients exchange messages over long-polling, each once and in order (upgrade ${refusal === '403' ? 'answered 403' : 'reset'})`, async () => {
      const proxy = await proxyRefusing(refusal);
      await expectTwoClientsExchange(proxy.url, nextRoom(), () => pollingFallback(), 'both clients online through the refusing proxy');
      // Every WebSocket attempt was refused; the messages went over polling.
      expect(proxy.refusedUpgrades).toBeGreaterThanOrEqual(4);
      expect(proxy.pollingRequests).toBeGreaterThan(0);
    });
  }

  it('without the fallback (the default transport) never comes online', async () => {
    const proxy = await proxyRefusing('403');
    const client = testClient({ relays: [proxy.url], token: await tokenFor('alice') });
    client.room(nextRoom());
    await waitFor(() => proxy.refusedUpgrades >= 4, 'four refused WebSocket attempts', 20_000);
    expect(client.state).toBe('connecting');
    expect(proxy.pollingRequests).toBe(0);
  });
});

describe('where polling fails too', () => {
  it('tries a WebSocket again after a failed polling attempt (a relay without polling, or simply down)', async () => {
    const websocketOnly = await startRelay();
    const proxy = await startUpgradeRefusingProxy(websocketOnly.port, '403');
    proxies.push(proxy);
    try {
      const client = testClient({ relays: [proxy.url], token: await tokenFor('alice'), transport: pollingFallback() });
      client.room(nextRoom());
      // Two refused WebSockets, a refused poll, then WebSockets again: ws, ws, poll, ws, ws, poll.
      await waitFor(() => proxy.refusedUpgrades >= 4 && proxy.pollingRequests >= 2, 'WebSocket attempts resumed after a failed poll', 20_000);
      expect(client.state).toBe('connecting');
    } finally {
      await closeAllClients();
      await websocketOnly.close();
    }
  });
});

describe('where WebSocket works', () => {
  it('stays on WebSocket: no polling request at all', async () => {
    const own = await startRelay({ transports: ['websocket', 'polling'] });
    try {
      const client = testClient({ relays: [own.url], token: await tokenFor('alice'), transport: pollingFallback() });
      const room = client.room(nextRoom());
      const seen = record(room);
      await room.publish('chat', { n: 1 });
      await waitFor(() => seen.messages.length === 1, 'own message back');
      const engine = own.relay.io.engine as unknown as { clients: Record<string, { transport: { name: string } }> };
      expect(Object.values(engine.clients).map((socket) => socket.transport.name)).toEqual(['websocket']);
    } finally {
      await closeAllClients();
      await own.close();
    }
  });
});
