import { performance } from 'node:perf_hooks';
import type { RelayMetrics } from '../metrics.js';
import type { RoomLogStore } from './room-log-store.js';

/** Wraps a store so every call is timed and its outcomes counted, without the store knowing. */
export function instrumentStore(store: RoomLogStore, metrics: RelayMetrics): RoomLogStore {
  // Children bound once: an append is on every publish's path, and label lookups per call add up.
  const seconds = {
    append: metrics.storeSeconds.labels('append'),
    read: metrics.storeSeconds.labels('read'),
    readBefore: metrics.storeSeconds.labels('read_before'),
    ping: metrics.storeSeconds.labels('ping'),
  };
  async function timed<T>(histogram: { observe(value: number): void }, operation: Promise<T>): Promise<T> {
    const startedAt = performance.now();
    try {
      return await operation;
    } finally {
      histogram.observe((performance.now() - startedAt) / 1000);
    }
  }
  return {
    kind: store.kind,
    async append(room, messages, options) {
      const result = await timed(seconds.append, store.append(room, messages, options));
      let appended = 0;
      let duplicates = 0;
      for (const outcome of result.outcomes) {
        if (outcome.status === 'appended') appended++;
        else if (outcome.status === 'duplicate') duplicates++;
      }
      if (appended > 0) metrics.published.inc(appended);
      if (duplicates > 0) metrics.dedupHits.inc(duplicates);
      return result;
    },
    async read(room, since, limit, caller) {
      const page = await timed(seconds.read, store.read(room, since, limit, caller));
      metrics.catchUpMessages.inc(page.messages.length);
      return page;
    },
    async readBefore(room, before, limit, caller) {
      const page = await timed(seconds.readBefore, store.readBefore(room, before, limit, caller));
      metrics.catchUpMessages.inc(page.messages.length);
      return page;
    },
    readState: (room, sub) => store.readState(room, sub),
    receipts: (room, limit) => store.receipts(room, limit),
    noteUserRoom: (sub, room) => store.noteUserRoom(sub, room),
    userRooms: (sub) => store.userRooms(sub),
    async ping() {
      await timed(seconds.ping, store.ping());
    },
    close: () => store.close(),
  };
}
