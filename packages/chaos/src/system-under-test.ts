import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { signAccessToken } from '@partyline/relay';
import { findFreePort, startRedis, startRedisCluster, waitFor, type RedisCluster, type RedisServer } from '@partyline/test-support';
import { lostAppends, type LostAppend } from './aof-tail.js';
import type { StoreLoss } from './checker.js';

export const CHAOS_SECRET = 'chaos-secret-chaos-secret-chaos-secret!';

/**
 * A member's token: short-lived (5–15 s, from `random`), so tokens expire on live connections all
 * through a run and the SDK must refresh them.
 */
export function mintChaosToken(sub: string, room: string, random: () => number): Promise<string> {
  return signAccessToken({ sub, rooms: [room], ttlSeconds: 5 + Math.round(random() * 10) }, CHAOS_SECRET);
}
/** The relay package in this repository; its CLI runs from source (tsx), like every test layer's relays. */
const RELAY_DIR = fileURLToPath(new URL('../../relay', import.meta.url));

/** How long Redis (appendfsync everysec) may hold a write back behind a slow fsync while acking it. */
const REDIS_WRITE_POSTPONE_MS = 2000;

/** A relay process on a fixed port, so clients find it again after a restart. */
export class ManagedRelay {
  #child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    /** Where its store is: `--redis-url …`, or `--redis-cluster …` with its flags. */
    private readonly storeArgs: string[],
    private readonly extraArgs: string[] = [],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      // The built relay (turbo builds it before chaos runs and tests): no TypeScript transform per start, which on a
      // busy machine took most of a relay's start-up.
      ['dist/cli.js', '--port', String(this.port), ...this.storeArgs, '--token-secret', CHAOS_SECRET, '--drain-timeout-ms', '3000', ...this.extraArgs],
      // CHAOS_RELAY_LOGS=1 shows the relays' JSON logs (LOG_LEVEL=warn for their warnings) on stderr.
      { cwd: RELAY_DIR, stdio: ['ignore', process.env.CHAOS_RELAY_LOGS ? process.stderr : 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' } },
    );
    this.#child = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`relay on ${this.port} exited with ${child.exitCode}`);
      return (await fetch(`${this.url}/healthz`)).ok;
    }, `relay on port ${this.port}`, 60_000);
  }

  /** kill -9: no drain, no goodbye. */
  async kill(): Promise<void> {
    await this.#stop('SIGKILL');
  }

  /** SIGTERM: the relay drains (clients told to move) and exits by itself. */
  async drain(): Promise<void> {
    await this.#stop('SIGTERM');
  }

  async #stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}

export interface SystemOptions {
  /**
   * Redis AOF fsync policy. `everysec` simulates the disk (see test-support `startRedis`): a Redis
   * kill then drops what was written after the last fsync, as a power loss would. @default 'always'
   */
  fsync?: 'always' | 'everysec';
  /** Relays keep at most this many messages per room log (`--retention-messages`). @default unlimited */
  retentionMessages?: number;
  /** More relay flags. */
  relayArgs?: string[];
  /**
   * A Redis Cluster of 3 masters with one replica each instead of one redis-server (fsync always
   * on every node); the relays ack a publish only once a replica holds it (`--ack-replicas 1`). @default false
   */
  redisCluster?: boolean;
  /** Told what a Redis crash lost (everysec) and how each failover went. */
  onNote?: (line: string) => void;
}

interface SystemParts {
  relays: ManagedRelay[];
  fsync: 'always' | 'everysec';
  /** Room-log appends Redis crashes lost: the XADDs of the AOF tails they dropped. */
  lostAppends: LostAppend[];
  /** Windows of ack times in which an acked write may have been lost without reaching the AOF (Redis held it behind a slow fsync). */
  storeLosses: StoreLoss[];
  /** AOF bytes Redis crashes dropped (everysec only), and how many crashes dropped any. */
  readonly unsyncedBytesLost: number;
  readonly crashesThatLostData: number;
  stop(): Promise<void>;
}

/** The relays on one redis-server (AOF). */
export interface StandaloneSystem extends SystemParts {
  kind: 'redis';
  redis: RedisServer;
  /**
   * Kill Redis -9 and start it again after `pauseMs`. With everysec the AOF loses its unsynced tail;
   * answers the bytes lost (the window of acks that may name lost messages is kept in `storeLosses`).
   */
  crashRedis(pauseMs: number): Promise<number>;
}

/** The relays on a Redis Cluster, acking only what a replica holds. */
export interface ClusterSystem extends SystemParts {
  kind: 'cluster';
  cluster: RedisCluster;
  /** Replicas seen promoted to master so far, by a fault or by the cluster itself. */
  readonly masterFailovers: number;
  /** Masters `killMaster` killed, and how many of them right after their replica link dropped. */
  readonly mastersKilled: { all: number; afterLinkDrop: number };
  /**
   * kill -9 a master and wait until its replica is promoted (verified: it serves the killed master's
   * slots), then start the killed node again and wait until it is back as the new master's replica.
   * With `replicaLinkDownMs`, the master's replica link is dropped that long before the kill, so the
   * promoted replica lacks the writes in between (see test-support `killMaster`).
   */
  killMaster(master: RedisServer, replicaLinkDownMs?: number): Promise<void>;
  /** kill -9 a node (master or replica) and start it again at once; a master may or may not be failed over meanwhile. */
  restartNode(node: RedisServer): Promise<void>;
  /** Looks at the cluster again, counting promotions since the last look. */
  observeFailovers(): Promise<void>;
}

export type SystemUnderTest = StandaloneSystem | ClusterSystem;

/** Relay processes on free ports; if one does not come up, every one is killed and `cleanUp` runs before the error is thrown. */
async function startRelays(count: number, storeArgs: string[], options: SystemOptions, cleanUp: () => Promise<void>): Promise<ManagedRelay[]> {
  const relayArgs = [...(options.retentionMessages !== undefined ? ['--retention-messages', String(options.retentionMessages)] : []), ...(options.relayArgs ?? [])];
  const relays: ManagedRelay[] = [];
  for (let i = 0; i < count; i++) relays.push(new ManagedRelay(await findFreePort(), storeArgs, relayArgs));
  try {
    await Promise.all(relays.map((relay) => relay.start()));
  } catch (error) {
    // A relay that did not come up: nothing of this system may outlive the failed run.
    await Promise.all(relays.map((relay) => relay.kill()));
    await cleanUp();
    throw error;
  }
  return relays;
}

/** A 3-master Redis Cluster, one replica each, and `relayCount` relays acking what one replica holds. */
async function startClusterSystem(relayCount: number, options: SystemOptions): Promise<ClusterSystem> {
  const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  const relays = await startRelays(relayCount, ['--redis-cluster', cluster.addresses.join(','), '--ack-replicas', '1'], options, () => cluster.stop());
  const onNote = options.onNote;
  const portsServing = async () => new Set((await cluster.view()).filter((state) => state.role === 'master' && !state.failing && state.slots.length > 0).map((state) => state.port));
  let masters = await portsServing();
  let masterFailovers = 0;
  const mastersKilled = { all: 0, afterLinkDrop: 0 };
  const observeFailovers = async () => {
    const now = await portsServing();
    masterFailovers += [...now].filter((port) => !masters.has(port)).length;
    masters = now;
  };
  return {
    kind: 'cluster',
    cluster,
    relays,
    fsync: 'always',
    lostAppends: [],
    storeLosses: [],
    unsyncedBytesLost: 0,
    crashesThatLostData: 0,
    get masterFailovers() {
      return masterFailovers;
    },
    mastersKilled,
    observeFailovers,
    async killMaster(master, replicaLinkDownMs = 0) {
      await observeFailovers();
      mastersKilled.all++;
      if (replicaLinkDownMs > 0) mastersKilled.afterLinkDrop++;
      const killedAt = Date.now();
      const promoted = await cluster.killMaster(master, { replicaLinkDownMs });
      const promotedAt = Date.now();
      await observeFailovers();
      const role = await cluster.restartNode(master);
      onNote?.(
        `master ${master.port} killed -9${replicaLinkDownMs > 0 ? ` ${Math.round(replicaLinkDownMs)} ms after its replica link dropped` : ''}: replica ${promoted.port} promoted in ${promotedAt - killedAt} ms; ${master.port} back as a ${role} ${Date.now() - promotedAt} ms later`,
      );
      if (role !== 'replica') throw new Error(`killed master ${master.port} came back as a ${role}, not as ${promoted.port}'s replica`);
    },
    async restartNode(node) {
      await observeFailovers();
      const before = masterFailovers;
      const startedAt = Date.now();
      const role = await cluster.restartNode(node);
      await observeFailovers();
      onNote?.(`node ${node.port} killed -9 and restarted: back as a ${role} in ${Date.now() - startedAt} ms${masterFailovers > before ? ', its replica took over meanwhile' : ''}`);
    },
    async stop() {
      await Promise.all(relays.map((relay) => relay.kill()));
      await cluster.stop();
    },
  };
}

/** Redis with AOF (fsync always, or a simulated everysec) — or a Redis Cluster — and `relayCount` relay processes. */
export async function startSystem(relayCount: number, options: SystemOptions = {}): Promise<SystemUnderTest> {
  if (options.redisCluster) {
    if (options.fsync === 'everysec') throw new RangeError('the everysec AOF simulation is for one redis-server, not a cluster');
    return startClusterSystem(relayCount, options);
  }
  const fsync = options.fsync ?? 'always';
  const onNote = options.onNote;
  // The simulated fsync runs here, so its time is known: an ack heard before it names a durable write.
  const redis = await startRedis({ appendOnly: true, fsync, fsyncEveryMs: 2_000_000_000 });
  let durableAt = Date.now();
  let crashing = false;
  const fsyncTimer =
    fsync === 'everysec'
      ? setInterval(() => {
          if (crashing) return;
          const at = Date.now();
          redis.markDurable();
          durableAt = at;
        }, 1000)
      : undefined;
  fsyncTimer?.unref();
  const relays = await startRelays(relayCount, ['--redis-url', redis.url], options, async () => {
    clearInterval(fsyncTimer);
    await redis.stop();
  });
  const storeLosses: StoreLoss[] = [];
  const droppedAppends: LostAppend[] = [];
  let unsyncedBytesLost = 0;
  let crashesThatLostData = 0;
  return {
    get unsyncedBytesLost() {
      return unsyncedBytesLost;
    },
    get crashesThatLostData() {
      return crashesThatLostData;
    },
    kind: 'redis',
    redis,
    relays,
    fsync,
    storeLosses,
    lostAppends: droppedAppends,
    async crashRedis(pauseMs) {
      crashing = true;
      const from = durableAt;
      const persistence = fsync === 'everysec' ? await redisInfo(redis.port, 'persistence') : undefined;
      const killedAt = Date.now();
      const appendsBefore = droppedAppends.length;
      const lost = await redis.kill({ loseUnsynced: fsync === 'everysec', onUnsynced: (aof, kept) => droppedAppends.push(...lostAppends(aof, kept)) });
      if (persistence) {
        const field = (name: string) => persistence.match(new RegExp(`^${name}:(\\S+)`, 'm'))?.[1] ?? '?';
        onNote?.(
          `Redis killed -9 ${killedAt - from} ms after the last simulated fsync; AOF tail lost: ${lost} bytes, ${droppedAppends.length - appendsBefore} appends; just before: ` +
            `aof_buffer_length ${field('aof_buffer_length')}, aof_pending_bio_fsync ${field('aof_pending_bio_fsync')}, aof_delayed_fsync ${field('aof_delayed_fsync')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const restartAt = Date.now();
      await redis.restart();
      durableAt = restartAt; // the restarted server's AOF is noted as durable when it comes up
      crashing = false;
      // What the cut AOF tail held is known exactly (droppedAppends). Besides, with everysec Redis
      // writes the AOF before it replies, except while a background fsync is still running: then it
      // postpones the write for up to 2 s and replies anyway (redis.conf: "in the worst case ... up to
      // 2 seconds of data"). If Redis said so just before the kill, an acked write may never have
      // reached the file: acks heard from 2 s before the last fsync until Redis was back may name one.
      const field = (name: string) => Number(persistence?.match(new RegExp(`^${name}:(\\d+)`, 'm'))?.[1] ?? 1);
      const holdingWrites = field('aof_pending_bio_fsync') > 0 || field('aof_buffer_length') > 0;
      if (lost > 0 && holdingWrites) storeLosses.push({ from: from - REDIS_WRITE_POSTPONE_MS, to: Date.now() });
      unsyncedBytesLost += lost;
      if (lost > 0) crashesThatLostData++;
      return lost;
    },
    async stop() {
      clearInterval(fsyncTimer);
      await Promise.all(relays.map((relay) => relay.kill()));
      await redis.stop();
    },
  };
}

/** `INFO <section>` over a plain socket (inline command); empty if Redis does not answer within 1 s. */
function redisInfo(port: number, section: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = () => {
      socket.destroy();
      resolve(data);
    };
    socket.setTimeout(1000, done);
    socket.once('error', done);
    socket.once('connect', () => socket.write(`INFO ${section}\r\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      const header = /^\$(\d+)\r\n/.exec(data);
      if (header && data.length >= header[0].length + Number(header[1])) done();
    });
  });
}
