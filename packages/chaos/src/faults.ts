import type { FoldedLook } from './annotation-checker.js';
import type { MemberHistory } from './checker.js';
import type { PresenceHistory, PresenceLook } from './presence-checker.js';
import type { Random } from './random.js';
import type { ClusterSystem, StandaloneSystem, SystemUnderTest } from './system-under-test.js';

/** Faults the scheduler injects in every run on one redis-server. Token expiry needs no injection: every token lives 5–15 s (see ChaosClient). */
export const FAULT_KINDS = ['network-cut', 'client-restart', 'relay-kill', 'relay-drain', 'redis-kill', 'redis-pause', 'rolling-restart'] as const;
/**
 * Faults of every run on a Redis Cluster (--redis-cluster), where the Redis faults are `master-kill`
 * (kill -9 of a master, every other time just after its replica link dropped; its replica is
 * promoted, then the killed node rejoins as a replica) and
 * `node-restart` (kill -9 of any node, started again at once).
 */
export const CLUSTER_FAULT_KINDS = ['network-cut', 'client-restart', 'relay-kill', 'relay-drain', 'master-kill', 'node-restart', 'rolling-restart'] as const;
/**
 * Faults of some modes: `client-crash` (with --crash) kills members hard — Node clients in child
 * processes with SIGKILL, Chromium tabs with a renderer crash — and starts them again from what their
 * IndexedDB kept; `member-away` (with --retention) takes members offline long enough for retention to
 * trim the log past them.
 */
export const MODE_FAULT_KINDS = ['client-crash', 'member-away'] as const;
export const ALL_FAULT_KINDS = [...FAULT_KINDS, 'master-kill', 'node-restart', ...MODE_FAULT_KINDS] as const;
export type FaultKind = (typeof ALL_FAULT_KINDS)[number];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function standalone(system: SystemUnderTest, kind: FaultKind): StandaloneSystem {
  if (system.kind !== 'redis') throw new RangeError(`fault ${kind} needs one redis-server, not a cluster`);
  return system;
}

function clustered(system: SystemUnderTest, kind: FaultKind): ClusterSystem {
  if (system.kind !== 'cluster') throw new RangeError(`fault ${kind} needs a Redis Cluster (--redis-cluster)`);
  return system;
}

/** A member of a room — a Node client (in this process or a child process) or a Chromium tab — and what a fault can do to it. */
export interface ChaosMember {
  readonly name: string;
  readonly roomName: string;
  /** What it queued, was acked and its app was handed, session by session. */
  readonly history: MemberHistory;
  /** Hard crashes it went through. */
  readonly crashes: number;
  cutNetwork(): void;
  healNetwork(): void;
  /** Closed and started again from its persisted IndexedDB (a Node client restart, a real page reload). */
  restart(): Promise<void>;
  /**
   * Killed with no goodbye (SIGKILL of its process, a renderer crash of its tab) and started again from
   * what its IndexedDB kept. Absent when the member cannot crash for real (its IndexedDB dies with it).
   */
  crash?(): Promise<void>;
  /**
   * What went wrong with the member itself that no injected fault explains (its process exited by
   * itself, its page threw an uncaught error), as it happened. Absent for members in this process:
   * their uncaught errors are the run's own.
   */
  readonly failures?: readonly string[];
  stopPublishing(): Promise<void>;
  pendingCount(): Promise<number>;
  /** What its app shows now of its room's messages, folded, and its read state (undefined: not running). */
  foldedLook(): Promise<FoldedLook | undefined>;
  /** With presence: its presence events, connection changes, lives and network cuts. */
  readonly presence?: PresenceHistory | undefined;
  /** With presence: what its app shows of the room's presence now, and whether it is alive and connected. */
  presenceLook?(): Promise<PresenceLook>;
  close(): Promise<void>;
}

/**
 * Injects one fault and returns once it has healed. Relay and Redis faults are serialised by the
 * caller (one at a time); client faults may overlap them.
 */
export interface FaultContext {
  /** How long `member-away` keeps its members offline. @default [8000, 14000] */
  awayMs?: [number, number];
}

export async function injectFault(kind: FaultKind, system: SystemUnderTest, clients: ChaosMember[], random: Random, context: FaultContext = {}): Promise<void> {
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
    case 'client-crash': {
      const crashable = clients.filter((client) => client.crash);
      const victims = random.shuffle(crashable).slice(0, Math.max(1, Math.ceil(crashable.length / 4)));
      await Promise.all(victims.map((client) => client.crash!()));
      return;
    }
    case 'member-away': {
      // Offline long enough for a busy room to trim past the member (see --retention).
      // It does not hold up the next faults: the members come back by themselves (or at the final heal).
      const victims = random.shuffle(clients).slice(0, Math.max(1, Math.ceil(clients.length / 20)));
      const [min, max] = context.awayMs ?? [8000, 14000];
      for (const client of victims) client.cutNetwork();
      setTimeout(() => victims.forEach((client) => client.healNetwork()), random.between(min, max)).unref();
      return;
    }
    case 'redis-kill':
      // With appendfsync everysec the AOF loses its unsynced tail, as a power loss would.
      await standalone(system, kind).crashRedis(random.between(500, 2000));
      return;
    case 'redis-pause': {
      const { redis } = standalone(system, kind);
      redis.signal('SIGSTOP');
      await sleep(random.between(1000, 3000));
      redis.signal('SIGCONT');
      return;
    }
    case 'master-kill': {
      const cluster = clustered(system, kind);
      const masters = (await cluster.cluster.view()).filter((state) => state.role === 'master' && state.slots.length > 0);
      const port = random.pick(masters.map((state) => state.port).sort((a, b) => a - b));
      // Every other kill comes just after the master's replica link dropped: the master took writes the
      // promoted replica never got, which --ack-replicas must have kept from being acked.
      const linkDownMs = cluster.mastersKilled.all % 2 === 1 ? random.between(200, 800) : 0;
      await cluster.killMaster(cluster.cluster.nodes.find((node) => node.port === port)!, linkDownMs);
      return;
    }
    case 'node-restart': {
      const cluster = clustered(system, kind);
      await cluster.restartNode(random.pick(cluster.cluster.nodes));
      return;
    }
    case 'rolling-restart':
      // Every relay in turn, as a deploy would: drain (clients told to move), restart, next.
      for (const relay of system.relays) {
        await relay.drain();
        await relay.start();
      }
      return;
  }
}
