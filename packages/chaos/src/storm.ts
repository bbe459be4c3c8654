import 'fake-indexeddb/auto';
import { signAccessToken } from '@partyline/relay';
import { createClient, type PartylineClient } from '@partyline/sdk';
import { waitFor } from '@partyline/test-support';
import { IDBFactory } from 'fake-indexeddb';
import { CHAOS_SECRET, startSystem } from './system-under-test.js';

export interface StormOptions {
  clients: number;
  onProgress?: (line: string) => void;
}

export interface StormReport {
  clients: number;
  /** From relay A's SIGKILL until every client is online on relay B. */
  secondsUntilAllBack: number;
  /** Reconnects relay B answered with `rate_limited` (+ retryAfterMs) while absorbing the storm. */
  rateLimitedRefusals: number;
  /** Handshakes relay B refused, by kind (its metric), e.g. `rate_limited 120`. */
  relayRefusals: string;
}

/**
 * A reconnect storm: every client sits on relay A (first in its list), A is killed -9, and they all
 * land on relay B at once. Client jitter and B's connection-rate limit keep B standing; the figure is
 * how long until every client is back.
 */
export async function runStorm({ clients: count, onProgress = () => {} }: StormOptions): Promise<StormReport> {
  // Every client here shares one address (127.0.0.1); a real crowd comes from as many addresses as
  // users, so the per-address limits are lifted. The relay-wide connect limit — what a storm meets — stays.
  const system = await startSystem(2, { relayArgs: ['--connect-rate-per-address', '1000000', '--max-pending-per-address', '1000000', '--metrics-public'] });
  const [relayA, relayB] = system.relays as [(typeof system.relays)[0], (typeof system.relays)[0]];
  const clients: PartylineClient[] = [];
  let rateLimitedRefusals = 0;
  try {
    for (let i = 0; i < count; i++) {
      const name = `storm-${i}`;
      const room = `storm-room-${Math.floor(i / 10)}`;
      const client = createClient({
        relays: [relayA.url, relayB.url],
        token: () => signAccessToken({ sub: name, rooms: [room] }, CHAOS_SECRET),
        indexedDB: new IDBFactory(),
        dbName: name,
      });
      client.on('error', ({ error }) => {
        if (error.kind === 'rate_limited') rateLimitedRefusals++;
      });
      client.room(room);
      clients.push(client);
      // Connect in waves, as users arrive; the relay's connection rate limit is not the subject here.
      if (i % 200 === 199) await waitFor(() => clients.every((c) => c.state === 'online'), 'clients online on relay A', 60_000, 50);
    }
    await waitFor(() => clients.every((c) => c.state === 'online'), 'every client online on relay A', 120_000, 50);
    onProgress(`${count} clients online on relay A; killing it`);
    rateLimitedRefusals = 0;
    const killedAt = performance.now();
    await relayA.kill();
    await waitFor(() => clients.every((c) => c.state === 'online'), 'every client back on relay B', 300_000, 20);
    const secondsUntilAllBack = (performance.now() - killedAt) / 1000;
    const metrics = await (await fetch(`${relayB.url}/metrics`)).text();
    const connected = Number(metrics.match(/^partyline_connections (\d+)/m)?.[1]);
    if (connected !== count) throw new Error(`relay B holds ${connected} connections, expected ${count}`);
    const refusals = [...metrics.matchAll(/^partyline_handshake_refusals_total\{kind="([^"]+)"\} (\d+)/gm)].map(([, kind, n]) => `${kind} ${n}`);
    return { clients: count, secondsUntilAllBack, rateLimitedRefusals, relayRefusals: refusals.join(', ') || 'none' };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await system.stop();
  }
}
