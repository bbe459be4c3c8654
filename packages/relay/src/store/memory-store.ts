import { randomUUID } from 'node:crypto';
import { DEFAULT_DEDUP_RETENTION_MS, DEFAULT_LIMITS, utf8ByteLength, type LogMessage } from '@partyline/protocol';
import { messageBytes, type AppendBatchResult, type AppendInput, type AppendOutcome, type RoomLogStore, type RoomLogStoreOptions, type StoredPage } from './room-log-store.js';

interface MemoryRoom {
  epoch: string;
  /** Last append, for idle eviction. */
  activeAt: number;
  headSeq: number;
  /** Retained messages; `log[i].seq === log[0].seq + i`. */
  log: LogMessage[];
  /** What the retained messages weigh (see messageBytes). */
  bytes: number;
  /** `id|sender` → seq and time first seen (keyed by sender: nobody claims another's id); a Map iterates in insertion order, i.e. oldest first. */
  seen: Map<string, { seq: number; at: number }>;
}

/**
 * The embedded default: one process, nothing to install. Every relay restart starts new epochs,
 * so clients notice the lost history instead of mixing two.
 */
export function createMemoryStore(options: RoomLogStoreOptions = {}): RoomLogStore {
  const dedupRetentionMs = options.dedupRetentionMs ?? DEFAULT_DEDUP_RETENTION_MS;
  // 0 or unset: no limit of that kind.
  const maxMessages = options.retention?.maxMessages || undefined;
  const maxAgeMs = options.retention?.maxAgeMs || undefined;
  const maxBytes = options.retention?.maxBytes || undefined;
  // Idle rooms go once their messages would all have aged out, never before their dedup records.
  const idleMs = maxAgeMs !== undefined ? Math.max(maxAgeMs, dedupRetentionMs) : undefined;
  const now = options.now ?? Date.now;
  const maxPageBytes = options.maxPageBytes ?? DEFAULT_LIMITS.maxPageBytes;
  /** The longest run of `candidates` (taken in order) within the page's byte bound; at least one. */
  const withinBytes = (candidates: LogMessage[]): LogMessage[] => {
    let bytes = 0;
    let count = 0;
    for (const message of candidates) {
      bytes += utf8ByteLength(JSON.stringify([message.id, message.type, message.body, message.sender])) + 64;
      if (bytes > maxPageBytes && count > 0) break;
      count++;
    }
    return candidates.slice(0, count);
  };
  const rooms = new Map<string, MemoryRoom>();
  let sweptAt = now();

  /** Only appends create rooms: reads of unknown rooms leave nothing behind. */
  function roomOf(name: string, at: number): MemoryRoom {
    let room = rooms.get(name);
    if (!room) {
      room = { epoch: randomUUID(), activeAt: at, headSeq: 0, log: [], bytes: 0, seen: new Map() };
      rooms.set(name, room);
    }
    return room;
  }

  /** At most once a minute: drop rooms idle past `idleMs` (like Redis key expiry; they come back as a new epoch). */
  function evictIdle(at: number): void {
    if (idleMs === undefined || at - sweptAt < 60_000) return;
    sweptAt = at;
    for (const [name, room] of rooms) if (at - room.activeAt > idleMs) rooms.delete(name);
  }

  function forgetOldIds(room: MemoryRoom, at: number): void {
    for (const [id, record] of room.seen) {
      if (record.at > at - dedupRetentionMs) break;
      room.seen.delete(id);
    }
  }

  /** Oldest first, past any of the bounds; by bytes, never the newest message. */
  function trimLog(room: MemoryRoom, at: number): void {
    let drop = 0;
    let dropped = 0;
    const due = (message: LogMessage) =>
      (maxMessages !== undefined && room.log.length - drop > maxMessages) ||
      (maxAgeMs !== undefined && message.ts < at - maxAgeMs) ||
      (maxBytes !== undefined && room.bytes - dropped > maxBytes && drop < room.log.length - 1);
    while (drop < room.log.length && due(room.log[drop]!)) dropped += messageBytes(room.log[drop++]!);
    if (drop === 0) return;
    room.log.splice(0, drop);
    room.bytes -= dropped;
  }

  /** A room to read, trimmed to its retention; none if it never existed or went idle (reads create nothing). */
  const readable = (name: string) => {
    const at = now();
    evictIdle(at);
    const room = rooms.get(name);
    if (!room || (idleMs !== undefined && at - room.activeAt > idleMs)) return undefined;
    trimLog(room, at);
    return room;
  };

  return {
    kind: 'memory',

    async append(name: string, messages: readonly AppendInput[], { create = true } = {}): Promise<AppendBatchResult> {
      const ts = now();
      evictIdle(ts);
      if (messages.length === 0) return { epoch: rooms.get(name)?.epoch ?? '', outcomes: [] };
      if (!create && readable(name) === undefined) return { epoch: '', outcomes: [] };
      const room = roomOf(name, ts);
      room.activeAt = ts;
      const outcomes: AppendOutcome[] = [];
      forgetOldIds(room, ts);
      const head = room.log.at(-1);
      const previousId = head && head.seq === room.headSeq ? head.id : undefined;
      for (const input of messages) {
        const key = `${input.id}|${input.sender}`;
        const seen = room.seen.get(key);
        if (seen) {
          const first = room.log[seen.seq - (room.log[0]?.seq ?? 0)];
          const same = !first || first.seq !== seen.seq || (first.type === input.type && first.body === input.body);
          outcomes.push({ status: same ? 'duplicate' : 'conflict', id: input.id, seq: seen.seq });
          continue;
        }
        const message: LogMessage = { seq: ++room.headSeq, id: input.id, type: input.type, body: input.body, sender: input.sender, ts };
        room.log.push(message);
        room.bytes += messageBytes(message);
        room.seen.set(key, { seq: message.seq, at: ts });
        outcomes.push({ status: 'appended', message });
      }
      trimLog(room, ts);
      return { epoch: room.epoch, outcomes, ...(previousId !== undefined ? { previousId } : {}) };
    },

    async read(name: string, since: number, limit: number): Promise<StoredPage> {
      const room = readable(name);
      if (!room) return { room: name, epoch: '', firstSeq: 1, headSeq: 0, messages: [], hasMore: false };
      const firstSeq = room.log[0]?.seq ?? room.headSeq + 1;
      const start = Math.max(0, since + 1 - firstSeq);
      const messages = withinBytes(room.log.slice(start, start + limit));
      const lastSeq = messages.at(-1)?.seq ?? since;
      const sinceId = since >= firstSeq ? room.log[since - firstSeq]?.id : undefined;
      const newest = room.log.at(-1);
      const headId = newest && newest.seq === room.headSeq ? newest.id : undefined;
      return {
        room: name,
        epoch: room.epoch,
        firstSeq,
        headSeq: room.headSeq,
        messages,
        hasMore: lastSeq < room.headSeq,
        ...(sinceId !== undefined ? { sinceId } : {}),
        ...(headId !== undefined ? { headId } : {}),
      };
    },

    async readBefore(name: string, before: number, limit: number): Promise<StoredPage> {
      const room = readable(name);
      if (!room) return { room: name, epoch: '', firstSeq: 1, headSeq: 0, messages: [], hasMore: false, hasOlder: false };
      const firstSeq = room.log[0]?.seq ?? room.headSeq + 1;
      const end = Math.max(0, Math.min(before, room.headSeq + 1) - firstSeq);
      const messages = withinBytes(room.log.slice(Math.max(0, end - limit), end).reverse()).reverse();
      const oldest = messages[0]?.seq ?? Math.min(before, room.headSeq + 1);
      const newest = room.log.at(-1);
      return {
        room: name,
        epoch: room.epoch,
        firstSeq,
        headSeq: room.headSeq,
        messages,
        hasMore: (messages.at(-1)?.seq ?? room.headSeq) < room.headSeq,
        hasOlder: oldest > firstSeq,
        ...(newest && newest.seq === room.headSeq ? { headId: newest.id } : {}),
      };
    },

    async ping() {},

    async close() {
      rooms.clear();
    },
  };
}
