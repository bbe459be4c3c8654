import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { signAccessToken } from '@partyline/relay';
import type { RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { cpuMicros } from './proc-stats.js';
import type { PresencePlan, PresenceWorkerReport } from './presence-worker.js';
import { BENCH_SECRET, startServers, type ServerProcess } from './systems.js';

const WORKER = fileURLToPath(new URL('./presence-worker.js', import.meta.url));

export interface ChurnScale {
  members: number;
  /** Members per room. */
  roomSize: number;
  /** Each member's pause after each enter or leave is answered, on average. */
  meanPauseMs: number;
  seconds: number;
}

export interface ChurnFigures {
  members: number;
  rooms: number;
  /** Presence changes the relays made (`partyline_presence_changes_total`), per second of the measured window. */
  changesPerSecond: number;
  /** Changes members were told of (each change reaches every member of its room), per second. */
  changesDeliveredPerSecond: number;
  /** The `room:presence` events those came in, per second: one frame on a member's socket each. */
  eventsDeliveredPerSecond: number;
  /** User + system CPU of both relays per change. */
  relayCpuMicrosPerChange: number;
  /** CPU of redis-server per change. */
  redisCpuMicrosPerChange: number;
  /** Redis commands per change (`INFO commandstats`), counting the ones scripts run. */
  redisCommandsPerChange: number;
  /** Of those, script calls (EVALSHA/EVAL) and PUBLISH (the adapter's broadcast to the other relay). */
  redisScriptsPerChange: number;
  redisPublishesPerChange: number;
  /** Every command per change, by name. */
  redisCommandsByName: Record<string, number>;
  errors: number;
}

/** `cmdstat_<name>:calls=N,...` lines of INFO commandstats. */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/** Σ partyline_presence_changes_total over kinds, from a relay's /metrics. */
async function changesMade(server: ServerProcess): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^partyline_presence_changes_total\{[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/gm)) total += Number(match[1]);
  return total;
}

/**
 * (h) presence churn: `members` identities in rooms of `roomSize`, spread over two relays on one
 * Redis, all entered; then each leaves and enters again in turn (a pause after every answer), and
 * the relays' presence changes are set against relay CPU, Redis CPU and Redis commands.
 * Renewals (every 2 s per room and relay) and sweeps (every 1 s per relay) run as they always do,
 * so they are part of the cost per change.
 */
export async function presenceChurn(redisServer: RedisServer, scale: ChurnScale): Promise<ChurnFigures> {
  const redis = new Redis(redisServer.url);
  redis.on('error', () => {});
  await redis.flushall();
  const servers = await startServers('partyline', 2, redisServer.url);
  const workers: ChildProcess[] = [];
  try {
    const rooms = Array.from({ length: Math.ceil(scale.members / scale.roomSize) }, (_, i) => `presence-${i}`);
    const tokens = await Promise.all(Array.from({ length: scale.members }, (_, i) => signAccessToken({ sub: `member-${i}`, rooms: ['*'], ttlSeconds: 3600 }, BENCH_SECRET)));
    // Member j: room j mod R, relays alternating by round (every room has members on both), two workers.
    const plans: PresencePlan[] = [0, 1].map(() => ({ members: [], meanPauseMs: scale.meanPauseMs }));
    tokens.forEach((token, j) => plans[j % 2]!.members.push({ token, room: rooms[j % rooms.length]!, url: servers[Math.floor(j / rooms.length) % 2]!.url }));
    for (const plan of plans) workers.push(fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const next = (worker: ChildProcess, type: string) =>
      new Promise<{ type: string; report?: PresenceWorkerReport }>((resolve, reject) => {
        const onMessage = (message: { type: string; report?: PresenceWorkerReport }) => {
          if (message.type !== type) return;
          worker.off('message', onMessage);
          resolve(message);
        };
        worker.on('message', onMessage);
        worker.once('exit', (code) => reject(new Error(`presence worker exited with ${code} before ${type}`)));
      });
    const ready = workers.map((worker) => next(worker, 'ready'));
    workers.forEach((worker, i) => worker.send(plans[i]!));
    await Promise.all(ready);

    // Churn first, then measure: the first pauses are over and every room is in its steady state.
    for (const worker of workers) worker.send('start');
    await new Promise((resolve) => setTimeout(resolve, Math.max(1000, scale.meanPauseMs * 2)));
    // CPU is read inside the scrapes (after them at the start, before them at the end): serving
    // this measurement's own /metrics and INFO is not counted as presence work.
    const cpu = () => ({
      at: performance.now(),
      relayCpu: servers.reduce((sum, server) => sum + cpuMicros(server.pid), 0),
      redisCpu: redisServer.pid === undefined ? 0 : cpuMicros(redisServer.pid),
    });
    const counts = async () => ({
      calls: await commandCalls(redis),
      changes: (await Promise.all(servers.map(changesMade))).reduce((a, b) => a + b, 0),
    });
    // BENCH_CPU_PROF=<dir>: a CPU profile of each relay over the measured window, as in the other scenarios.
    const profiling = Boolean(process.env.BENCH_CPU_PROF);
    if (profiling) await Promise.all(servers.map((server) => server.request('profile:start')));
    const beforeCounts = await counts();
    const before = { ...beforeCounts, ...cpu() };
    for (const worker of workers) worker.send('measure');
    await new Promise((resolve) => setTimeout(resolve, scale.seconds * 1000));
    const reports = workers.map((worker) => next(worker, 'report'));
    for (const worker of workers) worker.send('stop');
    const afterCpu = cpu();
    const after = { ...afterCpu, ...(await counts()) };
    if (profiling) await Promise.all(servers.map((server) => server.request('profile:stop')));
    const finished = await Promise.all(reports);

    const seconds = (after.at - before.at) / 1000;
    const changes = after.changes - before.changes;
    const perChange = (n: number) => (changes > 0 ? n / changes : 0);
    const byName: Record<string, number> = {};
    let commands = 0;
    for (const [name, calls] of after.calls) {
      if (name === 'info') continue; // this measurement's own
      const delta = calls - (before.calls.get(name) ?? 0);
      if (delta <= 0) continue;
      byName[name] = perChange(delta);
      commands += delta;
    }
    const total = finished.reduce(
      (sum, { report }) => ({ delivered: sum.delivered + report!.changesDelivered, events: sum.events + report!.eventsDelivered, errors: sum.errors + report!.errors }),
      { delivered: 0, events: 0, errors: 0 },
    );
    return {
      members: scale.members,
      rooms: rooms.length,
      changesPerSecond: changes / seconds,
      changesDeliveredPerSecond: total.delivered / seconds,
      eventsDeliveredPerSecond: total.events / seconds,
      relayCpuMicrosPerChange: perChange(after.relayCpu - before.relayCpu),
      redisCpuMicrosPerChange: perChange(after.redisCpu - before.redisCpu),
      redisCommandsPerChange: perChange(commands),
      redisScriptsPerChange: (byName.evalsha ?? 0) + (byName.eval ?? 0),
      redisPublishesPerChange: (byName.publish ?? 0) + (byName.spublish ?? 0),
      redisCommandsByName: byName,
      errors: total.errors,
    };
  } finally {
    // Workers exit by themselves after `stop`; one left behind by a failure is ended after a while.
    await Promise.all(
      workers.map(async (worker) => {
        if (worker.exitCode !== null || worker.signalCode !== null) return;
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        const timer = setTimeout(() => worker.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(servers.map((server) => server.stop()));
    redis.disconnect();
  }
}
