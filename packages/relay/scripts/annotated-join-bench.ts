/**
 * How a join's backward page (readBefore(head, 50) with summaries) costs on a long annotated room
 * compared with a short one, on a throwaway redis-server. Run: `npx tsx scripts/annotated-join-bench.ts`
 * from packages/relay (optionally the long room's entry count as argument; default 300000).
 */
import { performance } from 'node:perf_hooks';
import { startRedis } from '@partyline/test-support';
import type { AppendInput } from '../src/store/room-log-store.js';
import { createRedisStore } from '../src/store/redis-store.js';

const BATCH = 1_000;
/** Appends in flight at once (each one script call; Redis runs them one after another). */
const IN_FLIGHT = 8;
/** Reactions per batch: to a random earlier message of the whole history, a few to the newest ones. */
const REACTIONS_PER_BATCH = 20;
const RUNS = 20;
const SENDERS = ['ana', 'bob', 'cy', 'dan'];
const KEYS = ['👍', '🎉', '❤️', '😂', '👀'];

const redis = await startRedis();
const store = createRedisStore({ url: redis.url });

/** Fills `room` with `total` entries: messages, and reactions spread over the history so far. */
async function fill(room: string, total: number): Promise<void> {
  let appended = 0;
  let batchNumber = 0;
  /** Ids of messages in batches that have been acked (only those can be targeted by id). */
  const acked: { id: string; sender: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  while (appended < total) {
    const size = Math.min(BATCH, total - appended);
    const sender = SENDERS[batchNumber % SENDERS.length]!;
    const batch: AppendInput[] = [];
    const sent: { id: string; sender: string }[] = [];
    for (let i = 0; i < size; i++) {
      if (acked.length > 0 && i % Math.floor(BATCH / REACTIONS_PER_BATCH) === 0) {
        // Mostly anywhere in the history; one in five among the newest hundred messages.
        const recent = i % (5 * Math.floor(BATCH / REACTIONS_PER_BATCH)) === 0;
        const index = recent ? acked.length - 1 - Math.floor(Math.random() * Math.min(100, acked.length)) : Math.floor(Math.random() * acked.length);
        const target = acked[index]!;
        const key = KEYS[Math.floor(Math.random() * KEYS.length)]!;
        batch.push({ id: `${room}-x${batchNumber}-${i}`, type: 'pl:react', body: JSON.stringify({ id: target.id, from: target.sender, key }), sender });
      } else {
        const id = `${room}-m${batchNumber}-${i}`;
        batch.push({ id, type: 'chat', body: JSON.stringify({ text: `message ${batchNumber}/${i} with a few words of text` }), sender });
        sent.push({ id, sender });
      }
    }
    appended += size;
    batchNumber++;
    const append: Promise<void> = store.append(room, batch).then(() => {
      acked.push(...sent);
      inFlight.delete(append);
    });
    inFlight.add(append);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

/** Reactions on every other message of the join page too, so the page carries summaries (and `mine` lookups). */
async function reactToNewest(room: string): Promise<void> {
  const page = await store.readBefore(room, Number.MAX_SAFE_INTEGER, 50);
  const targets = page.messages.filter((message, i) => !message.type.startsWith('pl:') && i % 2 === 0);
  for (const sender of SENDERS) {
    const reactions = targets.flatMap((target) =>
      KEYS.slice(0, 3).map((key) => ({ id: `${room}-top-${sender}-${target.seq}-${key}`, type: 'pl:react', body: JSON.stringify({ id: target.id, from: target.sender, seq: target.seq, key }), sender })),
    );
    await store.append(room, reactions);
  }
}

async function medianJoinPage(room: string): Promise<{ ms: number; entries: number; summaries: number }> {
  const times: number[] = [];
  let entries = 0;
  let summaries = 0;
  for (let run = 0; run < RUNS; run++) {
    const startedAt = performance.now();
    const page = await store.readBefore(room, Number.MAX_SAFE_INTEGER, 50, 'ana');
    times.push(performance.now() - startedAt);
    entries = page.messages.length;
    summaries = Object.keys(page.summaries ?? {}).length;
  }
  times.sort((a, b) => a - b);
  return { ms: (times[RUNS / 2 - 1]! + times[RUNS / 2]!) / 2, entries, summaries };
}

try {
  const long = Number(process.argv[2] ?? 300_000);
  const filledAt = performance.now();
  await fill('long', long);
  console.log(`filled ${long} entries in ${((performance.now() - filledAt) / 1000).toFixed(1)} s`);
  await fill('short', 1_000);
  await Promise.all([reactToNewest('long'), reactToNewest('short')]);
  for (const room of ['short', 'long']) {
    const { ms, entries, summaries } = await medianJoinPage(room);
    const head = (await store.read(room, 0, 1)).headSeq;
    console.log(`${room}: head ${head}, readBefore(head, 50): median ${ms.toFixed(2)} ms of ${RUNS}, ${entries} entries, ${summaries} summaries`);
  }
} finally {
  await store.close();
  await redis.stop();
}
