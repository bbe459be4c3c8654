import type { Random } from './random.js';
import type { SystemUnderTest } from './system-under-test.js';

/** Faults the scheduler injects. Token expiry needs no injection: every token lives 5–15 s (see ChaosClient). */
export const FAULT_KINDS = ['network-cut', 'client-restart', 'relay-kill', 'relay-drain', 'redis-kill', 'redis-pause', 'rolling-restart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a fault can do to a member, in Node or in a browser tab. */
export interface ChaosMember {
  cutNetwork(): void;
  healNetwork(): void;
  /** Closed and started again from its persisted IndexedDB (a Node client restart, a real page reload). */
  restart(): Promise<void>;
}

/**
 * Injects one fault and returns once it has healed. Relay and Redis faults are serialised by the
 * caller (one at a time); client faults may overlap them.
 */
export async function injectFault(kind: FaultKind, system: SystemUnderTest, clients: ChaosMember[], random: Random): Promise<void> {
  switch (kind) {
    case 'network-cut': {
      const victims = random.shuffle(clients).slice(0, Math.max(1, Math.ceil(clients.length / 10)));
      for (const client of victims) client.cutNetwork();
      await sleep(random.between(1000, 4000));
      for (const client of victims) client.healNetwork();
      return;
    }
    case 'client-restart': {
      const victims = random.shuffle(clients).slice(0, Math.max(1, Math.ceil(clients.length / 20)));
      await Promise.all(victims.map((client) => client.restart()));
      return;
    }
    case 'relay-kill': {
      const relay = random.pick(system.relays.filter((candidate) => candidate.running));
      await relay.kill();
      await sleep(random.between(1000, 3000));
      await relay.start();
      return;
    }
    case 'relay-drain': {
      const relay = random.pick(system.relays.filter((candidate) => candidate.running));
      await relay.drain();
      await relay.start();
      return;
    }
    case 'redis-kill':
      await system.redis.kill();
      await sleep(random.between(500, 2000));
      await system.redis.restart();
      return;
    case 'redis-pause':
      system.redis.signal('SIGSTOP');
      await sleep(random.between(1000, 3000));
      system.redis.signal('SIGCONT');
      return;
    case 'rolling-restart':
      // Every relay in turn, as a deploy would: drain (clients told to move), restart, next.
      for (const relay of system.relays) {
        await relay.drain();
        await relay.start();
      }
      return;
  }
}
