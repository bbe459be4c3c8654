import { ServerEvent, type ReadPosition } from '@partyline/protocol';
import type { RelayServer } from './connection.js';

/*
 * Read positions travel as `room:reads` through Socket.IO rooms of their own, so the adapter carries
 * them to every relay like presence and signals: `<room>#receipts` holds the room's members whose
 * token grants `receipts`, `#u:<sub>` every joined connection of one user (its other tabs and
 * devices). A room name never holds `#`, so these never collide with a room.
 */

/** The Socket.IO room of a room's members that may see receipts. */
export function receiptsRoomOf(room: string): string {
  return `${room}#receipts`;
}

/** The Socket.IO room of one user's connections (joined with its first room). */
export function userRoomOf(sub: string): string {
  return `#u:${sub}`;
}

/** Whether a Socket.IO room is one of the above rather than a Partyline room. */
export function isReadsRoom(name: string): boolean {
  return name.includes('#');
}

/** Tells the room's receipt watchers, and every connection of each reader, that these positions moved (each once per socket). */
export function announceReads(io: Pick<RelayServer, 'to'>, room: string, reads: readonly ReadPosition[]): void {
  if (reads.length === 0) return;
  let target = io.to(receiptsRoomOf(room));
  for (const { sub } of reads) target = target.to(userRoomOf(sub));
  target.emit(ServerEvent.Reads, { room, reads: [...reads] });
}

/**
 * On a Redis Cluster the sharded adapter subscribes one channel per room a relay has sockets in, for
 * broadcasts to that room alone. Reads rooms are only ever emitted to together (a room's watchers
 * and its readers), which goes over the namespace's channel: a subscription per user and room would
 * never carry anything, so they get none.
 */
export function withoutReadsRoomChannels<Adapter extends object>(createAdapter: (nsp: unknown) => Adapter): (nsp: unknown) => Adapter {
  // A function, not an arrow: Socket.IO calls it with `new` (an object it returns is the instance).
  return function readsRoomsOnNamespaceChannel(nsp) {
    const adapter = createAdapter(nsp) as Adapter & { shouldUseASeparateNamespace(room: string): boolean };
    const separate = adapter.shouldUseASeparateNamespace.bind(adapter);
    adapter.shouldUseASeparateNamespace = (room) => !isReadsRoom(room) && separate(room);
    return adapter;
  };
}
