import { randomUUID } from 'node:crypto';
import { DEFAULT_DEDUP_RETENTION_MS, type LogMessage } from '@partyline/protocol';
import type { AppendBatchResult, AppendInput, AppendOutcome, RoomLogStore, RoomLogStoreOptions, StoredPage } from './room-log-store.js';

interface MemoryRoom {
  epoch: string;
  headSeq: number;
  /** Retained messages; `log[i].seq === log[0].seq + i`. */
  log: LogMessage[];
  /** `id|sender` → seq and time first seen (keyed by sender: nobody claims another's id); a Map iterates in insertion order, i.e. oldest first. */
  seen: Map<string, { seq: number; at: number }>;
}

/**
 * The embedded default: one process, nothing to install. Every relay restart starts new epochs,
 * so clients notice the lost history instead of mixing two.
 */
export function createMemoryStore(options: RoomLogStoreOptions = {}): RoomLogStore {
  const dedupRetentionMs = options.dedupRetentionMs ?? DEFAULT_DEDUP_RETENTION_MS;
  const { maxMessages, maxAgeMs } = options.retention ?? {};
  const now = options.now ?? Date.now;
  const rooms = new Map<string, MemoryRoom>();

  function roomOf(name: string): MemoryRoom {
    let room = rooms.get(name);
    if (!room) {
      room = { epoch: randomUUID(), headSeq: 0, log: [], seen: new Map() };
      rooms.set(name, room);
    }
    return room;
  }

  function forgetOldIds(room: MemoryRoom, at: number): void {
    for (const [id, record] of room.seen) {
      if (record.at > at - dedupRetentionMs) break;
      room.seen.delete(id);
    }
  }

  function trimLog(room: MemoryRoom, at: number): void {
    let drop = 0;
    if (maxMessages !== undefined && room.log.length > maxMessages) drop = room.log.length - maxMessages;
    if (maxAgeMs !== undefined) {
      while (drop < room.log.length && room.log[drop]!.ts < at - maxAgeMs) drop++;
    }
    if (drop > 0) room.log.splice(0, drop);
  }

  return {
    kind: 'memory',

    async append(name: string, messages: readonly AppendInput[]): Promise<AppendBatchResult> {
      const room = roomOf(name);
      const ts = now();
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
        room.seen.set(key, { seq: message.seq, at: ts });
        outcomes.push({ status: 'appended', message });
      }
      trimLog(room, ts);
      return { epoch: room.epoch, outcomes, ...(previousId !== undefined ? { previousId } : {}) };
    },

    async read(name: string, since: number, limit: number): Promise<StoredPage> {
      const room = roomOf(name);
      trimLog(room, now());
      const firstSeq = room.log[0]?.seq ?? room.headSeq + 1;
      const start = Math.max(0, since + 1 - firstSeq);
      const messages = room.log.slice(start, start + limit);
      const lastSeq = messages.at(-1)?.seq ?? since;
      const sinceId = since >= firstSeq ? room.log[since - firstSeq]?.id : undefined;
      return { room: name, epoch: room.epoch, firstSeq, headSeq: room.headSeq, messages, hasMore: lastSeq < room.headSeq, ...(sinceId !== undefined ? { sinceId } : {}) };
    },

    async ping() {},

    async close() {
      rooms.clear();
    },
  };
}
