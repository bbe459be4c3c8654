import type { RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { median } from './stats.js';

/** What Redis did about its AOF over one measured window. */
export interface RedisWindow {
  appendfsync: string;
  /** `aof_delayed_fsync` growth: writes Redis postponed because the background fsync was still running (everysec). */
  delayedFsyncs: number;
  /** AOF rewrites started in the window (a fork and a child rewriting the file). */
  rewrites: number;
  /** A rewrite was running when the window began or ended. */
  rewriteInProgress: boolean;
  /** AOF size at the end, MB. */
  aofMb: number;
  /** redis-server CPU (user + sys) over the window, ms. */
  cpuMs: number;
  /** Latency monitor events (threshold 1 ms) in the window: name → worst ms and in how many seconds it happened (one sample a second). */
  latencyEvents: Record<string, { maxMs: number; seconds: number }>;
}

const field = (info: string, name: string) => info.match(new RegExp(`^${name}:(.*)$`, 'm'))?.[1]?.trim() ?? '';
const cpuMs = (info: string) => (Number(field(info, 'used_cpu_user')) + Number(field(info, 'used_cpu_sys'))) * 1000;

/** The latency monitor notes every event of ≥ 1 ms (AOF write, fsync, fork, …). */
const LATENCY_THRESHOLD_MS = 1;

/**
 * Watches Redis's AOF over a measured window: `start` resets the latency monitor and notes the
 * counters, `stop` answers their change. The bench Redis's own view, so a slow window can be told
 * apart from a slow relay: a background fsync stalling writes (`aof_delayed_fsync`, the
 * `aof-write-pending-fsync` event), an AOF rewrite, or none of these.
 */
export async function watchRedis(server: RedisServer): Promise<{ stop(): Promise<RedisWindow> }> {
  const redis = new Redis(server.url);
  redis.on('error', () => {});
  await redis.config('SET', 'latency-monitor-threshold', String(LATENCY_THRESHOLD_MS));
  await redis.latency('RESET');
  const before = (await redis.info('persistence')) + (await redis.info('cpu'));
  return {
    async stop() {
      try {
        const after = (await redis.info('persistence')) + (await redis.info('cpu'));
        const events = (await redis.latency('LATEST')) as [string, number, number, number][];
        const latencyEvents: RedisWindow['latencyEvents'] = {};
        for (const [name] of events) {
          const history = (await redis.latency('HISTORY', name)) as [number, number][];
          latencyEvents[name] = { maxMs: Math.max(...history.map(([, ms]) => ms)), seconds: history.length };
        }
        const count = (info: string, name: string) => Number(field(info, name)) || 0;
        return {
          appendfsync: ((await redis.config('GET', 'appendfsync')) as string[])[1] ?? '',
          delayedFsyncs: count(after, 'aof_delayed_fsync') - count(before, 'aof_delayed_fsync'),
          rewrites: count(after, 'aof_rewrites') - count(before, 'aof_rewrites'),
          rewriteInProgress: count(before, 'aof_rewrite_in_progress') + count(after, 'aof_rewrite_in_progress') > 0,
          aofMb: count(after, 'aof_current_size') / 1_048_576,
          cpuMs: cpuMs(after) - cpuMs(before),
          latencyEvents,
        };
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** One line for a contender's windows: the AOF counters summed, the latency monitor's worst per event. */
export function describeWindows(windows: readonly RedisWindow[]): string {
  const events = new Map<string, { maxMs: number; seconds: number }>();
  for (const window of windows) {
    for (const [name, event] of Object.entries(window.latencyEvents)) {
      const seen = events.get(name) ?? { maxMs: 0, seconds: 0 };
      events.set(name, { maxMs: Math.max(seen.maxMs, event.maxMs), seconds: seen.seconds + event.seconds });
    }
  }
  const sum = (pick: (window: RedisWindow) => number) => windows.reduce((total, window) => total + pick(window), 0);
  const latency = [...events].map(([name, event]) => `${name} ≤ ${event.maxMs} ms in ${event.seconds} s`).join(', ') || `none ≥ ${LATENCY_THRESHOLD_MS} ms`;
  const rewriting = windows.some((window) => window.rewriteInProgress) ? ' (one in progress at a window edge)' : '';
  return `${windows.length} window${windows.length === 1 ? '' : 's'}, aof_delayed_fsync +${sum((w) => w.delayedFsyncs)}, AOF rewrites ${sum((w) => w.rewrites)}${rewriting}, Redis CPU median ${median(windows.map((window) => window.cpuMs)).toFixed(0)} ms per window; latency monitor: ${latency}`;
}
