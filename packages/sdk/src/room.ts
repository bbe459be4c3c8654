import {
  DEFAULT_LIMITS,
  isValidRoomName,
  LogMessageSchema,
  MessageTypeSchema,
  RoomPageSchema,
  utf8ByteLength,
  validate,
  type LogMessage,
  type RoomMessagesEvent,
  type RoomPage,
  type RoomSignalEvent,
} from '@partyline/protocol';
import type { Connection } from './connection.js';
import type { RoomCursor } from './database.js';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
import { Emitter, type Unsubscribe } from './events.js';
import type { InboxStore } from './inbox-store.js';
import { createMessageId } from './message-id.js';
import type { OutboxEntry, OutboxStore } from './outbox-store.js';
import { retryDelayFor, type RetryDelay } from './retry-policy.js';

/** A message of a room's log as the app receives it. */
export interface RoomMessage<Body = unknown> {
  room: string;
  /** Position in the room's one total order (1-based, gap-free within an epoch). */
  seq: number;
  /** The sender's idempotency key. */
  id: string;
  type: string;
  /** The published body, JSON-parsed (the raw text if another client sent something that is not JSON). */
  body: Body;
  /** Who sent it: the `sub` of the sender's token, stamped by the relay. */
  sender: string;
  /** Relay time of the append, epoch ms. */
  ts: number;
}

/** Where one of this client's messages stands. */
export type MessageStatus = 'pending' | 'sent' | 'failed' | 'expired';

export interface StatusContext {
  room: string;
  id: string;
  status: MessageStatus;
  /** Its place in the room log, once `sent`. */
  seq?: number;
  /** Why, when `failed` or `expired`. */
  error?: PartylineError;
}

/**
 * The room's history could not be continued: `epoch_changed` — the relay's log was lost and
 * restarted (the local cache of the old log is cleared, delivery restarts at seq 1 of the new one);
 * `trimmed` — messages `fromSeq`..`toSeq` were dropped from the log before this client read them.
 */
export interface ResetContext {
  room: string;
  reason: 'epoch_changed' | 'trimmed';
  epoch: string;
  previousEpoch?: string;
  fromSeq?: number;
  toSeq?: number;
}

export interface SignalContext<Body = unknown> {
  room: string;
  sender: string;
  type: string;
  body: Body;
}

export interface RoomErrorContext {
  room: string;
  error: PartylineError;
}

/** Events of a {@link Room}, each with one context object. */
export interface RoomEvents {
  message: RoomMessage;
  status: StatusContext;
  reset: ResetContext;
  signal: SignalContext;
  error: RoomErrorContext;
}

/** An outbox entry as the app sees it. */
export interface PendingMessage {
  id: string;
  room: string;
  type: string;
  body: unknown;
  createdAt: number;
  attempts: number;
}

/**
 * Returned once a message is safely in the outbox. `sent` settles when the relay has it in the
 * room log, or rejects with a {@link PartylineError} when it was refused or expired (or `closed`
 * when the client closed first — the message then stays queued for the next session).
 */
export interface PublishHandle {
  readonly id: string;
  readonly room: string;
  readonly status: MessageStatus;
  readonly sent: Promise<{ seq: number }>;
}

export interface RoomOptions {
  /**
   * Where a room this device never read starts: `beginning` delivers the whole retained log,
   * `now` only what is published after joining. Later sessions always continue where they stopped.
   * @default 'beginning'
   */
  from?: 'beginning' | 'now';
}

/** What a room needs from its client (internal). */
export interface RoomHost {
  readonly connection: Connection;
  readonly outbox: OutboxStore;
  readonly inbox: InboxStore;
  readonly settings: {
    pageSize: number;
    inboxLimit: number;
    requestTimeoutMs: number;
    maxBodyBytes: number;
    gapFillDelayMs: number;
    retryDelay: RetryDelay;
    now(): number;
  };
  assertOpen(): void;
  enqueue(entry: OutboxEntry): Promise<PublishHandle>;
  delivered(room: string, id: string, seq: number): void;
  forget(room: string): void;
}

/**
 * One room: publish into its log, receive its log exactly once and in order, see your own
 * messages' status. Get it with `client.room(name)`.
 *
 * @example
 * const room = client.room('party:abc');
 * room.on('message', (m) => render(m.seq, m.sender, m.body));
 * room.on('status', (s) => markMessage(s.id, s.status));
 * const handle = await room.publish('chat', { text: 'I bring the cake' });
 * const { seq } = await handle.sent;
 */
export class Room {
  readonly name: string;
  readonly #host: RoomHost;
  readonly #from: 'beginning' | 'now';
  readonly #events = new Emitter<RoomEvents>();
  #cursor: RoomCursor | undefined;
  #queue: Promise<void> = Promise.resolve();
  readonly #buffer = new Map<number, LogMessage>();
  #gapTimer: ReturnType<typeof setTimeout> | undefined;
  #resyncTimer: ReturnType<typeof setTimeout> | undefined;
  #resyncAttempt = 0;
  #closed = false;

  /** @internal use `client.room(name)` */
  constructor(name: string, host: RoomHost, options: RoomOptions = {}) {
    if (!isValidRoomName(name)) throw new PartylineError(PartylineErrorKind.InvalidRoom, `invalid room name ${JSON.stringify(name)}`, { retryable: false });
    this.name = name;
    this.#host = host;
    this.#from = options.from ?? 'beginning';
  }

  /**
   * Listens to a room event; returns a function that stops listening.
   *
   * @example
   * const stop = room.on('reset', ({ reason }) => showNotice(`history restarted: ${reason}`));
   */
  on<K extends keyof RoomEvents>(event: K, listener: (context: RoomEvents[K]) => void): Unsubscribe {
    return this.#events.on(event, listener);
  }

  off<K extends keyof RoomEvents>(event: K, listener: (context: RoomEvents[K]) => void): void {
    this.#events.off(event, listener);
  }

  /**
   * Queues a message: resolves once it is stored in the IndexedDB outbox (one transaction), from
   * where it is delivered — now or after going online, reloads, relay failover — exactly once.
   * `body` must be JSON-serialisable. Rejects (nothing queued) for an invalid type, a body that is
   * not JSON or too large, or a closed client.
   *
   * @example
   * const { id, sent } = await room.publish('item:claim', { item: 'balloons' });
   * sent.then(({ seq }) => console.log(id, 'is #', seq), (error) => console.warn(error.kind));
   */
  async publish(type: string, body: unknown): Promise<PublishHandle> {
    this.#host.assertOpen();
    if (this.#closed) throw new PartylineError(PartylineErrorKind.Closed, `left room ${this.name}`);
    const text = encodeBody(type, body, this.#host.settings.maxBodyBytes);
    const entry: OutboxEntry = { id: createMessageId(), room: this.name, type, body: text, createdAt: this.#host.settings.now(), attempts: 0 };
    return this.#host.enqueue(entry);
  }

  /**
   * Sends an ephemeral signal (typing, presence) to the members connected now. It skips outbox and
   * log, may be dropped or rate-limited, and rejects when offline.
   *
   * @example
   * input.oninput = () => room.signal('typing', { on: true }).catch(() => {});
   */
  async signal(type: string, body: unknown): Promise<void> {
    this.#host.assertOpen();
    const text = encodeBody(type, body, DEFAULT_LIMITS.maxSignalBytes);
    const socket = this.#host.connection.socket;
    if (!socket) throw new PartylineError(PartylineErrorKind.Disconnected, 'not connected; signals are not queued');
    const ack = await socket.timeout(this.#host.settings.requestTimeoutMs).emitWithAck('room:signal', { room: this.name, type, body: text }).catch((error: unknown) => {
      throw toPartylineError(error);
    });
    if (!ack.ok) throw toPartylineError(ack.error);
  }

  /**
   * The locally cached messages of this room (the latest `inboxLimit`), in seq order. Works offline
   * and right after a reload, before any connection.
   */
  async history(): Promise<RoomMessage[]> {
    this.#host.assertOpen();
    return (await this.#host.inbox.history(this.name)).map((message) => toRoomMessage(this.name, message));
  }

  /** This room's messages still in the outbox (from this tab, other tabs and earlier sessions), in publish order. */
  async pending(): Promise<PendingMessage[]> {
    this.#host.assertOpen();
    return (await this.#host.outbox.list(this.name)).map((entry) => ({
      id: entry.id,
      room: entry.room,
      type: entry.type,
      body: parseBody(entry.body),
      createdAt: entry.createdAt,
      attempts: entry.attempts,
    }));
  }

  /** Stops receiving this room (its outbox entries are still delivered). */
  leave(): void {
    if (this.#closed) return;
    this.#host.connection.socket?.emit('room:leave', { room: this.name }, () => {});
    this.#host.forget(this.name);
    this._close();
  }

  // ---- internal, called by the client ----

  /** @internal */
  _emitStatus(context: StatusContext): void {
    this.#events.emit('status', context);
  }

  /** @internal a connection came up: join and catch up */
  _connected(): void {
    this.#buffer.clear();
    this.#enqueue(() => this.#sync());
  }

  /** @internal */
  _disconnected(): void {
    this.#buffer.clear();
    clearTimeout(this.#gapTimer);
    clearTimeout(this.#resyncTimer);
    this.#gapTimer = this.#resyncTimer = undefined;
  }

  /** @internal live messages from the relay */
  _messages(event: RoomMessagesEvent): void {
    const messages: LogMessage[] = [];
    if (Array.isArray(event.messages)) {
      for (const raw of event.messages) {
        const checked = validate(LogMessageSchema, raw);
        if (checked.ok) messages.push(checked.value);
      }
    }
    const epoch = typeof event.epoch === 'string' ? event.epoch : '';
    this.#enqueue(() => this.#live(epoch, messages));
  }

  /** @internal */
  _signal(event: RoomSignalEvent): void {
    this.#events.emit('signal', { room: this.name, sender: event.sender, type: event.type, body: parseBody(event.body) });
  }

  /** @internal resolves when queued inbound work is done */
  _idle(): Promise<void> {
    return this.#queue;
  }

  /**
   * @internal No new work starts; a delivery already stored in IndexedDB is still handed to the app
   * (its cursor has moved past it, so withholding it would skip it for good), then listeners go.
   */
  _close(): void {
    this.#closed = true;
    this._disconnected();
    void this.#queue.finally(() => this.#events.clear());
  }

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(() => (this.#closed ? undefined : task())).catch((error: unknown) => this.#failed(error));
  }

  #failed(raw: unknown): void {
    if (this.#closed) return;
    const error = toPartylineError(raw);
    if (error.kind === PartylineErrorKind.TokenExpired) return this.#host.connection.refreshToken();
    if (!error.retryable) {
      this.#events.emit('error', { room: this.name, error });
      return;
    }
    // Still connected (a timeout, an unavailable store): try again later. Otherwise the next connect syncs.
    if (!this.#host.connection.socket || this.#resyncTimer) return;
    const delay = retryDelayFor(this.#host.settings.retryDelay, ++this.#resyncAttempt, error.retryAfterMs);
    this.#resyncTimer = setTimeout(() => {
      this.#resyncTimer = undefined;
      this.#enqueue(() => this.#sync());
    }, delay);
  }

  async #sync(): Promise<void> {
    this.#cursor ??= await this.#host.inbox.cursor(this.name);
    const since = this.#cursor ? this.#cursor.lastSeq : this.#from === 'now' ? undefined : 0;
    const socket = this.#host.connection.socket;
    if (!socket) return;
    const request = { room: this.name, limit: this.#host.settings.pageSize, ...(since !== undefined ? { since } : {}) };
    const ack = await socket.timeout(this.#host.settings.requestTimeoutMs).emitWithAck('room:join', request);
    await this.#applyPages(checkPage(ack, this.name), since);
    this.#resyncAttempt = 0;
  }

  async #read(since: number): Promise<RoomPage> {
    const socket = this.#host.connection.socket;
    if (!socket) throw new PartylineError(PartylineErrorKind.Disconnected, 'not connected');
    const ack = await socket.timeout(this.#host.settings.requestTimeoutMs).emitWithAck('room:read', { room: this.name, since, limit: this.#host.settings.pageSize });
    return checkPage(ack, this.name);
  }

  /** Applies a page and keeps reading until the log is exhausted, then delivers what waited in the buffer. */
  async #applyPages(first: RoomPage, requestedSince: number | undefined): Promise<void> {
    let page = first;
    for (;;) {
      const before = this.#cursor?.lastSeq;
      const reread = await this.#applyPage(page, requestedSince);
      const progressed = this.#cursor?.lastSeq !== before;
      if (!reread && (!page.hasMore || !progressed)) break;
      requestedSince = this.#cursor!.lastSeq;
      page = await this.#read(requestedSince);
    }
    await this.#drain();
  }

  /** Answers true when the log must be read again from the (new) cursor. */
  async #applyPage(page: RoomPage, requestedSince: number | undefined): Promise<boolean> {
    let cursor = this.#cursor;
    if (!cursor) {
      if (requestedSince === undefined) {
        // `from: 'now'`: start after the current head.
        this.#cursor = { room: this.name, epoch: page.epoch, lastSeq: page.headSeq };
        await this.#host.inbox.commit(this.#cursor, [], this.#host.settings.inboxLimit);
        return false;
      }
      // A room this device never read: the log starts where its retention starts.
      cursor = this.#cursor = { room: this.name, epoch: page.epoch, lastSeq: Math.max(requestedSince, page.firstSeq - 1) };
    }
    if (cursor.epoch !== page.epoch) {
      const next = { room: this.name, epoch: page.epoch, lastSeq: 0 };
      await this.#host.inbox.reset(next);
      this.#cursor = next;
      this.#buffer.clear();
      this.#events.emit('reset', { room: this.name, reason: 'epoch_changed', epoch: page.epoch, previousEpoch: cursor.epoch });
      return true;
    }
    if (page.firstSeq > cursor.lastSeq + 1) {
      const fromSeq = cursor.lastSeq + 1;
      const toSeq = page.firstSeq - 1;
      this.#cursor = { ...cursor, lastSeq: toSeq };
      await this.#host.inbox.commit(this.#cursor, [], this.#host.settings.inboxLimit);
      this.#events.emit('reset', { room: this.name, reason: 'trimmed', epoch: page.epoch, fromSeq, toSeq });
    }
    await this.#deliver(page.messages);
    return false;
  }

  async #live(epoch: string, messages: LogMessage[]): Promise<void> {
    const cursor = this.#cursor;
    if (!cursor) return; // not caught up yet: the running sync reads these from the log
    if (epoch !== cursor.epoch) {
      // The log was replaced: re-read from the cursor, which detects and reports the new epoch.
      const since = cursor.lastSeq;
      return this.#applyPages(await this.#read(since), since);
    }
    for (const message of messages) if (message.seq > cursor.lastSeq) this.#buffer.set(message.seq, message);
    await this.#drain();
  }

  /** Delivers the buffered run that continues the cursor; a remaining gap is filled from the log soon. */
  async #drain(): Promise<void> {
    const cursor = this.#cursor;
    if (!cursor) return;
    const run: LogMessage[] = [];
    for (let seq = cursor.lastSeq + 1, next = this.#buffer.get(seq); next; next = this.#buffer.get(++seq)) run.push(next);
    const upTo = cursor.lastSeq + run.length;
    for (const seq of this.#buffer.keys()) if (seq <= upTo) this.#buffer.delete(seq);
    await this.#deliver(run);
    if (this.#buffer.size === 0) {
      clearTimeout(this.#gapTimer);
      this.#gapTimer = undefined;
    } else if (!this.#gapTimer) {
      // Live messages from different relays may overtake each other: wait briefly, then read the gap.
      this.#gapTimer = setTimeout(() => {
        this.#gapTimer = undefined;
        this.#enqueue(async () => {
          if (this.#buffer.size === 0 || !this.#cursor) return;
          const since = this.#cursor.lastSeq;
          await this.#applyPages(await this.#read(since), since);
        });
      }, this.#host.settings.gapFillDelayMs);
    }
  }

  /** Stores then hands to the app the messages that continue the cursor exactly; the rest are dropped. */
  async #deliver(messages: readonly LogMessage[]): Promise<void> {
    const cursor = this.#cursor;
    if (!cursor || messages.length === 0) return;
    const fresh: LogMessage[] = [];
    let next = cursor.lastSeq + 1;
    for (const message of messages) {
      if (message.seq < next) continue;
      if (message.seq !== next) break;
      fresh.push(message);
      next++;
    }
    if (fresh.length === 0) return;
    const advanced = { ...cursor, lastSeq: next - 1 };
    await this.#host.inbox.commit(advanced, fresh, this.#host.settings.inboxLimit);
    // Stored means the cursor moved past these: hand them over even if the client is closing.
    this.#cursor = advanced;
    for (const message of fresh) {
      this.#host.delivered(this.name, message.id, message.seq);
      this.#events.emit('message', toRoomMessage(this.name, message));
    }
  }
}

function checkPage(ack: unknown, room: string): RoomPage {
  if (!ack || typeof ack !== 'object') throw new PartylineError(PartylineErrorKind.Internal, 'malformed answer from relay', { retryable: true });
  if ((ack as { ok?: unknown }).ok !== true) throw toPartylineError((ack as { error?: unknown }).error);
  const page = validate(RoomPageSchema, ack);
  if (!page.ok || page.value.room !== room) throw new PartylineError(PartylineErrorKind.Internal, `malformed page from relay: ${page.ok ? 'wrong room' : page.error.message}`, { retryable: true });
  return page.value;
}

function encodeBody(type: string, body: unknown, maxBodyBytes: number): string {
  const checked = validate(MessageTypeSchema, type);
  if (!checked.ok) throw new PartylineError(PartylineErrorKind.BadRequest, `invalid message type ${JSON.stringify(type)}`, { retryable: false });
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    throw new PartylineError(PartylineErrorKind.BadRequest, `body is not JSON-serialisable: ${(error as Error).message}`, { retryable: false });
  }
  if (text === undefined) throw new PartylineError(PartylineErrorKind.BadRequest, 'body is not JSON-serialisable', { retryable: false });
  if (utf8ByteLength(text) > maxBodyBytes) throw new PartylineError(PartylineErrorKind.PayloadTooLarge, `body exceeds ${maxBodyBytes} bytes`, { retryable: false });
  return text;
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toRoomMessage(room: string, message: LogMessage): RoomMessage {
  return { room, seq: message.seq, id: message.id, type: message.type, body: parseBody(message.body), sender: message.sender, ts: message.ts };
}
