import type { RelayMetrics } from '../metrics.js';
import type { RoomLogStore } from './room-log-store.js';

/** Wraps a store so every call is timed and its outcomes counted, without the store knowing. */
export function instrumentStore(store: RoomLogStore, metrics: RelayMetrics): RoomLogStore {
  return {
    kind: store.kind,
    async append(room, messages) {
      const stop = metrics.storeSeconds.startTimer({ op: 'append' });
      const result = await store.append(room, messages).finally(() => stop());
      let appended = 0;
      let duplicates = 0;
      for (const outcome of result.outcomes) {
        if (outcome.status === 'appended') appended++;
        else if (outcome.status === 'duplicate') duplicates++;
      }
      metrics.published.inc(appended);
      metrics.dedupHits.inc(duplicates);
      return result;
    },
    async read(room, since, limit) {
      const stop = metrics.storeSeconds.startTimer({ op: 'read' });
      const page = await store.read(room, since, limit).finally(() => stop());
      metrics.catchUpMessages.inc(page.messages.length);
      return page;
    },
    async readBefore(room, before, limit) {
      const stop = metrics.storeSeconds.startTimer({ op: 'read_before' });
      const page = await store.readBefore(room, before, limit).finally(() => stop());
      metrics.catchUpMessages.inc(page.messages.length);
      return page;
    },
    async ping() {
      const stop = metrics.storeSeconds.startTimer({ op: 'ping' });
      await store.ping().finally(() => stop());
    },
    close: () => store.close(),
  };
}
