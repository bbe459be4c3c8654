// Bench page: how fast the SDK's IndexedDB outbox takes messages in a real browser. The client points
// at a relay that is not there, so everything stays queued and only the enqueue path is measured.
import { createClient } from '@partyline/sdk';

async function run(count: number, concurrency: number): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const client = createClient({ relays: ['http://127.0.0.1:9'], token: 'unused', dbName: `bench-${concurrency}-${Date.now()}` });
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

/** Open loop: publishes at `perSecond` on schedule whether or not earlier ones are stored; latency counts from the scheduled time. */
async function runAtRate(count: number, perSecond: number): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const client = createClient({ relays: ['http://127.0.0.1:9'], token: 'unused', dbName: `bench-rate-${Date.now()}` });
  const room = client.room('bench');
  const latenciesMs: number[] = [];
  const pending: Promise<void>[] = [];
  const interval = 1000 / perSecond;
  const started = performance.now();
  let n = 0;
  while (n < count) {
    for (const now = performance.now(); n < count && started + n * interval <= now; n++) {
      const due = started + n * interval;
      pending.push(room.publish('bench', { i: n, text: 'x'.repeat(80) }).then(() => void latenciesMs.push(performance.now() - due)));
    }
    // A macrotask between rounds, so IndexedDB callbacks run; the next round sends whatever fell due
    // meanwhile (browsers clamp nested timers to 4 ms: rounds of ~40 messages, as an app's bursts would be).
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  await client.close();
  return { perSecond: count / seconds, latenciesMs };
}

(window as unknown as { bench: { run: typeof run; runAtRate: typeof runAtRate } }).bench = { run, runAtRate };
document.title = 'ready';
