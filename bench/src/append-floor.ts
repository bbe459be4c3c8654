import type { RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { watchForeignCpu } from './proc-stats.js';

export interface FloorFigures {
  p50Ms: number;
  p99Ms: number;
  appends: number;
  /** Share of the machine's CPU that processes outside this bench used meanwhile (0–1). */
  foreignCpuShare: number;
}

/** The least a durable append can be: one XADD in a script (EVALSHA, as the relay appends), nothing else. */
const BARE_APPEND = "return redis.call('XADD', KEYS[1], '*', 'b', ARGV[1])";

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;

/**
 * (c) the floor under a publish's latency: bare durable appends (one `EVALSHA` of an XADD, one
 * round trip to the same Redis under its current `appendfsync`) at `ratePerSecond` for `seconds`,
 * open loop like the load worker — latency from each append's scheduled time to its reply. The
 * first `warmUpSeconds` of appends are not counted, as the load workers do not count theirs.
 */
export async function appendFloor(redisServer: RedisServer, ratePerSecond: number, seconds: number, bodyBytes: number, warmUpSeconds = 0): Promise<FloorFigures> {
  const redis = new Redis(redisServer.url);
  redis.on('error', () => {});
  try {
    const sha = (await redis.script('LOAD', BARE_APPEND)) as string;
    const body = 'x'.repeat(bodyBytes);
    const latencies: number[] = [];
    const pending: Promise<unknown>[] = [];
    const interval = 1000 / ratePerSecond;
    const foreignCpu = watchForeignCpu(process.pid);
    const start = performance.now();
    const measuredFrom = start + warmUpSeconds * 1000;
    const end = measuredFrom + seconds * 1000;
    let n = 0;
    while (performance.now() < end) {
      for (const due = performance.now(); start + n * interval <= due; n++) {
        const dueAt = start + n * interval;
        const reply = redis.evalsha(sha, 1, 'bench-floor', body);
        pending.push(dueAt < measuredFrom ? reply : reply.then(() => void latencies.push(performance.now() - dueAt)));
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, start + n * interval - performance.now())));
    }
    await Promise.all(pending);
    const foreignCpuShare = foreignCpu();
    latencies.sort((a, b) => a - b);
    return { p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), appends: latencies.length, foreignCpuShare };
  } finally {
    redis.disconnect();
  }
}
