// Bench page: how fast the SDK's IndexedDB outbox takes messages in a real browser. The client points
// at a relay that is not there, so everything stays queued and only the enqueue path is measured.
import { createClient, type OutboxDurability } from '@partyline/sdk';

async function run(count: number, concurrency: number, durability?: OutboxDurability): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const client = createClient({ relays: ['http://127.0.0.1:9'], token: 'unused', dbName: `bench-${concurrency}-${Date.now()}`, ...(durability ? { outboxDurability: durability } : {}) });
  const room = client.room('bench');
  const latenciesMs: number[] = [];
  const started = performance.now();
  for (let sent = 0; sent < count; sent += concurrency) {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, count - sent) }, async (_, i) => {
        const at = performance.now();
        await room.publish('bench', { i: sent + i, text: 'x'.repeat(80) });
        latenciesMs.push(performance.now() - at);
      }),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  await client.close();
  return { perSecond: count / seconds, latenciesMs };
}

/**
 * Sleeps about 1 ms, as a new macrotask. `setTimeout(0)` chained from timer to timer is clamped to
 * 4 ms once nested 5 deep, so every message falling due meanwhile waited up to 4 ms before `publish`
 * was even called (counted as its latency). Scheduling the timer from a MessageChannel task resets
 * the nesting, so 1 ms is 1 ms. Not a MessageChannel spin (a round per task): that keeps one of a
 * two-core machine's cores busy polling, away from the browser's IndexedDB work, and measured a worse
 * p99 than this pause (10,000 and 3,000 msgs/s offered, in memory and on disk).
 */
function createPause(): () => Promise<void> {
  const channel = new MessageChannel();
  let wake: (() => void) | undefined;
  channel.port1.onmessage = () => setTimeout(() => wake?.(), 1);
  return () =>
    new Promise<void>((resolve) => {
      wake = resolve;
      channel.port2.postMessage(undefined);
    });
}

/**
 * Open loop: publishes at `perSecond` on schedule whether or not earlier ones are stored; latency
 * counts from each message's scheduled time, so the wait for its round (≤ 1 ms, more when the
 * page's thread is busy) counts too.
 */
async function runAtRate(count: number, perSecond: number, durability?: OutboxDurability): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const client = createClient({ relays: ['http://127.0.0.1:9'], token: 'unused', dbName: `bench-rate-${Date.now()}`, ...(durability ? { outboxDurability: durability } : {}) });
  const room = client.room('bench');
  const latenciesMs: number[] = [];
  const pending: Promise<void>[] = [];
  const interval = 1000 / perSecond;
  const pause = createPause();
  const started = performance.now();
  let n = 0;
  while (n < count) {
    for (const now = performance.now(); n < count && started + n * interval <= now; n++) {
      const due = started + n * interval;
      pending.push(room.publish('bench', { i: n, text: 'x'.repeat(80) }).then(() => void latenciesMs.push(performance.now() - due)));
    }
    // A macrotask between rounds, so IndexedDB callbacks run; the next round sends whatever fell due
    // meanwhile (at 10,000 msgs/s, rounds of ~10 messages).
    await pause();
  }
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  await client.close();
  return { perSecond: count / seconds, latenciesMs };
}

(window as unknown as { bench: { run: typeof run; runAtRate: typeof runAtRate } }).bench = { run, runAtRate };
document.title = 'ready';
