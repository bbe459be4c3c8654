// Bench page: how fast the SDK's IndexedDB outbox takes messages in a real browser. The client points
// at a relay that is not there, so everything stays queued and only the enqueue path is measured.
import { createClient, type OutboxDurability } from '@partyline/sdk';

/**
 * The bench room once the client's database is open: an app opens its client once per page, so the
 * one-off creation of the database (tens of ms) is not counted as enqueue latency.
 */
async function openedRoom(client: ReturnType<typeof createClient>) {
  const room = client.room('bench');
  await room.pending();
  return room;
}

async function run(count: number, concurrency: number, durability?: OutboxDurability): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const client = createClient({ relays: ['http://127.0.0.1:9'], token: 'unused', dbName: `bench-${concurrency}-${Date.now()}`, ...(durability ? { outboxDurability: durability } : {}) });
  const room = await openedRoom(client);
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
 * Open loop: offers `count` messages at `perSecond` on schedule whether or not earlier ones are
 * stored; latency counts from each message's scheduled time, so the wait for its round (≤ 1 ms,
 * more when the page's thread is busy) counts too. `offerRound` gets the indexes due in a round.
 */
async function openLoop(count: number, perSecond: number, offerRound: (indexes: number[]) => Promise<void>[]): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const latenciesMs: number[] = [];
  const pending: Promise<void>[] = [];
  const interval = 1000 / perSecond;
  const pause = createPause();
  const started = performance.now();
  let n = 0;
  while (n < count) {
    const due: number[] = [];
    for (const now = performance.now(); n < count && started + n * interval <= now; n++) due.push(n);
    offerRound(due).forEach((stored, k) => {
      const dueAt = started + due[k]! * interval;
      pending.push(stored.then(() => void latenciesMs.push(performance.now() - dueAt)));
    });
    // A macrotask between rounds, so IndexedDB callbacks run; the next round sends whatever fell due
    // meanwhile (at 10,000 msgs/s, rounds of ~10 messages).
    await pause();
  }
  await Promise.all(pending);
  return { perSecond: count / ((performance.now() - started) / 1000), latenciesMs };
}

/** The SDK at a fixed offered rate: each message one `publish`. */
async function runAtRate(count: number, perSecond: number, durability?: OutboxDurability): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const client = createClient({ relays: ['http://127.0.0.1:9'], token: 'unused', dbName: `bench-rate-${Date.now()}`, ...(durability ? { outboxDurability: durability } : {}) });
  const room = await openedRoom(client);
  const result = await openLoop(count, perSecond, (indexes) => indexes.map((i) => room.publish('bench', { i, text: 'x'.repeat(80) }).then(() => undefined)));
  await client.close();
  return result;
}

/**
 * The floor under the SDK: the same offered rate written by hand with IndexedDB alone — each
 * round's messages one record in one relaxed transaction, no SDK, no ids, no tabs. What this
 * browser on this machine allows at best.
 */
async function rawAtRate(count: number, perSecond: number): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(`bench-raw-${Date.now()}`, 1);
    request.onupgradeneeded = () => request.result.createObjectStore('outbox', { keyPath: ['room', 'id'] });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const result = await openLoop(count, perSecond, (indexes) => {
    if (indexes.length === 0) return [];
    const tx = db.transaction('outbox', 'readwrite', { durability: 'relaxed' });
    const entries = indexes.map((i) => ({ id: `raw-${i}`, room: 'bench', type: 'bench', body: JSON.stringify({ i, text: 'x'.repeat(80) }), createdAt: Date.now(), attempts: 0 }));
    tx.objectStore('outbox').add({ room: 'bench', id: entries[0]!.id, entries });
    tx.commit();
    const stored = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error);
    });
    return indexes.map(() => stored);
  });
  db.close();
  return result;
}

(window as unknown as { bench: { run: typeof run; runAtRate: typeof runAtRate; rawAtRate: typeof rawAtRate } }).bench = { run, runAtRate, rawAtRate };
document.title = 'ready';
