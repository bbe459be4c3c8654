import { randomUUID } from 'node:crypto';
import {
  AnnotationType,
  DEFAULT_DEDUP_RETENTION_MS,
  DEFAULT_LIMITS,
  MAX_REACTION_KEYS,
  isReservedType,
  utf8ByteLength,
  type AnnotationTarget,
  type LogMessage,
  type MessageSummary,
  type ReadPosition,
} from '@partyline/protocol';
import {
  USER_ROOMS_MAX,
  USER_ROOMS_RETENTION_MS,
  messageBytes,
  refusal,
  type AppendBatchResult,
  type AppendInput,
  type AppendOutcome,
  type RoomLogStore,
  type RoomLogStoreOptions,
  type StoredPage,
} from './room-log-store.js';

/** What the relay keeps of an annotated message (see MessageSummary); reactions hold who reacted. */
interface HeldSummary {
  body?: string;
  editedAt?: number;
  deleted?: true;
  reactions: Map<string, Set<string>>;
}

/** What a summary adds to a page (as JSON, with its key and a `mine` flag per reaction). */
function summaryBytes(summary: HeldSummary | undefined): number {
  if (!summary) return 0;
  let bytes = 64 + (summary.body !== undefined ? utf8ByteLength(JSON.stringify(summary.body)) : 0);
  for (const key of summary.reactions.keys()) bytes += utf8ByteLength(key) + 40;
  return bytes;
}

interface MemoryRoom {
  epoch: string;
  /** Last append, for idle eviction. */
  activeAt: number;
  headSeq: number;
  /** Retained messages; `log[i].seq === log[0].seq + i`. */
  log: LogMessage[];
  /** What the retained messages weigh (see messageBytes). */
  bytes: number;
  /**
   * `id|sender` → seq and time first seen (keyed by sender: nobody claims another's id); a Map
   * iterates in insertion order, i.e. oldest first. A noop annotation records its target's seq and
   * its own content (it has no log entry to compare a resend with).
   */
  seen: Map<string, { seq: number; at: number; noop?: { type: string; body: string } }>;
  /** Summaries of annotated messages, by seq. */
  summaries: Map<number, HeldSummary>;
  /** Seqs of the retained annotations, ascending (unread counts leave them out). */
  annotationSeqs: number[];
  /** Read positions by sub. */
  reads: Map<string, number>;
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
  /**
   * The longest run of `candidates` (taken in order) within the page's byte bound, each message
   * weighed with its summary (an edited body travels in it); at least one.
   */
  const withinBytes = (room: MemoryRoom, candidates: LogMessage[]): LogMessage[] => {
    let bytes = 0;
    let count = 0;
    for (const message of candidates) {
      bytes += utf8ByteLength(JSON.stringify([message.id, message.type, message.body, message.sender])) + 64 + summaryBytes(room.summaries.get(message.seq));
      if (bytes > maxPageBytes && count > 0) break;
      count++;
    }
    return candidates.slice(0, count);
  };
  const rooms = new Map<string, MemoryRoom>();
  /** Per user: rooms by when the user was last active there, oldest first. */
  const userRooms = new Map<string, Map<string, number>>();
  let sweptAt = now();

  /** Only appends create rooms: reads of unknown rooms leave nothing behind. */
  function roomOf(name: string, at: number): MemoryRoom {
    let room = rooms.get(name);
    if (!room) {
      room = { epoch: randomUUID(), activeAt: at, headSeq: 0, log: [], bytes: 0, seen: new Map(), summaries: new Map(), annotationSeqs: [], reads: new Map() };
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
    while (drop < room.log.length && due(room.log[drop]!)) {
      room.summaries.delete(room.log[drop]!.seq);
      dropped += messageBytes(room.log[drop++]!);
    }
    if (drop === 0) return;
    room.log.splice(0, drop);
    room.bytes -= dropped;
    const firstSeq = room.log[0]?.seq ?? room.headSeq + 1;
    room.annotationSeqs.splice(0, countBelow(room.annotationSeqs, firstSeq));
  }

  const entryAt = (room: MemoryRoom, seq: number): LogMessage | undefined => room.log[seq - (room.log[0]?.seq ?? 0)];

  /** The message an annotation names, if the log holds it: by seq when given, else by the dedup record of `id|from`. */
  function targetOf(room: MemoryRoom, target: AnnotationTarget, sender: string): LogMessage | undefined {
    const from = target.from ?? sender;
    let seq = target.seq;
    if (seq === undefined) {
      const seen = room.seen.get(`${target.id}|${from}`);
      if (!seen || seen.noop) return undefined;
      seq = seen.seq;
    }
    const entry = entryAt(room, seq);
    if (!entry || entry.seq !== seq || isReservedType(entry.type) || entry.id !== target.id || entry.sender !== from) return undefined;
    return entry;
  }

  /**
   * The rules of one annotation (edit, delete, react, unreact) against the room's summaries: changes
   * them and answers 'append', or answers the noop/refusal (nothing changed).
   */
  function annotate(room: MemoryRoom, input: AppendInput, ts: number, moderate: boolean): AppendOutcome | 'append' {
    const fields = JSON.parse(input.body) as AnnotationTarget & { id: string; body?: string; key?: string };
    const target = targetOf(room, fields, input.sender);
    if (!target) return refusal(input.id, 'not_found', fields.id);
    const summary = room.summaries.get(target.seq);
    if (summary?.deleted) {
      if (input.type === AnnotationType.Delete) return { status: 'noop', id: input.id, seq: target.seq };
      return refusal(input.id, 'message_deleted', target.id);
    }
    const held = summary ?? { reactions: new Map<string, Set<string>>() };
    if (input.type === AnnotationType.Edit || input.type === AnnotationType.Delete) {
      if (target.sender !== input.sender && !moderate) return refusal(input.id, 'forbidden', target.id);
      if (input.type === AnnotationType.Edit) {
        held.body = fields.body!;
        held.editedAt = ts;
      } else {
        delete held.body;
        held.deleted = true;
        held.reactions.clear();
      }
    } else {
      const key = fields.key!;
      const reactors = held.reactions.get(key);
      const holds = reactors?.has(input.sender) ?? false;
      if (input.type === AnnotationType.React) {
        if (holds) return { status: 'noop', id: input.id, seq: target.seq };
        if (!reactors && held.reactions.size >= MAX_REACTION_KEYS) return refusal(input.id, 'bad_request', target.id);
        held.reactions.set(key, (reactors ?? new Set()).add(input.sender));
      } else {
        if (!holds) return { status: 'noop', id: input.id, seq: target.seq };
        reactors!.delete(input.sender);
        if (reactors!.size === 0) held.reactions.delete(key);
      }
    }
    room.summaries.set(target.seq, held);
    return 'append';
  }

  /** Moves a read position forwards (never back), noting the move in `reads` once per sub. */
  function moveRead(room: MemoryRoom, reads: ReadPosition[], sub: string, seq: number): void {
    if (seq <= (room.reads.get(sub) ?? 0)) return;
    room.reads.set(sub, seq);
    const moved = reads.find((read) => read.sub === sub);
    if (moved) moved.seq = seq;
    else reads.push({ sub, seq });
  }

  /** The page's summaries as of now (its headSeq), `mine` for the caller. */
  function summariesOf(room: MemoryRoom, entries: LogMessage[], caller: string | undefined): Pick<StoredPage, 'summaries'> {
    const summaries: Record<string, MessageSummary> = {};
    let any = false;
    for (const entry of entries) {
      const held = room.summaries.get(entry.seq);
      if (!held) continue;
      const summary: MessageSummary = {};
      if (held.body !== undefined) summary.body = held.body;
      if (held.editedAt !== undefined) summary.editedAt = held.editedAt;
      if (held.deleted) summary.deleted = true;
      // fromEntries: a key such as `__proto__` stays an own property.
      if (held.reactions.size > 0) {
        summary.reactions = Object.fromEntries(
          [...held.reactions].map(([key, reactors]) => [key, { count: reactors.size, ...(caller !== undefined && reactors.has(caller) ? { mine: true as const } : {}) }]),
        );
      }
      summaries[String(entry.seq)] = summary;
      any = true;
    }
    return any ? { summaries } : {};
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

    async append(name: string, messages: readonly AppendInput[], { create = true, moderate = false } = {}): Promise<AppendBatchResult> {
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
      const reads: ReadPosition[] = [];
      for (const input of messages) {
        const key = `${input.id}|${input.sender}`;
        const seen = room.seen.get(key);
        if (seen) {
          if (seen.noop) {
            const same = seen.noop.type === input.type && seen.noop.body === input.body;
            outcomes.push(same ? { status: 'duplicate', id: input.id, seq: seen.seq, noop: true } : { status: 'conflict', id: input.id, seq: seen.seq });
            continue;
          }
          const first = entryAt(room, seen.seq);
          const same = !first || first.seq !== seen.seq || (first.type === input.type && first.body === input.body);
          outcomes.push({ status: same ? 'duplicate' : 'conflict', id: input.id, seq: seen.seq });
          continue;
        }
        if (input.type === AnnotationType.Read) {
          const at = Math.max(room.reads.get(input.sender) ?? 0, Math.min((JSON.parse(input.body) as { seq: number }).seq, room.headSeq));
          moveRead(room, reads, input.sender, at);
          outcomes.push({ status: 'noop', id: input.id, seq: at });
          continue;
        }
        const annotation = isReservedType(input.type);
        if (annotation) {
          const ruled = annotate(room, input, ts, moderate);
          if (ruled !== 'append') {
            if (ruled.status === 'noop') room.seen.set(key, { seq: ruled.seq, at: ts, noop: { type: input.type, body: input.body } });
            outcomes.push(ruled);
            continue;
          }
        }
        const message: LogMessage = { seq: ++room.headSeq, id: input.id, type: input.type, body: input.body, sender: input.sender, ts };
        room.log.push(message);
        room.bytes += messageBytes(message);
        room.seen.set(key, { seq: message.seq, at: ts });
        if (annotation) room.annotationSeqs.push(message.seq);
        // Posting reads the room.
        else moveRead(room, reads, input.sender, message.seq);
        outcomes.push({ status: 'appended', message });
      }
      trimLog(room, ts);
      return { epoch: room.epoch, outcomes, ...(previousId !== undefined ? { previousId } : {}), ...(reads.length > 0 ? { reads } : {}) };
    },

    async read(name: string, since: number, limit: number, caller?: string): Promise<StoredPage> {
      const room = readable(name);
      if (!room) return { room: name, epoch: '', firstSeq: 1, headSeq: 0, messages: [], hasMore: false };
      const firstSeq = room.log[0]?.seq ?? room.headSeq + 1;
      const start = Math.max(0, since + 1 - firstSeq);
      const messages = withinBytes(room, room.log.slice(start, start + limit));
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
        ...summariesOf(room, messages, caller),
      };
    },

    async readBefore(name: string, before: number, limit: number, caller?: string): Promise<StoredPage> {
      const room = readable(name);
      if (!room) return { room: name, epoch: '', firstSeq: 1, headSeq: 0, messages: [], hasMore: false, hasOlder: false };
      const firstSeq = room.log[0]?.seq ?? room.headSeq + 1;
      const end = Math.max(0, Math.min(before, room.headSeq + 1) - firstSeq);
      // Back to the limit-th message (annotations between them come along, uncounted).
      let start = end;
      for (let counted = 0; start > 0 && counted < limit; ) if (!isReservedType(room.log[--start]!.type)) counted++;
      const messages = withinBytes(room, room.log.slice(start, end).reverse()).reverse();
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
        ...summariesOf(room, messages, caller),
      };
    },

    async readState(name: string, sub: string) {
      const room = readable(name);
      if (!room) return { seq: 0, unread: 0 };
      const seq = Math.min(room.reads.get(sub) ?? 0, room.headSeq);
      const annotations = room.annotationSeqs.length - countBelow(room.annotationSeqs, seq + 1);
      return { seq, unread: room.headSeq - seq - annotations };
    },

    async receipts(name: string, limit: number) {
      const room = readable(name);
      if (!room) return [];
      return [...room.reads].map(([sub, seq]) => ({ sub, seq })).sort((a, b) => b.seq - a.seq || (a.sub < b.sub ? 1 : -1)).slice(0, limit);
    },

    async noteUserRoom(sub: string, name: string) {
      const noted = userRooms.get(sub) ?? new Map<string, number>();
      // Re-inserted: a Map iterates oldest first, so the newest goes last.
      noted.delete(name);
      noted.set(name, now());
      for (const oldest of noted.keys()) {
        if (noted.size <= USER_ROOMS_MAX) break;
        noted.delete(oldest);
      }
      userRooms.set(sub, noted);
    },

    async userRooms(sub: string) {
      const noted = userRooms.get(sub);
      if (!noted) return [];
      const since = now() - USER_ROOMS_RETENTION_MS;
      for (const [name, at] of noted) if (at < since) noted.delete(name);
      if (noted.size === 0) userRooms.delete(sub);
      return [...noted.keys()].reverse();
    },

    async ping() {},

    async close() {
      rooms.clear();
      userRooms.clear();
    },
  };
}

/** How many of the ascending `seqs` are below `seq` (binary search). */
function countBelow(seqs: readonly number[], seq: number): number {
  let low = 0;
  let high = seqs.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (seqs[middle]! < seq) low = middle + 1;
    else high = middle;
  }
  return low;
}
