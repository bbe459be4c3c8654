/**
 * A relay that answers more than the SDK asked for (production-deployment finding: a 20,001-message
 * page grew the heap by 160 MB and stayed in the IndexedDB cache after a reload). The SDK refuses a
 * page longer than its request or larger than `maxPageBytes` as a `protocol_violation` — told to the
 * app with the room's `error` event, never cached or handed over — retries, and recovers once the
 * relay behaves. A live event over a page's bounds is not held either: the log is read instead.
 * The relay is faked at the transport; the cache is the real one over fake-indexeddb.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { LogMessage } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { openDatabase } from '../src/database.js';
import { createInboxStore } from '../src/inbox-store.js';
import type { PartylineError, RoomOptions } from '../src/index.js';
import { createScheduler, type Scheduler } from '../src/scheduler.js';
import { fakeRelayRoom, takeRequest } from './support/fake-relay-room.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const OVERSIZED = 20_001;
/** A message of its own ~1 KB body (no two share their text, as none would over a real socket). */
const bulky = (seq: number): LogMessage => ({ seq, id: `m${seq}`, type: 'chat', body: JSON.stringify({ seq, pad: 'x'.repeat(1_000) }), sender: 'mallory', ts: 0 });
const page = (messages: LogMessage[], headSeq = messages.at(-1)?.seq ?? 0) => ({ ok: true, room: 'r', epoch: 'e1', firstSeq: 1, headSeq, hasMore: false, messages });
const run = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => bulky(from + i));
const heapUsed = () => (gc(), gc(), process.memoryUsage().heapUsed);

let scheduler: Scheduler;
beforeEach(() => void (scheduler = createScheduler(systemClock, () => 10)));
afterEach(() => scheduler.close());

async function cachedRoom(name: string, options: RoomOptions = {}) {
  const database = openDatabase(new IDBFactory(), name);
  const inbox = createInboxStore(() => database);
  const cached = async () => (await database).count('inbox', IDBKeyRange.bound(['r', 0], ['r', Number.MAX_SAFE_INTEGER]));
  const { room, asked } = fakeRelayRoom(scheduler, { inbox, pageSize: 100, ...options });
  const handed: number[] = [];
  const errors: PartylineError[] = [];
  room.on('message', ({ seq }) => handed.push(seq));
  room.on('error', ({ error }) => errors.push(error));
  await room.history();
  room._connected();
  return { room, asked, handed, errors, cached, close: async () => (room._close(), await room._idle(), (await database).close()) };
}

describe('a relay answering more than was asked for', () => {
  it(`refuses a ${OVERSIZED}-message page with a typed error, caches and hands none of it, and recovers when the relay behaves`, async () => {
    const { room, asked, handed, errors, cached, close } = await cachedRoom('page-bounds-count');
    const before = heapUsed();
    // Built and answered in here, then dropped (an answered request keeps its answer): only the SDK could keep it alive.
    await (async () => {
      const join = await takeRequest(asked, 'the join');
      expect(join.payload).toMatchObject({ room: 'r', limit: 100 });
      join.answer(page(run(1, OVERSIZED)));
    })();
    await waitFor(() => errors.length > 0 || handed.length > 0, 'the page decided');
    const retry = await takeRequest(asked, 'the retry').catch(() => undefined);
    await room._idle();
    const grown = heapUsed() - before;
    console.log(`[page-bounds] heap after a refused ${OVERSIZED}-message page (~${(OVERSIZED * 1_100) >> 20} MB): ${(grown / 2 ** 20).toFixed(1)} MB grown, ${await cached()} messages cached`);

    expect(handed).toEqual([]);
    expect(await cached()).toBe(0);
    expect(grown).toBeLessThan(8 * 2 ** 20);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ kind: 'protocol_violation', retryable: true });

    // The relay behaves again: the retry is answered with a page as asked, and the room goes on.
    expect(retry?.payload).toMatchObject({ room: 'r', limit: 100 });
    retry!.answer(page(run(1, 100)));
    await waitFor(() => handed.length === 100, 'the proper page');
    expect(handed).toEqual(run(1, 100).map(({ seq }) => seq));
    await waitFor(async () => (await cached()) === 100, 'the proper page cached');
    await close();
  });

  it('refuses a page within the count but over maxPageBytes the same way', async () => {
    const { asked, handed, errors, cached, close } = await cachedRoom('page-bounds-bytes');
    const huge = { ...bulky(1), body: 'x'.repeat(3 * 2 ** 20) };
    (await takeRequest(asked, 'the join')).answer(page([huge]));
    await waitFor(() => errors.length > 0 || handed.length > 0, 'the page decided');
    expect(handed).toEqual([]);
    expect(errors[0]).toMatchObject({ kind: 'protocol_violation' });
    (await takeRequest(asked, 'the retry')).answer(page([bulky(1)]));
    await waitFor(() => handed.length === 1, 'the proper page');
    expect(await cached()).toBe(1);
    await close();
  });

  it('does not hold a live event of more messages than a page: it reads the log instead, in pages as asked', async () => {
    const { room, asked, handed, cached, close } = await cachedRoom('page-bounds-live');
    (await takeRequest(asked, 'the join')).answer(page(run(1, 2)));
    await waitFor(() => handed.length === 2, 'caught up');
    // Under the buffer's own bound (10,000 waiting messages), over a page's (500, a default relay's).
    room._messages({ room: 'r', epoch: 'e1', messages: run(3, 5_002) });
    const read = await takeRequest(asked, 'the read instead');
    expect(read.payload).toMatchObject({ room: 'r', since: 2, limit: 100 });
    expect(handed).toEqual([1, 2]);
    expect(await cached()).toBe(2);
    read.answer({ ...page(run(3, 102), 5_002), hasMore: true });
    await waitFor(() => handed.length === 102, 'the next page');
    expect(handed.at(-1)).toBe(102);
    await close();
  });

  it('rejects a loadOlder() page longer than asked for, and caches none of it', async () => {
    const { room, asked, handed, cached, close } = await cachedRoom('page-bounds-older', { from: { last: 1 } });
    const join = await takeRequest(asked, 'the join');
    expect(join.payload).toEqual({ room: 'r', last: 1 });
    join.answer({ ...page([bulky(500)]), hasOlder: true });
    await waitFor(() => handed.length === 1, 'the window');
    const older = room.loadOlder(10);
    const read = await takeRequest(asked, 'the loadOlder read', (request) => 'before' in request.payload);
    expect(read.payload).toMatchObject({ before: 500, limit: 10 });
    read.answer({ ...page(run(1, 499), 500), hasOlder: false });
    await expect(older).rejects.toMatchObject({ kind: 'protocol_violation' });
    expect(await cached()).toBe(1);
    await close();
  });
});
