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

(window as unknown as { bench: { run: typeof run } }).bench = { run };
document.title = 'ready';
