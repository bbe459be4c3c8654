/**
 * Long-polling behind the shipped nginx (deploy/nginx.conf, rendered with the test's relays and its
 * documented sticky-session variant): every request of an Engine.IO polling session must reach the
 * relay that opened it, which `ip_hash` ensures and the default `least_conn` does not.
 */
import { shippedNginxConf, startNginx, waitFor, type Nginx } from '@partyline/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { pollingFallback } from '../src/polling-fallback.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { closeAllClients, range, record, testClient } from './support/sdk-client.js';


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

    const name = `polling-nginx-${Date.now()}`;
    // webSocketFailures 0: polling from the first attempt, as on a network known to block WebSocket.
    const alice = testClient({ relays: [nginx.url], token: await tokenFor('alice'), transport: pollingFallback({ webSocketFailures: 0 }) });
    const bob = testClient({ relays: [nginx.url], token: await tokenFor('bob'), transport: pollingFallback({ webSocketFailures: 0 }) });
    const atAlice = record(alice.room(name));
    const atBob = record(bob.room(name));
    await waitFor(() => alice.state === 'online' && bob.state === 'online', 'both clients online through nginx', 20_000);

    for (let i = 1; i <= 5; i++) {
      await alice.room(name).publish('chat', { from: 'alice', n: i });
      await bob.room(name).publish('chat', { from: 'bob', n: i });
    }
    await waitFor(() => atAlice.messages.length >= 10 && atBob.messages.length >= 10, '10 messages at both', 20_000);
    for (const seen of [atAlice, atBob]) {
      expect(seen.seqs()).toEqual(range(1, 10));
      for (const sender of ['alice', 'bob']) {
        expect(seen.messages.filter((message) => message.sender === sender).map((message) => message.body)).toEqual(range(1, 5).map((n) => ({ from: sender, n })));
      }
    }
    // Both sessions are polling ones, on one relay (ip_hash: one client address), and stayed up.
    const transports = relays.flatMap((relay) => Object.values((relay.relay.io.engine as unknown as { clients: Record<string, { transport: { name: string } }> }).clients).map((socket) => socket.transport.name));
    expect(transports).toEqual(['polling', 'polling']);
    expect(alice.state).toBe('online');
    expect(bob.state).toBe('online');
  });
});
