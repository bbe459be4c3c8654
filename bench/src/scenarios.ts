import { signAccessToken } from '@partyline/relay';
import type { RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { cpuMicros, rssBytes, watchForeignCpu } from './proc-stats.js';
import { runWorkers, split } from './run-workers.js';
import { BENCH_SECRET, FIXED_YOUNG_GENERATION, startServers, type ServerProcess, type SystemName } from './systems.js';
import type { WorkerPlan } from './load-worker.js';

export interface Figures {
  deliveredPerSecond: number;
  publishedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  cpuMicrosPerDelivered: number;
  rssMb: number;
  /** RSS growth per idle connection (what the machine pays). */
  bytesPerConnection?: number;
  /** Live JS heap growth per idle connection (steadier than RSS, which grows in chunks). */
  heapBytesPerConnection?: number;
  errors: number;
  /** Share of the machine's CPU that processes outside this bench used during the window (0–1): another's load skews the run. */
  foreignCpuShare?: number;
}

export interface Scale {
  /** Measured window of one run. */
  seconds: number;
  /** Interleaved rounds of (a), (b) and (c): each a run of every contender. */
  rounds: number;
  fanoutSubscribers: number;
  smallRooms: number;
  idleConnections: number;
}

export const FULL: Scale = { seconds: 10, rounds: 5, fanoutSubscribers: 1000, smallRooms: 2000, idleConnections: 10_000 };
export const QUICK: Scale = { seconds: 3, rounds: 5, fanoutSubscribers: 300, smallRooms: 250, idleConnections: 2000 };

interface Measure {
  servers: number;
  plans: (urls: string[], token: string) => WorkerPlan[];
  seconds: number;
  /** Unmeasured publishing before the window (see runWorkers). */
  warmUpSeconds?: number;
}

/** One short-lived client for a bench-side command on the bench Redis. */
async function onRedis(redis: RedisServer, command: (client: Redis) => Promise<unknown>): Promise<void> {
  const client = new Redis(redis.url);
  try {
    await command(client);
  } finally {
    client.disconnect();
  }
}

/**
 * Every run starts from the same Redis: empty, and with an AOF rewritten down to that (a run after
 * many others would otherwise inherit a big AOF, and an automatic rewrite — a fork, a child writing
 * the file — could fall inside its measured window).
 */
const flush = (redis: RedisServer) =>
  onRedis(redis, async (client) => {
    await client.flushall();
    await waitForNoRewrite(client);
    await client.bgrewriteaof();
    await waitForNoRewrite(client);
  });

async function waitForNoRewrite(client: Redis): Promise<void> {
  const busy = async () => /^aof_rewrite_(in_progress|scheduled):1$/m.test(await client.info('persistence'));
  while (await busy()) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Changes when the bench Redis syncs its AOF (`always`: before each reply, the bench's default). */
export function setAppendFsync(redis: RedisServer, policy: 'always' | 'everysec'): Promise<void> {
  return onRedis(redis, (client) => client.config('SET', 'appendfsync', policy));
}

/** Starts the system's servers, runs the load, and turns counters into figures (`hooks`: also told when the measured window starts and stops). */
export async function measure(system: SystemName, redis: RedisServer, { servers: count, plans, seconds, warmUpSeconds }: Measure, hooks: { started?(): unknown; stopped?(): unknown } = {}): Promise<Figures> {
  await flush(redis);
  const servers: ServerProcess[] = await startServers(system, count, redis.url);
  try {
    const token = await signAccessToken({ sub: 'bench', rooms: ['*'], ttlSeconds: 3600 }, BENCH_SECRET);
    let cpuBefore = 0;
    let cpuAfter = 0;
    let foreignCpu = () => 0;
    let foreignCpuShare = 0;
    // BENCH_CPU_PROF=<dir>: a CPU profile of each server over the measured window (open in Chrome DevTools or speedscope).
    const profiling = Boolean(process.env.BENCH_CPU_PROF);
    const result = await runWorkers(plans(servers.map((s) => s.url), token), seconds, {
      started: async () => {
        if (profiling) await Promise.all(servers.map((s) => s.request('profile:start')));
        cpuBefore = servers.reduce((sum, s) => sum + cpuMicros(s.pid), 0);
        foreignCpu = watchForeignCpu(process.pid);
        await hooks.started?.();
      },
      stopped: async () => {
        cpuAfter = servers.reduce((sum, s) => sum + cpuMicros(s.pid), 0);
        foreignCpuShare = foreignCpu();
        await hooks.stopped?.();
        if (profiling) await Promise.all(servers.map((s) => s.request('profile:stop')));
      },
    }, warmUpSeconds);
    const ms = (percentile: number) => result.latency.getValueAtPercentile(percentile) / 1000;
    return {
      deliveredPerSecond: result.delivered / result.seconds,
      publishedPerSecond: result.acked / result.seconds,
      p50Ms: ms(50),
      p99Ms: ms(99),
      p999Ms: ms(99.9),
      cpuMicrosPerDelivered: result.delivered ? (cpuAfter - cpuBefore) / result.delivered : 0,
      rssMb: servers.reduce((sum, s) => sum + rssBytes(s.pid), 0) / 1024 / 1024,
      errors: result.errors,
      foreignCpuShare,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

export const BODY_BYTES = 100;

/** (a) one room, many subscribers over two relays, one publisher as fast as acks allow. */
export function fanout(scale: Scale, ratePerSecond?: number): Measure {
  return {
    servers: 2,
    seconds: scale.seconds,
    plans: (urls, token) => [
      ...split(scale.fanoutSubscribers, 2, (_, share) => ({ system: 'partyline', urls, token, connections: share, rooms: ['fanout'], subscribe: true })),
      {
        system: 'partyline',
        urls: [urls[0]!],
        token,
        connections: 1,
        rooms: ['fanout'],
        subscribe: false,
        publish: ratePerSecond ? { ratePerSecond, bodyBytes: BODY_BYTES } : { window: 16, bodyBytes: BODY_BYTES },
      },
    ],
  };
}

/** (b) many rooms of four members, every member publishing. */
export function smallRooms(scale: Scale): Measure {
  const rooms = Array.from({ length: scale.smallRooms }, (_, i) => `room-${i}`);
  return {
    servers: 2,
    seconds: scale.seconds,
    plans: (urls, token) =>
      split(scale.smallRooms * 4, 2, (worker, share) => ({
        system: 'partyline',
        urls,
        token,
        connections: share,
        // Each worker holds two members of every room.
        rooms: rooms.map((room, i) => rooms[(i + worker) % rooms.length] ?? room),
        subscribe: true,
        publish: { window: 1, bodyBytes: BODY_BYTES },
      })),
  };
}

/** (d) idle connections on one relay: memory per connection (both servers with a young generation of fixed size, see {@link FIXED_YOUNG_GENERATION}). */
export async function idleMemory(system: SystemName, redis: RedisServer, scale: Scale): Promise<Figures> {
  await flush(redis);
  const [server] = await startServers(system, 1, redis.url, [], FIXED_YOUNG_GENERATION);
  try {
    const token = await signAccessToken({ sub: 'bench', rooms: ['*'], ttlSeconds: 3600 }, BENCH_SECRET);
    const { heapUsed: heapBefore } = await server!.request('gc');
    const before = rssBytes(server!.pid);
    let after = before;
    let heapAfter = heapBefore;
    await runWorkers(
      split(scale.idleConnections, 2, (_, share) => ({ system, urls: [server!.url], token, connections: share, rooms: ['idle'], subscribe: false })),
      3,
      {
        started: async () => {
          ({ heapUsed: heapAfter } = await server!.request('gc'));
          after = rssBytes(server!.pid);
        },
      },
    );
    return {
      deliveredPerSecond: 0,
      publishedPerSecond: 0,
      p50Ms: 0,
      p99Ms: 0,
      p999Ms: 0,
      cpuMicrosPerDelivered: 0,
      rssMb: after / 1024 / 1024,
      bytesPerConnection: (after - before) / scale.idleConnections,
      heapBytesPerConnection: (heapAfter - heapBefore) / scale.idleConnections,
      errors: 0,
    };
  } finally {
    await server!.stop();
  }
}

/** Points a measure's plans at one system. */
export function forSystem(system: SystemName, spec: Measure): Measure {
  return { ...spec, plans: (urls, token) => spec.plans(urls, token).map((plan) => ({ ...plan, system })) };
}
