import type { ReadPosition, Room } from '@partyline/sdk';
import { useStore } from './use-store.js';

interface ReceiptsStore {
  subscribe(onChange: () => void): () => void;
  get(): readonly ReadPosition[];
}

const stores = new WeakMap<Room, ReceiptsStore>();

/** The one receipts store of `room`: its snapshot is a new array only when a position moved. */
function receiptsOf(room: Room): ReceiptsStore {
  let store = stores.get(room);
  if (store) return store;
  let snapshot: readonly ReadPosition[] = room.receipts();
  const refresh = () => {
    const next = room.receipts();
    if (next.length !== snapshot.length || next.some((position, index) => position.sub !== snapshot[index]!.sub || position.seq !== snapshot[index]!.seq)) snapshot = next;
  };
  store = {
    subscribe(onChange) {
      refresh(); // it may have moved while no one listened
      const changed = () => {
        refresh();
        onChange();
      };
      // A join (again) brings the positions afresh; a reset of the log starts them over.
      const stops = [room.on('read', changed), room.on('joined', changed), room.on('reset', changed)];
      return () => stops.forEach((stop) => stop());
    },
    get: () => snapshot,
  };
  stores.set(room, store);
  return store;
}

/**
 * How far the members of `room` have read (`room.receipts()`: furthest first, the relay keeps the
 * 100 furthest), re-rendering when a position moves (`read` events). Needs the token's `receipts`
 * grant in the room (without it the list stays empty, apart from this user's own other tabs).
 * "Seen by" under a message: the members whose `seq` is at or past its seq.
 *
 * @example
 * const receipts = useReadReceipts(room);
 * const seenBy = receipts.filter((r) => r.seq >= newest.seq && r.sub !== me).map((r) => nameOf(r.sub));
 */
export function useReadReceipts(room: Room): readonly ReadPosition[] {
  const store = receiptsOf(room);
  return useStore(room, store.subscribe, store.get);
}
