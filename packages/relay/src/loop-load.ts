import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** How often the utilisation is recomputed: long enough to be steady, short enough to follow a burst. */
const SAMPLE_MS = 100;
/** Above this share of time spent running callbacks, the loop counts as busy. */
const BUSY_UTILIZATION = 0.5;

let sampledAt = 0;
let previous: EventLoopUtilization = performance.eventLoopUtilization();
let busy = false;

/**
 * Whether this process's event loop was busy over the last ~100 ms (event-loop utilisation above
 * one half). Sampled lazily when asked, so an idle relay runs no timer for it.
 */
export function loopIsBusy(): boolean {
  const now = performance.now();
  if (now - sampledAt >= SAMPLE_MS) {
    const current = performance.eventLoopUtilization();
    busy = performance.eventLoopUtilization(current, previous).utilization > BUSY_UTILIZATION;
    previous = current;
    sampledAt = now;
  }
  return busy;
}
