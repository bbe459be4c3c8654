/**
 * The largest run this machine allows, to measure the capacity model's inputs (capacity-model.ts):
 * relays over a Redis Cluster, first idle connections alone (memory and upkeep per connection),
 * then the same idle connections plus small rooms whose members all publish (CPU per message on the
 * relays and on every shard).
 */
import { signAccessToken } from '@partyline/relay';
import { startRedisCluster } from '@partyline/test-support';
import type { WorkerPlan } from './load-worker.js';
import type { UnitCosts } from './capacity-model.js';
import { cpuMicros, rssBytes } from './proc-stats.js';
import { runWorkers, split } from './run-workers.js';
import { BENCH_SECRET, FIXED_YOUNG_GENERATION, startServers, type ServerProcess } from './systems.js';

export interface CapacityShape {
  relays: number;
  /** Redis Cluster masters (no replicas). */
  shards: number;
  idleConnections: number;
  /** Busy rooms; every member publishes, one message in flight at a time. */
  rooms: number;
  /** Members per busy room (even: each load worker holds two members of every room). */
  roomSize: number;
  /** Length of each quiet window: no connections, then idle connections only. */
  idleSeconds: number;
  loadSeconds: number;
}

export const CAPACITY_SHAPE: CapacityShape = { relays: 3, shards: 3, idleConnections: 20_000, rooms: 1000, roomSize: 4, idleSeconds: 10, loadSeconds: 15 };

/** Sockets per load worker process for idle connections: well under a per-process open-file limit of 20,000. */
const IDLE_CONNECTIONS_PER_WORKER = 5000;
const MEMBERS_PER_LOAD_WORKER = 2;
const BODY_BYTES = 100;
/**
 * The relay's default ping interval: idle upkeep is measured only after every connection has had its
 * first heartbeat and the connect burst's work is done (measured at once, it came out twice as high).
 */
const SETTLE_MS = 5000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ShardFigures {
  port: number;
  /** Share of one core this shard used during the load phase. */
  cpuShare: number;
  cpuMicrosPerPublished: number;
  cpuMicrosPerDelivered: number;
}

export interface CapacityRunResult {
  shape: CapacityShape;
  idle: {
    connections: number;
    /** Per relay, after a full GC, before any connection. */
    relayBaseRssBytes: number[];
    relayRssBytesPerConnection: number;
    relayHeapBytesPerConnection: number;
    /** CPU of the relays and of the shards with no connection at all (timers, cluster gossip), µs per second, each. */
    relayCpuMicrosPerSecondEmpty: number[];
    redisCpuMicrosPerSecondEmpty: number[];
    /** CPU above the empty relays' (or shards') per idle connection and second. */
    relayCpuMicrosPerConnectionSecond: number;
    redisCpuMicrosPerConnectionSecond: number;
  };
  load: {
    connections: number;
    deliveredPerSecond: number;
    publishedPerSecond: number;
    errors: number;
    p50Ms: number;
    p99Ms: number;
    /** All relay CPU in the window over delivered messages. */
    relayCpuMicrosPerDeliveredGross: number;
    /** The same with the empty relays' CPU and the connections' idle upkeep (both measured before) taken out. */
    relayCpuMicrosPerDelivered: number;
    /** Share of one core each relay used. */
    relayCpuShares: number[];
    redisCpuMicrosPerPublished: number;
    shards: ShardFigures[];
    deliveriesPerPublish: number;
    relaysPerRoom: number;
  };
}

/** CPU time (µs) of each process now. */
const cpuOf = (pids: number[]) => pids.map(cpuMicros);
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const delta = (after: number[], before: number[]) => after.map((value, i) => value - before[i]!);

/** A CPU window between two hooks: each process's CPU time used and the seconds it lasted. */
function cpuWindow(pids: number[]) {
  let before: number[] = [];
  let startedAt = 0;
  const window = { used: [] as number[], seconds: 0 };
  return {
    window,
    /** Each process's CPU per second of the window, µs. */
    rates: () => window.used.map((micros) => micros / window.seconds),
    start() {
      before = cpuOf(pids);
      startedAt = performance.now();
    },
    stop() {
      window.used = delta(cpuOf(pids), before);
      window.seconds = (performance.now() - startedAt) / 1000;
    },
  };
}

/** How many relays the members of each room connect to, averaged over rooms (connection i of a plan: urls[i % n], rooms[i % m]). */
function averageRelaysPerRoom(plans: WorkerPlan[]): number {
  const relaysOf = new Map<string, Set<string>>();
  for (const plan of plans) {
    for (let i = 0; i < plan.connections; i++) {
      const room = plan.rooms[i % plan.rooms.length]!;
      let relays = relaysOf.get(room);
      if (!relays) relaysOf.set(room, (relays = new Set()));
      relays.add(plan.urls[i % plan.urls.length]!);
    }
  }
  return sum([...relaysOf.values()].map((relays) => relays.size)) / relaysOf.size;
}

function idlePlans(shape: CapacityShape, urls: string[], token: string): WorkerPlan[] {
  const workers = Math.ceil(shape.idleConnections / IDLE_CONNECTIONS_PER_WORKER);
  return split(shape.idleConnections, workers, (_, share) => ({ system: 'partyline', urls, token, connections: share, rooms: ['idle'], subscribe: false }));
}

/**
 * Members of small rooms, all publishing (closed loop, one in flight each), like the bench's scenario
 * b. Worker w puts its connection i in room (i + w) mod rooms, on relay i mod relays: with a room
 * count that is not a multiple of the relay count, a room's members land on different relays.
 */
function roomPlans(shape: CapacityShape, urls: string[], token: string): WorkerPlan[] {
  const rooms = Array.from({ length: shape.rooms }, (_, i) => `capacity-${i}`);
  return split(shape.rooms * shape.roomSize, shape.roomSize / MEMBERS_PER_LOAD_WORKER, (worker, share) => ({
    system: 'partyline',
    urls,
    token,
    connections: share,
    rooms: rooms.map((_, i) => rooms[(i + worker) % rooms.length]!),
    subscribe: true,
    publish: { window: 1, bodyBytes: BODY_BYTES },
  }));
}

export async function capacityRun(shape: CapacityShape, progress: (line: string) => void): Promise<CapacityRunResult> {
  if (shape.roomSize % MEMBERS_PER_LOAD_WORKER !== 0) throw new RangeError(`room size must be a multiple of ${MEMBERS_PER_LOAD_WORKER}`);
  progress(`starting a Redis Cluster of ${shape.shards} masters`);
  const cluster = await startRedisCluster({ masters: shape.shards });
  let relays: ServerProcess[] = [];
  try {
    const redisPids = cluster.nodes.map((node) => node.pid!);
    progress(`starting ${shape.relays} relays on it`);
    relays = await startServers('partyline', shape.relays, { clusterNodes: cluster.addresses }, [], FIXED_YOUNG_GENERATION);
    const relayPids = relays.map((relay) => relay.pid);
    const urls = relays.map((relay) => relay.url);
    const token = await signAccessToken({ sub: 'bench', rooms: ['*'], ttlSeconds: 3600 }, BENCH_SECRET);
    const gc = () => Promise.all(relays.map((relay) => relay.request('gc')));

    // Empty relays and shards first (their own CPU), then idle connections alone (memory and upkeep per connection).
    const heapBefore = sum((await gc()).map((answer) => answer.heapUsed));
    const relayBaseRssBytes = relayPids.map(rssBytes);
    let heapAfter = heapBefore;
    let rssAfter = relayBaseRssBytes;
    progress(`empty: ${shape.idleSeconds} s with no connections`);
    const emptyRelayCpu = cpuWindow(relayPids);
    const emptyRedisCpu = cpuWindow(redisPids);
    emptyRelayCpu.start();
    emptyRedisCpu.start();
    await sleep(shape.idleSeconds * 1000);
    emptyRelayCpu.stop();
    emptyRedisCpu.stop();
    const idleRelayCpu = cpuWindow(relayPids);
    const idleRedisCpu = cpuWindow(redisPids);
    progress(`idle: connecting ${shape.idleConnections.toLocaleString('en-US')} connections, then ${SETTLE_MS / 1000} s to settle`);
    await runWorkers(idlePlans(shape, urls, token), shape.idleSeconds, {
      started: async () => {
        heapAfter = sum((await gc()).map((answer) => answer.heapUsed));
        rssAfter = relayPids.map(rssBytes);
        await sleep(SETTLE_MS);
        idleRelayCpu.start();
        idleRedisCpu.start();
        progress(`idle: connected; measuring upkeep for ${shape.idleSeconds} s`);
      },
      stopped: () => {
        idleRelayCpu.stop();
        idleRedisCpu.stop();
      },
    });
    const aboveEmpty = (rates: number[], empty: number[]) => (sum(rates) - sum(empty)) / shape.idleConnections;
    const idle = {
      connections: shape.idleConnections,
      relayBaseRssBytes,
      relayRssBytesPerConnection: sum(delta(rssAfter, relayBaseRssBytes)) / shape.idleConnections,
      relayHeapBytesPerConnection: (heapAfter - heapBefore) / shape.idleConnections,
      relayCpuMicrosPerSecondEmpty: emptyRelayCpu.rates(),
      redisCpuMicrosPerSecondEmpty: emptyRedisCpu.rates(),
      relayCpuMicrosPerConnectionSecond: aboveEmpty(idleRelayCpu.rates(), emptyRelayCpu.rates()),
      redisCpuMicrosPerConnectionSecond: aboveEmpty(idleRedisCpu.rates(), emptyRedisCpu.rates()),
    };

    // Load phase: the idle connections again, plus small rooms publishing.
    const rooms = roomPlans(shape, urls, token);
    const connections = shape.idleConnections + shape.rooms * shape.roomSize;
    const loadRelayCpu = cpuWindow(relayPids);
    const loadRedisCpu = cpuWindow(redisPids);
    progress(`load: ${shape.idleConnections.toLocaleString('en-US')} idle + ${shape.rooms} rooms × ${shape.roomSize} members publishing, ${shape.loadSeconds} s`);
    const result = await runWorkers([...idlePlans(shape, urls, token), ...rooms], shape.loadSeconds, {
      started: () => {
        loadRelayCpu.start();
        loadRedisCpu.start();
      },
      stopped: () => {
        loadRelayCpu.stop();
        loadRedisCpu.stop();
      },
    });
    const seconds = loadRelayCpu.window.seconds;
    const relayCpu = sum(loadRelayCpu.window.used);
    const upkeep = (sum(idle.relayCpuMicrosPerSecondEmpty) + connections * idle.relayCpuMicrosPerConnectionSecond) * seconds;
    const perDelivered = (micros: number) => (result.delivered ? micros / result.delivered : 0);
    const perPublished = (micros: number) => (result.acked ? micros / result.acked : 0);
    return {
      shape,
      idle,
      load: {
        connections,
        deliveredPerSecond: result.delivered / result.seconds,
        publishedPerSecond: result.acked / result.seconds,
        errors: result.errors,
        p50Ms: result.latency.getValueAtPercentile(50) / 1000,
        p99Ms: result.latency.getValueAtPercentile(99) / 1000,
        relayCpuMicrosPerDeliveredGross: perDelivered(relayCpu),
        relayCpuMicrosPerDelivered: perDelivered(Math.max(0, relayCpu - upkeep)),
        relayCpuShares: loadRelayCpu.window.used.map((micros) => micros / 1e6 / seconds),
        redisCpuMicrosPerPublished: perPublished(sum(loadRedisCpu.window.used)),
        shards: cluster.nodes.map((node, i) => ({
          port: node.port,
          cpuShare: loadRedisCpu.window.used[i]! / 1e6 / loadRedisCpu.window.seconds,
          cpuMicrosPerPublished: perPublished(loadRedisCpu.window.used[i]!),
          cpuMicrosPerDelivered: perDelivered(loadRedisCpu.window.used[i]!),
        })),
        deliveriesPerPublish: result.acked ? result.delivered / result.acked : 0,
        relaysPerRoom: averageRelaysPerRoom(rooms),
      },
    };
  } finally {
    await Promise.all(relays.map((relay) => relay.stop()));
    await cluster.stop();
  }
}

const mean = (values: number[]) => sum(values) / values.length;

/** The model's inputs from a run (a cost within noise of zero can come out a hair below it: counted as zero). */
export function unitCosts(run: CapacityRunResult): UnitCosts {
  return {
    relayBaseRssBytes: mean(run.idle.relayBaseRssBytes),
    relayRssBytesPerConnection: run.idle.relayRssBytesPerConnection,
    relayCpuMicrosPerSecondEmpty: mean(run.idle.relayCpuMicrosPerSecondEmpty),
    redisCpuMicrosPerSecondEmpty: mean(run.idle.redisCpuMicrosPerSecondEmpty),
    relayCpuMicrosPerConnectionSecond: Math.max(0, run.idle.relayCpuMicrosPerConnectionSecond),
    relayCpuMicrosPerDelivered: run.load.relayCpuMicrosPerDelivered,
    redisCpuMicrosPerPublished: run.load.redisCpuMicrosPerPublished,
    redisCpuMicrosPerConnectionSecond: Math.max(0, run.idle.redisCpuMicrosPerConnectionSecond),
    deliveriesPerPublish: run.load.deliveriesPerPublish,
    relaysPerRoom: run.load.relaysPerRoom,
  };
}
