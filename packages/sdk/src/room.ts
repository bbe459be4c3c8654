import {
  AnnotationType,
  DEFAULT_LIMITS,
  isAnnotationType,
  isReactionKey,
  isReservedType,
  isValidRoomName,
  MESSAGE_ID_PATTERN,
  utf8ByteLength,
  type LogMessage,
  type PublishAck,
  type ReadPosition,
  type RoomPage,
} from '@partyline/protocol';
import { ASYNC_SCHEMA_ISSUES, checkBody, type StandardIssue, type StandardSchemaV1 } from './body-schema.js';
import type { Connection } from './connection.js';
import type { RoomCursor, StoredMessage } from './database.js';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
import { Emitter, type Unsubscribe } from './events.js';
import type { RoomInspection } from './inspect.js';
import { encodeJson, parseJson } from './json-text.js';
import { MachineRunner } from './machine-runner.js';
import { checkAck, request } from './request.js';
import { RoomPresence, type PresenceContext } from './room-presence.js';
import { createMessageId } from './message-id.js';
import type { OutboxEntry, OutboxStore } from './outbox-store.js';
import type { Scheduler } from './scheduler.js';
import type { CacheLineage, InboxStore } from './inbox-store.js';
import { bytesOf } from './message-bytes.js';
import { MessageFold, summaryPage, type FoldedMessage, type SummarizedMessage } from './message-fold.js';
import { ReadState } from './read-state.js';
import { initialRoomSyncState, roomSyncTransition, type RoomSyncRequest, type RoomSyncCommand, type RoomSyncConfig, type RoomSyncEvent, type RoomSyncState, type ViewMark } from './room-sync-machine.js';
import { liveEntries, type ViewPosition } from './view-position.js';
import { checkRoomMessagesEvent, checkRoomPage, checkRoomSignalEvent, isMessageType } from './wire-checks.js';

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
 * The room's history could not be continued as it was:
 * - `epoch_changed`: the relay's log was lost and began again (new epoch);
 * - `diverged`: the log no longer holds messages this tab was handed (a store lost its unsynced tail
 *   and gave those sequences to new messages); `toSeq` is the last seq the tab had.
 * For both the view starts over: drop what the app built from this room; the events that follow
 * deliver the log again from its first retained message.
 * - `trimmed`: messages `fromSeq`..`toSeq` left the log (retention) before this tab read them; the view
 *   continues after them.
 * A reset is emitted before it is stored: after a crash in between, it is emitted again.
 */
export interface ResetContext {
  room: string;
  reason: 'epoch_changed' | 'diverged' | 'trimmed';
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

/**
 * A message whose body failed the room's `schema`. It keeps its place in the view (the run stays
 * gap-free and in seq order, once each) but comes as an `invalid` event instead of a `message`.
 */
export interface InvalidMessage extends RoomMessage {
  /** Why the body does not fit the schema. */
  issues: readonly StandardIssue[];
}

/**
 * Something went wrong in the room: its join was refused (`forbidden`: the token does not grant the
 * room; `invalid_room`, `not_found`), a relay broke the protocol (`protocol_violation`, retried), a
 * presence request was refused, or its `schema` answered asynchronously (`bad_request`). A refused
 * message is not an error event: its `status` is `failed`, with the error.
 */
export interface RoomErrorContext {
  room: string;
  error: PartylineError;
}

/** A held message's folded state changed (an edit, delete or reaction reached the view). */
export interface UpdateContext {
  room: string;
  id: string;
  message: FoldedMessage;
}

/** A member's read position moved forwards (receipts; own other tabs and devices too). */
export interface ReadContext {
  room: string;
  sub: string;
  seq: number;
}

/** Where this member stands in the room: the last seq it read, and how many messages after it it has not. */
export interface ReadStateSnapshot {
  readSeq: number;
  unread: number;
}

/** Events of a {@link Room}, each with one context object. */
export interface RoomEvents {
  message: RoomMessage;
  status: StatusContext;
  reset: ResetContext;
  signal: SignalContext;
  /** Members joined, left or changed their data (see {@link RoomPresence}); listening starts following them. */
  presence: PresenceContext;
  error: RoomErrorContext;
  /** A message of the view whose body failed the room's `schema`, in its place instead of a `message` event. */
  invalid: InvalidMessage;
  /** The relay let this tab into the room (again): an earlier `error` of its join is resolved. */
  joined: { room: string };
  /** A message of the view was edited, deleted or reacted to (see `room.message(id)`). */
  update: UpdateContext;
  /** A member's read position moved (receipts, when the token grants them; always this member's own other tabs). */
  read: ReadContext;
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

/** A position the app stored itself, with the side effects it made up to it (see `RoomOptions.from`). */
export interface AppPosition {
  epoch: string;
  /** The last seq the app handled. */
  seq: number;
  /** That message's id, so the relay can tell whether its log still holds it. */
  id?: string;
}

export interface RoomOptions {
  /**
   * Where this tab's view of the room starts when the profile has no cache of it yet: `beginning`
   * delivers the whole retained log from seq 1, `now` only what is published after joining. Once the
   * profile has a cache, every tab's view starts at what the cache holds (`history()`) and continues.
   *
   * A {@link HistoryWindow} `{ last: N }` starts the view at the newest N messages — one round trip
   * in a room of any size, then live; with a cache, at its newest N. `room.loadOlder()` pages back.
   *
   * An {@link AppPosition} makes the position the app's own: the view starts right after it, whatever
   * the cache holds (`history()` answers nothing; the SDK does not cache such a room's view), so an
   * app can commit its side effects and the seq together and resume from exactly there.
   * @default 'beginning'
   */
  from?: RoomStart;
  /**
   * A Standard Schema (valibot, zod, arktype, …) every received body is checked with, synchronously:
   * a message that fails is an `invalid` event (listed by `invalid()`, its place in the view kept)
   * instead of a `message`, and never in `history()`; a valid one's body is what the schema outputs.
   * A schema that answers with a Promise fails every body and the room emits `error` (`bad_request`).
   * @default none: bodies are handed as received
   * @example
   * const room = client.room('party:abc', { schema: v.object({ text: v.string() }) });
   * room.on('invalid', ({ seq, sender, issues }) => console.warn(seq, sender, issues));
   */
  schema?: StandardSchemaV1;
}

/** Where a tab's view of a room starts (see {@link RoomOptions.from}). */
export type RoomStart = 'beginning' | 'now' | AppPosition | HistoryWindow;

/** A history window: the view starts at the room's newest `last` messages; `room.loadOlder()` reaches further back. */
export interface HistoryWindow {
  last: number;
}

/** What `room.loadOlder()` found: older messages in seq order, and whether the log holds more before them. */
export interface OlderMessages {
  messages: RoomMessage[];
  hasMore: boolean;
}

/** What a room needs from its client (internal). */
export interface RoomHost {
  readonly connection: Connection;
  readonly outbox: OutboxStore;
  readonly inbox: InboxStore;
  readonly settings: {
    pageSize: number;
    maxPageBytes: number;
    inboxLimit: number;
    inboxMaxBytes: number;
    requestTimeoutMs: number;
    maxBodyBytes: number;
    gapFillDelayMs: number;
  };
  readonly scheduler: Scheduler;
  assertOpen(): void;
  /** The `sub` this client acts for, when known (the join ack's `caller` wins). */
  identity(): string | undefined;
  enqueue(type: string, room: string, body: string): Promise<PublishHandle>;
  /** A message reached this tab through the log: if it is one of ours (same id and sender), it is sent. */
  delivered(room: string, id: string, sender: string, seq: number): void;
  /** The shared cache could not be written (quota, storage trouble): delivery goes on without it. */
  cacheFailed(error: unknown): void;
  forget(room: string): void;
}

/**
 * One room: publish into its log, receive its log exactly once and in order, see your own
 * messages' status. Get it with `client.room(name)`.
 *
 * **Receive contract.** Each tab has its own view of the room: what `history()` returned at open,
 * then every `message` event — one gap-free, duplicate-free run in log order, from seq 1 (or from
 * where the view started, see {@link RoomOptions.from}), whatever other tabs of the profile do,
 * across reloads and crashes (the next session's `history()` holds what was handed before).
 * `history()` always answers the view so far: call it right after opening the room (listen to
 * `message` in the same turn, or right after it resolves) — events continue exactly after it. A
 * `reset` is the only way the run breaks, and it says why.
 *
 * @example
 * const room = client.room('party:abc');
 * room.on('message', (m) => render(m.seq, m.sender, m.body));
 * for (const m of await room.history()) render(m.seq, m.sender, m.body);
 * room.on('reset', ({ reason }) => reason !== 'trimmed' && clearScreen());
 * const handle = await room.publish('chat', { text: 'I bring the cake' });
 * const { seq } = await handle.sent;
 */
export class Room {
  readonly name: string;
  /** Who is here, kept by the relays: enter, update, leave, members(), and the `presence` event. */
  readonly presence: RoomPresence;
  readonly #host: RoomHost;
  readonly #from: RoomStart;
  readonly #schema: StandardSchemaV1 | undefined;
  /** The view's invalid messages so far, in seq order. */
  #invalid: InvalidMessage[] = [];
  #asyncSchemaReported = false;
  readonly #events = new Emitter<RoomEvents>();
  /** The sync's decisions (room-sync-machine.ts); this class runs its commands. */
  readonly #runner: MachineRunner<RoomSyncState, RoomSyncEvent, RoomSyncCommand>;
  /** The room's one scheduler slot: a gap to fill, a retry after a refusal, a pause after a reset storm. */
  readonly #slot: string;
  /** The view as handed to the app so far (what `history()` and `loadOlder()` go by); undefined until opened. */
  #handed: ViewMark | undefined;
  /** No cache for this view: the app owns its position. */
  #appOwned = false;
  /** Serialises local steps (open, cache writes with their app events, history snapshots); never waits on the network. */
  #local: Promise<unknown> = Promise.resolve();
  #closed = false;
  /**
   * A delivery was withheld (the room closed before it was stored): the app's view stops there, so no
   * later step tells it of, or stores, a view it was never handed — the next session goes on from the cache.
   */
  #withheld = false;
  /** loadOlder calls, one after another. */
  #older: Promise<unknown> = Promise.resolve();
  /** Waiting for the view to get its place in the log. */
  readonly #placed: (() => void)[] = [];
  /** The view's messages as their annotations left them: the newest FOLDED_MESSAGES of them. */
  readonly #fold = new MessageFold({ maxMessages: FOLDED_MESSAGES });
  /** This member's read position and unread count. */
  #read = new ReadState();
  /** Members' read positions (sub → seq), the furthest RECEIPTS of them. */
  readonly #receipts = new Map<string, number>();
  /** The token's `sub`, from the join ack. */
  #caller: string | undefined;
  /** Whether the token grants `receipts` (the join said so): others' posts then move their positions here too. */
  #seesReceipts = false;

  /** @internal use `client.room(name)` */
  constructor(name: string, host: RoomHost, options: RoomOptions = {}) {
    if (!isValidRoomName(name)) throw new PartylineError(PartylineErrorKind.InvalidRoom, `invalid room name ${JSON.stringify(name)}`, { retryable: false });
    this.name = name;
    this.#host = host;
    this.#slot = `room:${name}`;
    const from = options.from ?? 'beginning';
    if (typeof from === 'object' && 'last' in from) {
      if (!Number.isSafeInteger(from.last) || from.last < 1) throw badRequest('from: a history window needs { last: integer ≥ 1 }');
    } else if (typeof from === 'object' && (typeof from.epoch !== 'string' || !Number.isSafeInteger(from.seq) || from.seq < 0)) {
      throw badRequest('from: an app position needs { epoch: string, seq: integer ≥ 0, id? }');
    }
    this.#from = from;
    this.#schema = options.schema;
    const config: RoomSyncConfig = {
      room: name,
      pageSize: host.settings.pageSize,
      gapFillDelayMs: host.settings.gapFillDelayMs,
      head: from === 'now' ? { last: undefined } : typeof from === 'object' && 'last' in from ? { last: from.last } : undefined,
      now: () => host.scheduler.clock.now(),
      backoff: (attempt, retryAfterMs) => host.scheduler.backoff(attempt, retryAfterMs),
      newBranch: createMessageId,
    };
    this.#runner = new MachineRunner('room', initialRoomSyncState(), (state, event) => roomSyncTransition(state, event, config), (command) => this.#run(command), host.scheduler);
    this.presence = new RoomPresence(name, {
      connection: host.connection,
      requestTimeoutMs: host.settings.requestTimeoutMs,
      scheduler: host.scheduler,
      assertOpen: () => host.assertOpen(),
      emit: (context) => this.#events.emit('presence', context),
      fail: (error) => this.#events.emit('error', { room: name, error }),
    });
    // Open first: the view is fixed before any event or history() answer.
    void this.#step(() => this.#open());
  }

  /**
   * Listens to a room event; returns a function that stops listening.
   *
   * @example
   * const stop = room.on('reset', ({ reason }) => showNotice(`history restarted: ${reason}`));
   */
  on<K extends keyof RoomEvents>(event: K, listener: (context: RoomEvents[K]) => void): Unsubscribe {
    if (event === 'presence') this.presence._watch();
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
    this.#assertUsable();
    if (isReservedType(type)) throw badRequest(`type ${JSON.stringify(type)}: the pl: prefix is reserved (use edit, delete, react, unreact, markRead)`);
    return this.#host.enqueue(type, this.name, encodeBody(type, body, this.#host.settings.maxBodyBytes));
  }

  /**
   * Replaces the body of one of your messages (a moderator's: anyone's), through the outbox like a
   * publish — also for a message still pending. `sent` rejects with `not_found` (no such message in
   * the log), `message_deleted` or `forbidden`.
   *
   * @example
   * const { sent } = await room.edit(id, { text: 'I bring the big cake' });
   */
  async edit(id: string, body: unknown): Promise<PublishHandle> {
    return this.#annotate(AnnotationType.Edit, id, { body: encodeJson(body, this.#host.settings.maxBodyBytes, 'body') });
  }

  /** Deletes one of your messages (a moderator's: anyone's): its body and reactions go, its place stays. */
  async delete(id: string): Promise<PublishHandle> {
    return this.#annotate(AnnotationType.Delete, id, {});
  }

  /**
   * Adds your reaction `key` (1–64 bytes, e.g. an emoji) to a message; reacting twice changes
   * nothing (`sent` still resolves).
   *
   * @example
   * await room.react(message.id, '🎉');
   */
  async react(id: string, key: string): Promise<PublishHandle> {
    return this.#annotate(AnnotationType.React, id, { key: reactionKey(key) });
  }

  /** Takes your reaction `key` back (none held: changes nothing). */
  async unreact(id: string, key: string): Promise<PublishHandle> {
    return this.#annotate(AnnotationType.Unreact, id, { key: reactionKey(key) });
  }

  /**
   * The view's message with this id as its edits, deletes and reactions left it (the view keeps the
   * newest 10 000 messages folded; older ones answer undefined).
   */
  message(id: string): FoldedMessage | undefined {
    return (this.#caller !== undefined && this.#fold.byId(id, this.#caller)) || this.#fold.byId(id);
  }

  /** The view's messages (not the annotations), folded, in seq order (the newest 10 000). */
  messages(): FoldedMessage[] {
    return this.#fold.messages();
  }

  /**
   * Marks the room read up to `seq` (default: the newest message handed to this view), through the
   * outbox; never moves back. Other tabs and devices of the same user see it as a `read` event.
   *
   * @example
   * room.on('message', () => document.hasFocus() && room.markRead());
   */
  async markRead(seq?: number): Promise<void> {
    this.#assertUsable();
    if (seq !== undefined && (!Number.isSafeInteger(seq) || seq < 0)) throw badRequest('markRead: seq must be an integer ≥ 0');
    const newest = this.#handed?.view.lastSeq ?? 0;
    // Not past what this view was handed: the relay would cap it at its head anyway.
    const target = Math.min(seq ?? newest, newest);
    if (!this.#read.moveTo(target)) return;
    await this.#host.enqueue(AnnotationType.Read, this.name, JSON.stringify({ seq: target }));
  }

  /** This member's read position in the room and how many messages after it it has not read. */
  readState(): ReadStateSnapshot {
    return { readSeq: this.#read.readSeq, unread: this.#read.unread };
  }

  /** Members' read positions, furthest first (when the token grants `receipts`; else only this member's own). */
  receipts(): ReadPosition[] {
    return [...this.#receipts].map(([sub, seq]) => ({ sub, seq })).sort((a, b) => b.seq - a.seq || (a.sub < b.sub ? -1 : 1));
  }

  #assertUsable(): void {
    this.#host.assertOpen();
    if (this.#closed) throw new PartylineError(PartylineErrorKind.Closed, `left room ${this.name}`);
  }

  /** Queues an annotation of message `id`: naming its sender and seq when the view holds it (else the relay takes it as the sender's own). */
  async #annotate(type: string, id: string, fields: object): Promise<PublishHandle> {
    this.#assertUsable();
    if (typeof id !== 'string' || !MESSAGE_ID_PATTERN.test(id)) throw badRequest(`${type}: invalid message id ${JSON.stringify(id)}`);
    const target = this.message(id);
    const body = encodeJson({ id, ...(target ? { from: target.sender, seq: target.seq } : {}), ...fields }, this.#host.settings.maxBodyBytes, 'body');
    return this.#host.enqueue(type, this.name, body);
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
    await request(this.#host.connection.transport, this.#host.settings.requestTimeoutMs, 'room:signal', { room: this.name, type, body: text });
  }

  /**
   * This tab's view so far, in seq order: on the first call, what the profile's cache holds (works
   * offline and right after a reload); later, everything handed since too, as far as the cache keeps
   * (see `inboxMaxBytes`): the view then starts at the oldest message it still holds, and
   * `loadOlder()` reads what came before from the relay. The next `message` event continues exactly
   * after the last message answered — no overlap, no gap.
   *
   * @example
   * const room = client.room('party:abc');
   * room.on('message', show);
   * (await room.history()).forEach(show); // then the events continue it
   */
  async history(): Promise<RoomMessage[]> {
    this.#host.assertOpen();
    return this.#step(async () => {
      const handed = this.#handed;
      const epoch = handed?.view.epoch;
      let cached: StoredMessage[] = [];
      if (handed && epoch !== undefined && !this.#appOwned) {
        const { view, start, generation } = handed;
        cached = await this.#host.inbox.history(this.name, { epoch, branch: view.branch }, start, view.lastSeq);
        // The cache let its oldest go (its limits): the view starts at what it answers, so loadOlder() continues it.
        const first = cached[0]?.seq ?? view.lastSeq + 1;
        if (first > start) this.#dispatch({ type: 'older', generation, from: start, start: first });
      }
      // Let the caller's continuation run before this room hands out the next event.
      await nextMacrotask();
      for (const message of cached) this.#take(message);
      const checked = cached.map((message) => this.#toApp(message));
      // The view so far is the cache's (an app-owned view has none: its events' list stays).
      if (!this.#appOwned) this.#invalid = checked.filter(isInvalid);
      return checked.filter((message) => !isInvalid(message));
    });
  }

  /**
   * The `limit` messages before the start of this tab's view, in seq order — from the profile's cache
   * when it holds them, from the relay otherwise — and whether the log holds more before them. The
   * view's start moves back over them (`history()` includes them from then on, as far as the cache
   * keeps); `message` events are unaffected. Resolves with none when the view is at the start of the log.
   *
   * @example
   * list.onscroll = async () => {
   *   if (list.scrollTop > 0) return;
   *   const { messages, hasMore } = await room.loadOlder(50);
   *   prepend(messages); if (!hasMore) showStart();
   * };
   */
  loadOlder(limit = 50): Promise<OlderMessages> {
    this.#host.assertOpen();
    if (!Number.isSafeInteger(limit) || limit < 1) throw badRequest('loadOlder: limit must be an integer ≥ 1');
    // One at a time: each continues where the one before it ended.
    const run = this.#older.then(() => this.#loadOlder(limit));
    this.#older = run.catch(() => {});
    return run;
  }

  async #loadOlder(limit: number): Promise<OlderMessages> {
    // A view not yet placed in the log (a window still on its way) has no start to go back from: wait for it.
    if (this.#handed?.view.epoch === undefined) await new Promise<void>((resolve) => this.#placed.push(resolve));
    const mark = await this.#step(async () => this.#handed);
    if (this.#closed || !mark || mark.view.epoch === undefined || mark.start <= 1) return { messages: [], hasMore: false };
    const { view, start, generation } = mark;
    const lineage = { epoch: view.epoch!, branch: view.branch };
    const wanted = Math.min(limit, this.#host.settings.pageSize, start - 1);
    let older: SummarizedMessage[] = [];
    let hasMore = false;
    if (!this.#appOwned) {
      const cached = await this.#host.inbox.lastMessages(this.name, lineage, start, wanted).catch(() => []);
      // Only a run without a hole that ends right before the view, with `wanted` messages or from seq 1, serves as is.
      const first = cached[0]?.seq ?? start;
      if (first < start && cached.every((message, at) => message.seq === first + at) && cached.at(-1)?.seq === start - 1 && (first === 1 || countMessages(cached) === wanted)) {
        older = cached;
        hasMore = first > 1;
      }
    }
    if (older.length === 0) {
      const page = this.#page(await request(this.#host.connection.transport, this.#host.settings.requestTimeoutMs, 'room:read', { room: this.name, before: start, limit: wanted }), wanted, true);
      // Another log than the view's: a positioned read finds out what changed and says so with a reset.
      if (page.epoch !== view.epoch) {
        this.#dispatch({ type: 'check' });
        return { messages: [], hasMore: false };
      }
      older = page.messages.filter((message) => message.seq < start);
      hasMore = page.hasOlder === true;
      if (!this.#appOwned && older.length > 0) {
        await this.#host.inbox.addOlder(this.name, lineage, older, this.#host.settings).catch((error: unknown) => this.#host.cacheFailed(error));
      }
    }
    return this.#step(async () => {
      // A reset restarted the view meanwhile: these are the old history's, not this view's.
      if (this.#handed?.generation !== generation) return { messages: [], hasMore: false };
      const first = older[0];
      if (first) this.#dispatch({ type: 'older', generation, from: start, start: first.seq });
      for (const message of older) this.#take(message);
      // Let the caller's continuation run before this room hands out the next event.
      await nextMacrotask();
      const checked = older.map((message) => this.#toApp(message));
      this.#invalid.unshift(...checked.filter(isInvalid));
      return { messages: checked.filter((message) => !isInvalid(message)), hasMore };
    });
  }

  /** The view's messages whose body failed the room's `schema` (as far as `history()` and the events went), in seq order. */
  invalid(): InvalidMessage[] {
    return this.#invalid.slice();
  }

  /** This room's messages still in the outbox (from this tab, other tabs and earlier sessions), in publish order. */
  async pending(): Promise<PendingMessage[]> {
    this.#host.assertOpen();
    return (await this.#host.outbox.list(this.name)).map((entry) => ({
      id: entry.id,
      room: entry.room,
      type: entry.type,
      body: parseJson(entry.body),
      createdAt: entry.createdAt,
      attempts: entry.attempts,
    }));
  }

  /** Stops receiving this room (its outbox entries are still delivered). */
  leave(): void {
    if (this.#closed) return;
    this.presence._close();
    this.#host.connection.transport?.send('room:leave', { room: this.name });
    this.#host.forget(this.name);
    this._close();
  }

  // ---- internal, called by the client ----

  /** @internal whether `options` ask for this room as it is open (the same `from` and `schema`) */
  _opensAs(options: RoomOptions = {}): boolean {
    return sameStart(this.#from, options.from ?? 'beginning') && this.#schema === options.schema;
  }

  /** @internal whether the app listens to `status` here (publish builds no event nobody hears). */
  _hearsStatus(): boolean {
    return this.#events.has('status');
  }

  /** @internal */
  _emitStatus(context: StatusContext): void {
    this.#events.emit('status', context);
  }

  /** @internal a connection came up: join and catch up */
  _connected(): void {
    this.#dispatch({ type: 'connected' });
    this.presence._connected();
  }

  /** @internal */
  _disconnected(): void {
    this.#dispatch({ type: 'disconnected' });
  }

  /** @internal live messages from the relay (validated; an undecodable event is dropped — the log fills any gap) */
  _messages(raw: unknown): void {
    const event = checkRoomMessagesEvent(raw);
    if (!event.ok) return;
    const { messages } = event.value;
    // More than a page (ours, or a default relay's) is not held: the log is read instead, in bounded pages.
    const { pageSize, maxPageBytes } = this.#host.settings;
    if (messages.length > Math.max(pageSize, DEFAULT_LIMITS.maxPageSize) || bytesOf(messages) > maxPageBytes) return this.#dispatch({ type: 'check' });
    const entries = liveEntries(event.value.epoch, event.value.messages, event.value.links);
    this.#dispatch({ type: 'live', entries });
  }

  /**
   * @internal the ack of a publish this connection sent (of this tab's entries or another's): the relay
   * does not echo appended messages to their publisher (protocol 3), so they enter the view from here,
   * as the echo would have brought them. A resend's duplicate (its first ack lost) or a member not yet
   * named by a join reads the log instead. An ack without `ts` comes from a relay that echoes.
   */
  _published(batch: readonly OutboxEntry[], ack: PublishAck): void {
    if (this.#closed || typeof ack.ts !== 'number' || typeof ack.epoch !== 'string' || !Array.isArray(ack.results)) return;
    const appended: LogMessage[] = [];
    let unseen = false;
    ack.results.forEach((result, i) => {
      const entry = batch[i];
      if (!entry || 'error' in result || !Number.isSafeInteger(result.seq) || result.noop) return;
      if (result.duplicate || this.#caller === undefined) unseen = true;
      else appended.push({ seq: result.seq!, id: entry.id, type: entry.type, body: entry.body, sender: this.#caller, ts: ack.ts! });
    });
    if (appended.length > 0) {
      const links = typeof ack.previousId === 'string' ? [{ seq: appended[0]!.seq - 1, id: ack.previousId }] : [];
      this.#dispatch({ type: 'live', entries: liveEntries(ack.epoch, appended, links) });
    }
    if (unseen) this.#dispatch({ type: 'check' });
  }

  /** @internal */
  _signal(raw: unknown): void {
    const event = checkRoomSignalEvent(raw);
    if (!event.ok) return;
    const { sender, type, body } = event.value;
    this.#events.emit('signal', { room: this.name, sender, type, body: parseJson(body) });
  }

  /** @internal read positions that moved (checked by hand: the client bundle leaves these paths schema-free) */
  _reads(raw: unknown): void {
    const reads = (raw as { reads?: unknown }).reads;
    if (!Array.isArray(reads)) return;
    for (const read of reads as { sub?: unknown; seq?: unknown }[]) {
      if (read && typeof read.sub === 'string' && Number.isSafeInteger(read.seq) && (read.seq as number) >= 0) this.#receipt(read.sub, read.seq as number);
    }
  }

  /** @internal presence changes from the relay */
  _presence(raw: unknown): void {
    this.presence._event(raw);
  }

  /** @internal what `client.inspect()` shows of this room */
  _inspect(): RoomInspection {
    const { view, buffer, phase, joined } = this.#sync;
    return { name: this.name, epoch: view?.epoch, lastSeq: view?.lastSeq ?? 0, waiting: [...buffer.keys()].sort((a, b) => a - b), sync: { state: phase.kind, joined } };
  }

  /** @internal resolves when queued inbound work is done */
  async _idle(): Promise<void> {
    await this.#local.catch(() => {});
  }

  /**
   * @internal No new work starts; a delivery already stored in IndexedDB is still handed to the app
   * (its cursor has moved past it, so withholding it would skip it for good), then listeners go.
   */
  _close(): void {
    this.#closed = true;
    for (const resolve of this.#placed.splice(0)) resolve();
    this.presence._close();
    this.#dispatch({ type: 'close' });
    void this.#local.finally(() => this.#events.clear());
  }

  /** Runs a local step after the ones before it; its failure is its caller's (and never blocks the next). */
  #step<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#local.then(task, task);
    this.#local = run.catch(() => {}).then(() => {
      // Wake what waits for the view to be placed in the log (loadOlder before the first page).
      if (this.#handed?.view.epoch !== undefined || this.#closed) for (const resolve of this.#placed.splice(0)) resolve();
    });
    return run;
  }

  /** Loads the view: the app's position, or what the profile's cache holds. */
  async #open(): Promise<void> {
    const from = this.#from;
    let mark: ViewMark;
    if (typeof from === 'object' && 'epoch' in from) {
      this.#appOwned = true;
      mark = { view: { epoch: from.epoch, lastSeq: from.seq, lastId: from.id, branch: '' }, start: from.seq + 1, generation: 0 };
    } else {
      let stored: RoomCursor | undefined;
      try {
        stored = await this.#host.inbox.cursor(this.name);
      } catch (error) {
        this.#host.cacheFailed(error); // no cache: the view starts from the log
      }
      let start = 1;
      // A window over a cache: the view starts at its newest `last` messages (annotations between them come along).
      if (stored && typeof from === 'object' && 'last' in from) {
        const window = await this.#host.inbox.lastMessages(this.name, { epoch: stored.epoch, branch: stored.branch ?? '' }, stored.lastSeq + 1, from.last).catch(() => []);
        start = window[0]?.seq ?? Math.max(1, stored.lastSeq - from.last + 1);
      }
      mark = { view: stored ? cursorView(stored) : { epoch: undefined, lastSeq: 0, lastId: undefined, branch: '' }, start, generation: 0 };
    }
    this.#handed = mark;
    this.#dispatch({ type: 'opened', view: mark.view, start: mark.start });
  }

  get #sync(): RoomSyncState {
    return this.#runner.state;
  }

  #dispatch(event: RoomSyncEvent): void {
    this.#runner.dispatch(event);
  }

  #run(command: RoomSyncCommand): void {
    const { scheduler } = this.#host;
    switch (command.type) {
      case 'send':
        return void this.#send(command.ticket, command.event, command.payload);
      case 'set_timer':
        return scheduler.schedule(this.#slot, command.delayMs, () => this.#dispatch({ type: 'timer' }), 'replace');
      case 'clear_timer':
        return scheduler.cancel(this.#slot);
      case 'emit_error':
        return this.#events.emit('error', { room: this.name, error: command.error });
      case 'token_refused':
        return this.#host.connection.tokenRefused(this.#host.connection.transport, command.error);
      case 'place':
        return void this.#step(() => this.#place(command.ticket, command.view));
      case 'mark':
        return void this.#step(async () => {
          if (!this.#withheld) this.#handed = command.mark;
        });
      case 'emit_reset':
        return void this.#step(async () => {
          // Decided on deliveries the app was not handed: its view may be all in the log still.
          if (this.#withheld) return;
          this.#handed = command.mark;
          if (command.reset.reason !== 'trimmed') {
            // Another log: its seqs are not the old one's.
            this.#invalid = [];
            this.#fold.clear();
            this.#read = new ReadState();
            this.#receipts.clear();
          }
          this.#events.emit('reset', { room: this.name, ...command.reset });
        });
      case 'restart_cache':
        return void this.#step(() => this.#restartCache(command.expected, command.mark));
      case 'deliver':
        return void this.#step(() => this.#deliver(command.from, command.messages, command.mark, command.dropThrough));
    }
  }

  /** Sends a join or read; its answer (checked) or refusal goes back to the machine with its ticket. */
  async #send(ticket: number, event: 'room:join' | 'room:read', payload: RoomSyncRequest): Promise<void> {
    let page: RoomPage;
    try {
      const transport = this.#host.connection.transport;
      if (!transport) throw new PartylineError(PartylineErrorKind.Disconnected, 'not connected');
      page = this.#page(await transport.request(event, payload, this.#host.settings.requestTimeoutMs), payload.limit ?? payload.last ?? 0, payload.last !== undefined);
    } catch (error) {
      return this.#dispatch({ type: 'refused', ticket, error: toPartylineError(error) });
    }
    if (event === 'room:join') {
      this.#joined(page);
      this.#events.emit('joined', { room: this.name });
    }
    this.#dispatch({ type: 'answer', ticket, page });
  }

  /**
   * The relay's answer as a page of this room, of at most `limit` entries (a `backward` page: `limit`
   * messages, with the annotations between them) and `maxPageBytes`. Anything else breaks the
   * protocol: none of it is cached or handed to the app (a relay could fill both). Each message
   * carries its summary from the page, as of the page's head (the fold and the cache keep it).
   */
  #page(ack: unknown, limit: number, backward = false): RoomPage {
    const page = checkRoomPage(checkAck(ack));
    if (!page.ok) throw new PartylineError(PartylineErrorKind.ProtocolViolation, `bad page from relay: ${page.error}`);
    const { room, messages, summaries, headSeq } = page.value;
    const bytes = bytesOf(messages);
    const counted = backward ? countMessages(messages) : messages.length;
    if (room !== this.name || counted > limit || bytes > this.#host.settings.maxPageBytes) {
      throw new PartylineError(PartylineErrorKind.ProtocolViolation, `bad page from relay: ${counted} messages, ${bytes} bytes for ${room}, asked for ${limit}`);
    }
    if (summaries) {
      for (const message of messages as SummarizedMessage[]) {
        const summary = summaries[message.seq];
        if (summary) Object.assign(message, { summary, summaryAt: headSeq });
      }
    }
    return page.value;
  }

  /** A join's answer: who this member is, where it read up to, and the members' read positions. */
  #joined(page: RoomPage): void {
    if (page.caller !== undefined) {
      this.#caller = page.caller;
      // Messages folded before (from the cache, at open) learn which reactions are this member's.
      for (const message of this.#fold.setCaller(page.caller)) this.#events.emit('update', { room: this.name, id: message.id, message });
    }
    if (page.read) this.#read.joined(page.read, page.headSeq);
    // The relay sends the members' positions only to a token that grants receipts.
    this.#seesReceipts = page.reads !== undefined;
    for (const position of page.reads ?? []) this.#receipt(position.sub, position.seq);
  }

  /** A member's read position moved: kept (this member's own moves its read state), told to the app. */
  #receipt(sub: string, seq: number): void {
    if (sub === this.#caller) this.#read.moveTo(seq);
    if ((this.#receipts.get(sub) ?? -1) >= seq) return;
    this.#receipts.set(sub, seq);
    if (this.#receipts.size > RECEIPTS) {
      // The furthest ones are kept: the one furthest behind goes.
      const [behind] = [...this.#receipts].reduce((low, entry) => (entry[1] < low[1] ? entry : low));
      this.#receipts.delete(behind);
    }
    this.#events.emit('read', { room: this.name, sub, seq });
  }

  /** Folds one entry of the view in and counts it for the read state; answers the held message it changed, if any. */
  #take(entry: SummarizedMessage): FoldedMessage | undefined {
    const held = isAnnotationType(entry.type) || this.#fold.bySeq(entry.seq) !== undefined;
    const changed = this.#fold.apply(entry, summaryPage(entry));
    if (!isReservedType(entry.type)) {
      const mine = entry.sender === (this.#caller ?? this.#host.identity());
      this.#read.message(entry.seq, mine);
      // A post moves its sender's read position to it; the relay does not announce that (the message says it).
      if (mine || this.#seesReceipts) this.#receipt(entry.sender, entry.seq);
    }
    return held ? changed : undefined;
  }

  /** Creates the profile's cursor at the head only if none exists, and tells the machine which one is stored. */
  async #place(ticket: number, view: ViewPosition): Promise<void> {
    // Another tab's cursor is never moved past messages it has not cached (later tabs would see a gap).
    await this.#commit(view, view.lastSeq, []);
    const stored = this.#appOwned ? undefined : await this.#host.inbox.cursor(this.name).catch(() => undefined);
    this.#dispatch({ type: 'placed', ticket, stored: stored && cursorView(stored) });
  }

  /** Starts the cache over (guarded); another tab that started over first names the branch to follow. */
  async #restartCache(expected: CacheLineage | undefined, mark: ViewMark): Promise<void> {
    if (this.#withheld) return;
    this.#handed = mark;
    const { view } = mark;
    if (this.#appOwned || view.epoch === undefined) return;
    try {
      const stored = await this.#host.inbox.reset(expected, toCursor(this.name, view.epoch, view));
      if (stored.epoch === view.epoch) this.#dispatch({ type: 'branch', generation: mark.generation, epoch: view.epoch, branch: stored.branch ?? '' });
    } catch (error) {
      this.#host.cacheFailed(error);
    }
  }

  /** Stores (best effort) then hands to the app messages that continue the view exactly. */
  async #deliver(from: number, messages: readonly LogMessage[], mark: ViewMark, dropThrough?: number): Promise<void> {
    // Nothing stored yet: a closed room hands nothing more.
    if (this.#closed) {
      this.#withheld = true;
      return;
    }
    await this.#commit(mark.view, from, messages, dropThrough);
    // Stored means the cursor moved past these: hand them over even if the client is closing.
    this.#handed = mark;
    for (const message of messages) {
      this.#host.delivered(this.name, message.id, message.sender, message.seq);
      const changed = this.#take(message);
      const app = this.#toApp(message);
      if (isInvalid(app)) {
        this.#invalid.push(app);
        this.#events.emit('invalid', app);
      } else this.#events.emit('message', app);
      if (changed) this.#events.emit('update', { room: this.name, id: changed.id, message: changed });
    }
  }

  /** A log message as the app gets it: checked by the room's `schema`, if any. */
  #toApp(message: LogMessage): RoomMessage | InvalidMessage {
    const app = toRoomMessage(this.name, message);
    if (!this.#schema) return app;
    const checked = checkBody(this.#schema, app.body);
    if (!checked.issues) return { ...app, body: checked.value };
    if (checked.issues === ASYNC_SCHEMA_ISSUES && !this.#asyncSchemaReported) {
      this.#asyncSchemaReported = true;
      this.#events.emit('error', { room: this.name, error: badRequest(ASYNC_SCHEMA_ISSUES[0]!.message) });
    }
    return { ...app, issues: checked.issues };
  }

  /** Writes the shared cache; failing storage (quota) never stops delivery — the cache is optional. */
  async #commit(view: ViewPosition, from: number, messages: readonly LogMessage[], dropThrough?: number): Promise<void> {
    if (this.#appOwned || view.epoch === undefined) return;
    try {
      await this.#host.inbox.commit(toCursor(this.name, view.epoch, view), from, messages, this.#host.settings, dropThrough);
    } catch (error) {
      this.#host.cacheFailed(error);
    }
  }
}

/** How many messages of the view a room keeps folded (`message(id)`, `messages()`): the newest ones. */
const FOLDED_MESSAGES = 10_000;
/** How many members' read positions a room keeps (the furthest). */
const RECEIPTS = 1000;

/** A refused call: nothing was queued or sent (never retryable). */
function badRequest(message: string): PartylineError {
  return new PartylineError(PartylineErrorKind.BadRequest, message);
}

function countMessages(entries: readonly LogMessage[]): number {
  let count = 0;
  for (const entry of entries) if (!isAnnotationType(entry.type)) count++;
  return count;
}

function reactionKey(key: string): string {
  if (!isReactionKey(key)) throw badRequest('a reaction key is 1–64 UTF-8 bytes without control characters');
  return key;
}

function isInvalid(message: RoomMessage | InvalidMessage): message is InvalidMessage {
  return 'issues' in message;
}

function sameStart(a: RoomStart, b: RoomStart): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  if ('last' in a || 'last' in b) return 'last' in a && 'last' in b && a.last === b.last;
  return a.epoch === b.epoch && a.seq === b.seq && a.id === b.id;
}

function cursorView(stored: RoomCursor): ViewPosition {
  return { epoch: stored.epoch, lastSeq: stored.lastSeq, lastId: stored.lastId, branch: stored.branch ?? '' };
}

function toCursor(room: string, epoch: string, view: ViewPosition): RoomCursor {
  return { room, epoch, lastSeq: view.lastSeq, branch: view.branch, ...(view.lastId !== undefined ? { lastId: view.lastId } : {}) };
}

/** Resolves after the current task: promise continuations waiting on the caller run first. */
function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}


function encodeBody(type: string, body: unknown, maxBodyBytes: number): string {
  if (!isMessageType(type)) throw badRequest(`invalid message type ${JSON.stringify(type)}`);
  return encodeJson(body, maxBodyBytes, 'body');
}

function toRoomMessage(room: string, message: LogMessage): RoomMessage {
  return { room, seq: message.seq, id: message.id, type: message.type, body: parseJson(message.body), sender: message.sender, ts: message.ts };
}
