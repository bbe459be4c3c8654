import { PublishResultSchema, utf8ByteLength, validate, type PublishAck, type PublishResult } from '@partyline/protocol';
import type { Connection } from './connection.js';
import type { Scheduler } from './scheduler.js';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
import type { OutboxEntry, OutboxStore } from './outbox-store.js';

/** What became of one outbox entry. */
export type Settlement =
  | { status: 'sent'; room: string; id: string; seq: number }
  | { status: 'failed'; room: string; id: string; error: PartylineError }
  | { status: 'expired'; room: string; id: string; error: PartylineError };

export interface FlusherOptions {
  connection: Connection;
  outbox: OutboxStore;
  /** Whether this client sends `room`'s entries at all (it opened the room, so it holds a token for it). */
  opened(room: string): boolean;
  /** Runs one room's sends as that room's only flusher across tabs; false when another tab flushes it now. */
  lead(room: string, task: () => Promise<void>): Promise<boolean>;
  /** Whom this client sends for: entries queued under another identity wait for theirs. */
  identity(): string | undefined;
  /** How soon to look again at a room another tab was flushing. */
  busyRetryMs: number;
  scheduler: Scheduler;
  ackTimeoutMs: number;
  maxBatchMessages: number;
  /** Most bytes (ids, types, bodies) per publish request. */
  maxBatchBytes: number;
  retentionMs: number;
  /** Called once per entry this flusher removed from the outbox. */
  onSettled(settlement: Settlement): void;
  onError(error: PartylineError): void;
}

/** `smaller`: the relay refused the batch as too large; send the same entries again in smaller batches. */
type BatchOutcome = { ok: true } | { ok: false; error: PartylineError } | { ok: 'smaller' };

const RETRY = 'flush';
const EXPIRY = 'flush:expiry';

/**
 * Sends the outbox: per room, in publish order, in batches of at most `maxBatchMessages`, each
 * acked per message. Acked and permanently refused entries leave the outbox; retryable failures
 * stay and the whole flush backs off (capped exponential, full jitter, at least the relay's
 * `retryAfterMs`). Entries older than the retention leave as `expired`.
 */
export class Flusher {
  readonly #o: FlusherOptions;
  #running = false;
  #again = false;
  #failures = 0;
  /** Shrinks when a relay allows smaller batches than this client's setting. */
  #batchSize: number;
  /** The expiry timer fired: the outbox must be read even while there is nothing to send. */
  #expiryDue = false;
  #closed = false;
  #idle: Promise<void> = Promise.resolve();

  constructor(options: FlusherOptions) {
    this.#o = options;
    this.#batchSize = options.maxBatchMessages;
  }

  /**
   * Flushes soon. `force` skips a running backoff wait (connected again, browser online); a new
   * publish does not, so a struggling relay is not hammered.
   */
  wake(force = false): void {
    if (this.#closed) return;
    if (this.#o.scheduler.dueAt(RETRY) !== undefined) {
      if (!force) return;
      this.#o.scheduler.cancel(RETRY);
    }
    if (this.#running) {
      this.#again = true;
      // Reconnected or back online: if this pass ends in a retry, start the backoff over.
      if (force) this.#failures = 0;
      return;
    }
    this.#running = true;
    this.#idle = this.#run().finally(() => (this.#running = false));
  }

  /** Failed passes in a row (for `client.inspect()`). */
  get failures(): number {
    return this.#failures;
  }

  /** When the next pass is due, if one is scheduled (for `client.inspect()`). */
  get retryAt(): number | undefined {
    return this.#o.scheduler.dueAt(RETRY);
  }

  /** Resolves when no flush is running (tests, close). */
  idle(): Promise<void> {
    return this.#idle;
  }

  close(): void {
    this.#closed = true;
    this.#o.scheduler.cancel(RETRY);
    this.#o.scheduler.cancel(EXPIRY);
  }

  async #run(): Promise<void> {
    try {
      do {
        this.#again = false;
        // With nothing to send to, read the outbox only for expiry (when due, or to arm the timer): a
        // publish while offline must not re-read a growing outbox every time.
        const canSend = this.#o.connection.transport !== undefined;
        if (!canSend && !this.#expiryDue && this.#o.scheduler.dueAt(EXPIRY) !== undefined) return;
        this.#expiryDue = false;
        // Only rooms this client opened, and only entries queued under its identity: another tab's,
        // session's or account's entries may need a token this client does not have (or must not
        // use), and must neither be sent nor failed from here.
        const identity = this.#o.identity();
        const entries = (await this.#expire(await this.#o.outbox.list())).filter(
          (entry) => this.#o.opened(entry.room) && (entry.sender === undefined || entry.sender === identity),
        );
        if (this.#closed || entries.length === 0 || !this.#o.connection.transport) return;
        let retryError: PartylineError | undefined;
        let busy = false;
        let sent = false;
        for (const [room, roomEntries] of groupByRoom(entries)) {
          // A room that must wait does not hold up the others.
          const led = await this.#o.lead(room, async () => {
            for (let at = 0; at < roomEntries.length; ) {
              const size = batchLength(roomEntries, at, this.#batchSize, this.#o.maxBatchBytes);
              const outcome = await this.#send(room, roomEntries.slice(at, at + size));
              if (this.#closed) return;
              if (outcome.ok === 'smaller') continue;
              if (!outcome.ok) {
                retryError ??= outcome.error;
                return;
              }
              sent = true;
              at += size;
            }
          });
          if (this.#closed) return;
          if (!led) busy = true;
        }
        if (retryError) return this.#scheduleRetry(retryError);
        this.#failures = 0;
        if (busy) this.#scheduleBusyRetry();
        // Look again: more may have been queued meanwhile.
        if (sent) this.#again = true;
      } while (this.#again && !this.#closed);
    } catch (error) {
      // Storage trouble: report it and try again later rather than spin.
      const failure = toPartylineError(error);
      this.#o.onError(failure);
      this.#scheduleRetry(failure);
    }
  }

  /** Another tab was flushing a room: look again soon (it may finish, or be stuck and taken over). */
  #scheduleBusyRetry(): void {
    if (this.#closed) return;
    this.#o.scheduler.schedule(RETRY, this.#o.busyRetryMs, () => this.wake());
  }

  #scheduleRetry(error: PartylineError): void {
    if (this.#closed) return;
    this.#failures++;
    this.#o.scheduler.schedule(RETRY, this.#o.scheduler.backoff(this.#failures, error.retryAfterMs), () => this.wake(), 'replace');
  }

  /** Drops expired entries (reporting each) and answers the rest; arms a timer for the next expiry. */
  async #expire(entries: OutboxEntry[]): Promise<OutboxEntry[]> {
    const now = this.#o.scheduler.clock.now();
    const cutoff = now - this.#o.retentionMs;
    const expired = entries.filter((entry) => entry.createdAt <= cutoff);
    const live = entries.filter((entry) => entry.createdAt > cutoff);
    if (expired.length > 0) {
      const removed = new Set(await this.#o.outbox.remove(expired));
      for (const entry of expired) {
        if (!removed.has(entry)) continue;
        const error = new PartylineError(PartylineErrorKind.Expired, `not delivered within ${this.#o.retentionMs} ms; dropped from the outbox`, { retryable: false });
        this.#o.onSettled({ status: 'expired', room: entry.room, id: entry.id, error });
      }
    }
    this.#o.scheduler.cancel(EXPIRY);
    const oldest = live.reduce((min, entry) => Math.min(min, entry.createdAt), Infinity);
    if (oldest !== Infinity && !this.#closed) {
      this.#o.scheduler.schedule(EXPIRY, Math.max(0, oldest + this.#o.retentionMs - now + 1), () => {
        this.#expiryDue = true;
        this.wake();
      }, 'replace');
    }
    return live;
  }

  async #send(room: string, batch: OutboxEntry[]): Promise<BatchOutcome> {
    const transport = this.#o.connection.transport;
    if (!transport) return { ok: false, error: new PartylineError(PartylineErrorKind.Disconnected, 'not connected') };
    let ack: unknown;
    try {
      ack = await transport.request('room:publish', {
        room,
        messages: batch.map(({ id, type, body }) => ({ id, type, body })),
      }, this.#o.ackTimeoutMs);
    } catch (error) {
      await this.#o.outbox.countAttempt(batch);
      return { ok: false, error: toPartylineError(error) };
    }
    if (!ack || typeof ack !== 'object' || (ack as { ok?: unknown }).ok !== true) {
      const wire = (ack as { error?: unknown } | undefined)?.error;
      const error = wire ? toPartylineError(wire) : new PartylineError(PartylineErrorKind.Internal, 'malformed publish ack', { retryable: true });
      if (error.kind === PartylineErrorKind.PayloadTooLarge && batch.length > 1) {
        // The batch as a whole is too large for this relay (fewer messages per batch, or bytes):
        // each message may still be fine on its own.
        this.#batchSize = Math.max(1, Math.floor(batch.length / 2));
        return { ok: 'smaller' };
      }
      if (error.retryable) {
        if (error.kind === PartylineErrorKind.TokenExpired) this.#o.connection.tokenRefused(transport, error);
        await this.#o.outbox.countAttempt(batch);
        return { ok: false, error };
      }
      await this.#settleFailed(batch, () => error);
      return { ok: true };
    }
    return this.#applyResults(batch, (ack as PublishAck).results);
  }

  async #applyResults(batch: OutboxEntry[], results: unknown): Promise<BatchOutcome> {
    const byId = new Map<string, PublishResult>();
    if (Array.isArray(results)) {
      for (const raw of results) {
        const result = validate(PublishResultSchema, raw);
        if (result.ok) byId.set(result.value.id, result.value);
      }
    }
    const sent: { entry: OutboxEntry; seq: number }[] = [];
    const refused: { entry: OutboxEntry; error: PartylineError }[] = [];
    const retry: OutboxEntry[] = [];
    let retryError: PartylineError | undefined;
    for (const entry of batch) {
      const result = byId.get(entry.id);
      if (result && 'seq' in result) sent.push({ entry, seq: result.seq });
      else if (result && !result.error.retryable) refused.push({ entry, error: PartylineError.fromWire(result.error) });
      else {
        retry.push(entry);
        const error = result ? PartylineError.fromWire(result.error) : new PartylineError(PartylineErrorKind.Internal, 'the relay did not answer for this message');
        if (!retryError || (error.retryAfterMs ?? 0) > (retryError.retryAfterMs ?? 0)) retryError = error;
      }
    }
    const removed = new Set(await this.#o.outbox.remove([...sent, ...refused].map(({ entry }) => entry)));
    for (const { entry, seq } of sent) {
      if (removed.has(entry)) this.#o.onSettled({ status: 'sent', room: entry.room, id: entry.id, seq });
    }
    for (const { entry, error } of refused) {
      if (removed.has(entry)) this.#o.onSettled({ status: 'failed', room: entry.room, id: entry.id, error });
    }
    if (retryError) {
      await this.#o.outbox.countAttempt(retry);
      return { ok: false, error: retryError };
    }
    return { ok: true };
  }

  async #settleFailed(batch: OutboxEntry[], errorOf: (entry: OutboxEntry) => PartylineError): Promise<void> {
    const removed = new Set(await this.#o.outbox.remove(batch));
    for (const entry of batch) {
      if (removed.has(entry)) this.#o.onSettled({ status: 'failed', room: entry.room, id: entry.id, error: errorOf(entry) });
    }
  }
}

/** How many entries from `at` make the next batch: at most `maxCount`, at most `maxBytes` (but always one). */
function batchLength(entries: readonly OutboxEntry[], at: number, maxCount: number, maxBytes: number): number {
  let bytes = 0;
  let count = 0;
  for (let i = at; i < entries.length && count < maxCount; i++, count++) {
    const entry = entries[i]!;
    bytes += utf8ByteLength(entry.body) + entry.id.length + entry.type.length;
    if (bytes > maxBytes && count > 0) break;
  }
  return count;
}

function groupByRoom(entries: readonly OutboxEntry[]): Map<string, OutboxEntry[]> {
  const rooms = new Map<string, OutboxEntry[]>();
  for (const entry of entries) {
    const list = rooms.get(entry.room);
    if (list) list.push(entry);
    else rooms.set(entry.room, [entry]);
  }
  return rooms;
}
