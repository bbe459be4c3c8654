import { DEFAULT_LIMITS, utf8ByteLength, type LogMessage, type RoomPage } from '@partyline/protocol';

/** The longest run of `candidates` (taken in order) within a page's byte bound, at least one: as the relay's stores count. */
function withinBytes(candidates: LogMessage[]): LogMessage[] {
  let bytes = 0;
  let count = 0;
  for (const message of candidates) {
    bytes += utf8ByteLength(JSON.stringify([message.id, message.type, message.body, message.sender])) + 64;
    if (bytes > DEFAULT_LIMITS.maxPageBytes && count > 0) break;
    count++;
  }
  return candidates.slice(0, count);
}

/**
 * The room logs of the model relay: the store the relays share (what Redis is for real relays),
 * with the store's faults — a log lost (a new epoch), an unsynced tail lost (its seqs handed out
 * again: `diverged`), retention trimming — and a memory of every message ever appended, so the
 * checker can tell a delivered message from an invented one, and an explained reset from a silent one.
 */
export interface ModelRoom {
  epoch: string;
  headSeq: number;
  /** Retained messages, ascending and gap-free. */
  log: LogMessage[];
  /** Dedup records: `id|sender` → seq (lost with the tail they belong to). */
  seen: Map<string, number>;
}

/** A store fault that can explain a reset. */
export type RoomFault = 'log_lost' | 'tail_lost' | 'trimmed';

export interface AppendResult {
  id: string;
  seq?: number;
  error?: { kind: string; message: string; retryable: boolean };
}

export class ModelLog {
  readonly rooms = new Map<string, ModelRoom>();
  /** `epoch:seq` → every id ever appended there. */
  readonly ever = new Map<string, Set<string>>();
  /** What happened to each room's log (explains resets). */
  readonly faults = new Map<string, Set<RoomFault>>();
  /** Every epoch each room ever had. */
  readonly epochs = new Map<string, string[]>();
  #epochs = 0;

  append(name: string, sender: string, messages: readonly { id: string; type: string; body: string }[], now: number): { epoch: string; results: AppendResult[]; appended: LogMessage[]; previousId?: string } {
    let room = this.rooms.get(name);
    if (!room) {
      room = { epoch: `e${++this.#epochs}`, headSeq: 0, log: [], seen: new Map() };
      this.rooms.set(name, room);
      this.epochs.set(name, [...(this.epochs.get(name) ?? []), room.epoch]);
    }
    const head = room.log.at(-1);
    const previousId = head && head.seq === room.headSeq ? head.id : undefined;
    const results: AppendResult[] = [];
    const appended: LogMessage[] = [];
    for (const input of messages) {
      const key = `${input.id}|${sender}`;
      const seq = room.seen.get(key);
      if (seq !== undefined) {
        const first = room.log.find((message) => message.seq === seq);
        if (first && (first.type !== input.type || first.body !== input.body)) {
          results.push({ id: input.id, error: { kind: 'conflict', message: 'id already used for another message', retryable: false } });
        } else results.push({ id: input.id, seq });
        continue;
      }
      const message: LogMessage = { seq: ++room.headSeq, id: input.id, type: input.type, body: input.body, sender, ts: now };
      room.log.push(message);
      room.seen.set(key, message.seq);
      const at = `${room.epoch}:${message.seq}`;
      const ids = this.ever.get(at) ?? new Set<string>();
      ids.add(message.id);
      this.ever.set(at, ids);
      results.push({ id: input.id, seq: message.seq });
      appended.push(message);
    }
    return { epoch: room.epoch, results, appended, ...(previousId !== undefined ? { previousId } : {}) };
  }

  /** Forward page after `since` (what `room:read`/`room:join` answer), positioned like the real relay. */
  read(name: string, since: number, limit: number, position: { epoch?: string; sinceId?: string }): RoomPage {
    const room = this.rooms.get(name);
    if (!room) return { room: name, epoch: '', firstSeq: 1, headSeq: 0, messages: [], hasMore: false };
    const firstSeq = room.log[0]?.seq ?? room.headSeq + 1;
    const start = Math.max(0, since + 1 - firstSeq);
    const messages = withinBytes(room.log.slice(start, start + limit));
    const lastSeq = messages.at(-1)?.seq ?? since;
    const sinceId = since >= firstSeq ? room.log[since - firstSeq]?.id : undefined;
    const newest = room.log.at(-1);
    const page: RoomPage = {
      room: name,
      epoch: room.epoch,
      firstSeq,
      headSeq: room.headSeq,
      messages,
      hasMore: lastSeq < room.headSeq,
      ...(newest && newest.seq === room.headSeq ? { headId: newest.id } : {}),
    };
    if (position.epoch !== room.epoch || since === 0) return page;
    const lost = since > room.headSeq || (position.sinceId !== undefined && sinceId !== undefined && sinceId !== position.sinceId);
    return lost ? { ...page, diverged: true } : page;
  }

  /** Backward page: the newest `limit` messages before `before`. */
  readBefore(name: string, before: number, limit: number): RoomPage {
    const room = this.rooms.get(name);
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
  }

  /** The store lost the room (a memory relay restarted, Redis flushed): the next append starts a new epoch. */
  loseLog(name: string): boolean {
    if (!this.rooms.delete(name)) return false;
    this.#fault(name, 'log_lost');
    return true;
  }

  /** The store lost its newest `count` messages and their dedup records (an unsynced AOF tail). */
  loseTail(name: string, count: number): boolean {
    const room = this.rooms.get(name);
    if (!room || room.log.length === 0) return false;
    const lost = room.log.splice(Math.max(0, room.log.length - count));
    for (const message of lost) room.seen.delete(`${message.id}|${message.sender}`);
    room.headSeq -= lost.length;
    this.#fault(name, 'tail_lost');
    return true;
  }

  /** Retention dropped the oldest `count` retained messages. */
  trim(name: string, count: number): boolean {
    const room = this.rooms.get(name);
    if (!room || room.log.length <= 1) return false;
    room.log.splice(0, Math.min(count, room.log.length - 1));
    this.#fault(name, 'trimmed');
    return true;
  }

  /** The message at `seq` of the room's current log, if retained. */
  at(name: string, seq: number): LogMessage | undefined {
    const room = this.rooms.get(name);
    const first = room?.log[0]?.seq;
    return room && first !== undefined ? room.log[seq - first] : undefined;
  }

  #fault(name: string, fault: RoomFault): void {
    const faults = this.faults.get(name) ?? new Set<RoomFault>();
    faults.add(fault);
    this.faults.set(name, faults);
  }
}
