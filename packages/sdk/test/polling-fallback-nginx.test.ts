/**
 * Long-polling behind the shipped nginx (deploy/nginx.conf, rendered with the test's relays and its
 * documented sticky-session variant): every request of an Engine.IO polling session must reach the
 * relay that opened it, which `ip_hash` ensures and the default `least_conn` does not.
 */
import { shippedNginxConf, startNginx, type Nginx } from '@partyline/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { pollingFallback } from '../src/polling-fallback.js';
import { startRelay, type InProcessRelay } from './support/relays.js';
import { expectTwoClientsExchange } from './support/polling-exchange.js';
import { closeAllClients } from './support/sdk-client.js';


const running: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await closeAllClients();
  await Promise.all(running.splice(0).map((each) => each.close()));
});


describe('long-polling behind the shipped nginx with sticky sessions', () => {
  it('two clients exchange messages over polling through nginx in front of two relays', async () => {
    const relays = await Promise.all([startRelay({ transports: ['websocket', 'polling'] }), startRelay({ transports: ['websocket', 'polling'] })]);
    running.push(...relays);
    const nginx: Nginx = await startNginx({ http: shippedNginxConf([relays[0]!.port, relays[1]!.port], { sticky: true }) });
    running.push({ close: () => nginx.stop() });

    // webSocketFailures 0: polling from the first attempt, as on a network known to block WebSocket.
    const [alice, bob] = await expectTwoClientsExchange(nginx.url, `polling-nginx-${Date.now()}`, () => pollingFallback({ webSocketFailures: 0 }), 'both clients online through nginx');
    // Both sessions are polling ones, on one relay (ip_hash: one client address), and stayed up.
    const transports = relays.flatMap((relay) => Object.values((relay.relay.io.engine as unknown as { clients: Record<string, { transport: { name: string } }> }).clients).map((socket) => socket.transport.name));
    expect(transports).toEqual(['polling', 'polling']);
    expect(alice.state).toBe('online');
    expect(bob.state).toBe('online');
  });
});
