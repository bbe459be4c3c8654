import {
  DEFAULT_LIMITS,
  isValidRoomName,
  MessageTypeSchema,
  RoomMessagesEventSchema,
  RoomPageSchema,
  RoomSignalEventSchema,
  utf8ByteLength,
  validate,
  type LogMessage,
  type RoomPage,
} from '@partyline/protocol';
import type { Connection } from './connection.js';
import type { RoomCursor } from './database.js';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
import { Emitter, type Unsubscribe } from './events.js';
import type { RoomInspection } from './inspect.js';
import { encodeJson, parseJson } from './json-text.js';
import { request } from './request.js';
import { RoomPresence, type PresenceContext } from './room-presence.js';
import type { InboxStore } from './inbox-store.js';
import { createMessageId } from './message-id.js';
import type { OutboxStore } from './outbox-store.js';
import type { Scheduler } from './scheduler.js';
import type { Transport } from './transport.js';
import { contradicts, continuing, decidePage, liveEntries, positionRequest, type LiveEntry, type PositionRequest, type ViewPosition } from './view-position.js';

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
  /** Members joined, left or changed their data (see {@link RoomPresence}); listening starts following them. */
  presence: PresenceContext;
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
    inboxLimit: number;
    requestTimeoutMs: number;
    maxBodyBytes: number;
    gapFillDelayMs: number;
  };
  readonly scheduler: Scheduler;
  assertOpen(): void;
  enqueue(type: string, room: string, body: string): Promise<PublishHandle>;
  /** A message reached this tab through the log: if it is one of ours (same id and sender), it is sent. */
  delivered(room: string, id: string, sender: string, seq: number): void;
  /** The shared cache could not be written (quota, storage trouble): delivery goes on without it. */
  cacheFailed(error: unknown): void;
  forget(room: string): void;
}

/** Live messages a room holds beyond a gap before it drops them and reads the log instead. */
const MAX_BUFFERED = 10_000;

/** How many of the latest handed messages a room remembers the ids of (to check live messages against). */
const RECENT_IDS = 1024;

/** Resets (epoch changes, divergences) this close together mean a relay or store is flapping: back off. */
const RESET_STORM = { count: 3, withinMs: 60_000 };

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
  readonly #events = new Emitter<RoomEvents>();
  /** This tab's view: undefined until opened (from the shared cache, or the app's position). */
  #view: ViewPosition | undefined;
  /** The first seq of the view that `history()` answers from (the cache's part of it). */
  #viewStart = 1;
  /** No cache for this view: the app owns its position. */
  #appOwned = false;
  /** Serialises local steps (open, apply a page, live messages, history snapshots); never waits on the network. */
  #local: Promise<unknown> = Promise.resolve();
  /** Live messages beyond the view, waiting for the ones before them. */
  readonly #buffer = new Map<number, LiveEntry>();
  #pumping = false;
  #pumpAgain = false;
  /** The next request must be a join (a new connection). */
  #joinDue = false;
  /** The scheduler slot of every later read: a gap to fill, a retry after a failure, a pause after a reset storm. */
  readonly #pumpSlot: string;
  #resyncAttempt = 0;
  /** Escalates the pause while resets keep coming; no read is due before `#holdUntil`. */
  #stormAttempt = 0;
  #holdUntil = 0;
  readonly #recentResets: number[] = [];
  /** Ids of the latest messages handed to the app, to spot live messages of a log that reused their seqs. */
  readonly #recentIds = new Map<number, string>();
  #closed = false;
  /** loadOlder calls, one after another. */
  #older: Promise<unknown> = Promise.resolve();
  /** Waiting for the view to get its place in the log. */
  readonly #placed: (() => void)[] = [];

  /** @internal use `client.room(name)` */
  constructor(name: string, host: RoomHost, options: RoomOptions = {}) {
    if (!isValidRoomName(name)) throw new PartylineError(PartylineErrorKind.InvalidRoom, `invalid room name ${JSON.stringify(name)}`, { retryable: false });
    this.name = name;
    this.#host = host;
    this.#pumpSlot = `room:${name}`;
    const from = options.from ?? 'beginning';
    if (typeof from === 'object' && 'last' in from) {
      if (!Number.isSafeInteger(from.last) || from.last < 1) throw new PartylineError(PartylineErrorKind.BadRequest, 'from: a history window needs { last: integer ≥ 1 }', { retryable: false });
    } else if (typeof from === 'object' && (typeof from.epoch !== 'string' || !Number.isSafeInteger(from.seq) || from.seq < 0)) {
      throw new PartylineError(PartylineErrorKind.BadRequest, 'from: an app position needs { epoch: string, seq: integer ≥ 0, id? }', { retryable: false });
    }
    this.#from = from;
    this.presence = new RoomPresence(name, {
      connection: host.connection,
      requestTimeoutMs: host.settings.requestTimeoutMs,
      scheduler: host.scheduler,
      assertOpen: () => host.assertOpen(),
      emit: (context) => this.#events.emit('presence', context),
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
    this.#host.assertOpen();
    if (this.#closed) throw new PartylineError(PartylineErrorKind.Closed, `left room ${this.name}`);
    return this.#host.enqueue(type, this.name, encodeBody(type, body, this.#host.settings.maxBodyBytes));
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
   * offline and right after a reload); later, everything handed since too (as far as the cache
   * keeps, see `inboxLimit`). The next `message` event continues exactly after the last message
   * answered — no overlap, no gap.
   *
   * @example
   * const room = client.room('party:abc');
   * room.on('message', show);
   * (await room.history()).forEach(show); // then the events continue it
   */
  async history(): Promise<RoomMessage[]> {
    this.#host.assertOpen();
    return this.#step(async () => {
      const view = this.#view;
      const cached =
        !view || view.epoch === undefined || this.#appOwned ? [] : await this.#host.inbox.history(this.name, { epoch: view.epoch, branch: view.branch }, this.#viewStart, view.lastSeq);
      // Let the caller's continuation run before this room hands out the next event.
      await nextMacrotask();
      return cached.map((message) => toRoomMessage(this.name, message));
    });
  }

  /**
   * The `limit` messages before the start of this tab's view, in seq order — from the profile's cache
   * when it holds them, from the relay otherwise — and whether the log holds more before them. The
   * view's start moves back over them (`history()` includes them from then on); `message` events are
   * unaffected. Resolves with none when the view is at the start of the log.
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
    if (!Number.isSafeInteger(limit) || limit < 1) throw new PartylineError(PartylineErrorKind.BadRequest, 'loadOlder: limit must be an integer ≥ 1', { retryable: false });
    // One at a time: each continues where the one before it ended.
    const run = this.#older.then(() => this.#loadOlder(limit));
    this.#older = run.catch(() => {});
    return run;
  }

  async #loadOlder(limit: number): Promise<OlderMessages> {
    // A view not yet placed in the log (a window still on its way) has no start to go back from: wait for it.
    if (this.#view?.epoch === undefined) await new Promise<void>((resolve) => this.#placed.push(resolve));
    const { view, start } = await this.#step(async () => ({ view: this.#view, start: this.#viewStart }));
    if (this.#closed || !view || view.epoch === undefined || start <= 1) return { messages: [], hasMore: false };
    const wanted = Math.min(limit, this.#host.settings.pageSize, start - 1);
    let older: LogMessage[] = [];
    let hasMore = false;
    if (!this.#appOwned) {
      const cached = await this.#host.inbox.history(this.name, { epoch: view.epoch, branch: view.branch }, start - wanted, start - 1).catch(() => []);
      // Only a run that ends right before the view and has no hole serves as is.
      if (cached.length === wanted && cached.at(-1)?.seq === start - 1) older = cached;
      hasMore = start - wanted > 1;
    }
    if (older.length === 0) {
      const page = checkPage(await request(this.#host.connection.transport, this.#host.settings.requestTimeoutMs, 'room:read', { room: this.name, before: start, limit: wanted }), this.name);
      // Another log than the view's: the pump finds out what changed and says so with a reset.
      if (page.epoch !== view.epoch) {
        this.#pumpLater(0);
        return { messages: [], hasMore: false };
      }
      older = page.messages.filter((message) => message.seq < start);
      hasMore = page.hasOlder === true;
      if (!this.#appOwned && older.length > 0) {
        await this.#host.inbox.addOlder(this.name, { epoch: view.epoch, branch: view.branch }, older, this.#host.settings.inboxLimit).catch((error: unknown) => this.#host.cacheFailed(error));
      }
    }
    const first = older[0];
    await this.#step(async () => {
      if (first && this.#view?.epoch === view.epoch && this.#viewStart === start) this.#viewStart = first.seq;
    });
    return { messages: older.map((message) => toRoomMessage(this.name, message)), hasMore };
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

  /** @internal */
  _emitStatus(context: StatusContext): void {
    this.#events.emit('status', context);
  }

  /** @internal a connection came up: join and catch up */
  _connected(): void {
    this.#buffer.clear();
    this.#joinDue = true;
    void this.#pump();
    this.presence._connected();
  }

  /** @internal */
  _disconnected(): void {
    this.#buffer.clear();
    this.#host.scheduler.cancel(this.#pumpSlot);
  }

  /** @internal live messages from the relay (validated; an undecodable event is dropped — the log fills any gap) */
  _messages(raw: unknown): void {
    const event = validate(RoomMessagesEventSchema, raw);
    if (!event.ok) return;
    const entries = liveEntries(event.value.epoch, event.value.messages, event.value.links);
    void this.#step(() => this.#live(entries));
  }

  /** @internal */
  _signal(raw: unknown): void {
    const event = validate(RoomSignalEventSchema, raw);
    if (!event.ok) return;
    const { sender, type, body } = event.value;
    this.#events.emit('signal', { room: this.name, sender, type, body: parseJson(body) });
  }

  /** @internal presence changes from the relay */
  _presence(raw: unknown): void {
    this.presence._event(raw);
  }

  /** @internal what `client.inspect()` shows of this room */
  _inspect(): RoomInspection {
    return { name: this.name, epoch: this.#view?.epoch, lastSeq: this.#view?.lastSeq ?? 0, waiting: [...this.#buffer.keys()].sort((a, b) => a - b) };
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
    this._disconnected();
    void this.#local.finally(() => this.#events.clear());
  }

  /** Runs a local step after the ones before it; its failure is its caller's (and never blocks the next). */
  #step<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#local.then(task, task);
    this.#local = run.catch(() => {}).then(() => {
      // Wake what waits for the view to be placed in the log (loadOlder before the first page).
      if (this.#view?.epoch !== undefined || this.#closed) for (const resolve of this.#placed.splice(0)) resolve();
    });
    return run;
  }

  async #open(): Promise<void> {
    if (this.#view) return;
    const from = this.#from;
    if (typeof from === 'object' && 'epoch' in from) {
      this.#appOwned = true;
      this.#viewStart = from.seq + 1;
      this.#view = { epoch: from.epoch, lastSeq: from.seq, lastId: from.id, branch: '' };
      return;
    }
    let stored: RoomCursor | undefined;
    try {
      stored = await this.#host.inbox.cursor(this.name);
    } catch (error) {
      this.#host.cacheFailed(error); // no cache: the view starts from the log
    }
    this.#view = stored
      ? { epoch: stored.epoch, lastSeq: stored.lastSeq, lastId: stored.lastId, branch: stored.branch ?? '' }
      : { epoch: undefined, lastSeq: 0, lastId: undefined, branch: '' };
    // A window over a cache: the view starts at its newest `last` messages.
    if (stored && typeof from === 'object' && 'last' in from) this.#viewStart = Math.max(1, stored.lastSeq - from.last + 1);
  }

  /**
   * The catch-up loop: join (on a new connection) or read from the view's position, apply each page
   * as a local step, page on while the log has more; then deliver what waited. One loop per room;
   * a request for more while it runs makes it go round again.
   */
  async #pump(): Promise<void> {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        await this.#step(() => this.#open());
        for (let more = true; more; ) {
          const transport = this.#host.connection.transport;
          if (!transport || this.#closed) return;
          more = await this.#fetchAndApply(transport);
        }
        await this.#step(() => this.#drain());
        this.#resyncAttempt = 0;
      } while (this.#pumpAgain && !this.#closed);
    } catch (error) {
      this.#failed(error);
    } finally {
      this.#pumping = false;
      if (this.#pumpAgain && !this.#closed && this.#host.scheduler.dueAt(this.#pumpSlot) === undefined) void this.#pump();
    }
  }

  /** One request and its page; answers whether to read on. */
  async #fetchAndApply(transport: Transport): Promise<boolean> {
    const view = this.#view!;
    const join = this.#joinDue;
    const limit = this.#host.settings.pageSize;
    const timeout = this.#host.settings.requestTimeoutMs;
    // A room this profile never read, opened `from: 'now'` or with a window: join at the head (with the window).
    const from = this.#from;
    const window = typeof from === 'object' && 'last' in from ? from.last : undefined;
    const atHead = join && view.epoch === undefined && (from === 'now' || window !== undefined);
    const position = positionRequest(view);
    let ack: unknown;
    try {
      ack = atHead
        ? await transport.request('room:join', window === undefined ? { room: this.name, limit } : { room: this.name, last: window }, timeout)
        : await transport.request(join ? 'room:join' : 'room:read', { room: this.name, limit, ...position }, timeout);
    } catch (error) {
      if (transport !== this.#host.connection.transport) return false; // that connection is gone; the next one joins at once
      throw error;
    }
    if (transport !== this.#host.connection.transport) return false;
    if (join) this.#joinDue = false;
    const page = checkPage(ack, this.name);
    return this.#step(() => (atHead && this.#view!.epoch === undefined ? this.#startAtHead(page) : this.#applyPage(page, position)));
  }

  async #startAtHead(page: RoomPage): Promise<boolean> {
    const first = page.messages[0];
    if (first) {
      // A window: the view starts right before its first message, and delivering the window as
      // events (cached on the way) continues it exactly like any page.
      this.#view = { epoch: page.epoch, lastSeq: first.seq - 1, lastId: undefined, branch: '' };
      this.#viewStart = first.seq;
      await this.#deliver(page.messages);
      return false;
    }
    const view: ViewPosition = { epoch: page.epoch, lastSeq: page.headSeq, lastId: page.headId, branch: '' };
    // Creates the profile's cursor only if none exists: another tab's cursor is never moved past
    // messages it has not cached (later tabs would see a gap).
    await this.#commit(view, page.headSeq, []);
    const stored = await this.#host.inbox.cursor(this.name).catch(() => undefined);
    if (stored && stored.epoch === page.epoch && stored.lastSeq < page.headSeq) {
      // Another tab of the profile got here first: continue from its cache like any later tab.
      this.#view = { epoch: stored.epoch, lastSeq: stored.lastSeq, lastId: stored.lastId, branch: stored.branch ?? '' };
      return true;
    }
    this.#viewStart = page.headSeq + 1;
    this.#view = view;
    return false;
  }

  /** Applies one page to the view; answers whether the log must be read on (more pages, or a restart). */
  async #applyPage(page: RoomPage, request: PositionRequest): Promise<boolean> {
    const view = this.#view!;
    const decision = decidePage(view, page, request);
    if (decision.kind === 'restart') {
      await this.#restart(decision.reason, page.epoch, view);
      return !this.#resetStorm();
    }
    if (view.epoch === undefined) this.#view = { ...view, epoch: page.epoch };
    if (decision.trimmed) {
      const { fromSeq, toSeq } = decision.trimmed;
      // Emitted before it is stored: a crash in between tells it again rather than never.
      this.#events.emit('reset', { room: this.name, reason: 'trimmed', epoch: page.epoch, fromSeq, toSeq });
      const skipped: ViewPosition = { ...this.#view!, lastSeq: toSeq, lastId: undefined };
      // The cache keeps no hole: what came before it goes, so later tabs start after it too.
      await this.#commit(skipped, fromSeq - 1, [], toSeq);
      this.#view = skipped;
      this.#viewStart = toSeq + 1;
    }
    const before = this.#view!.lastSeq;
    await this.#deliver(decision.messages);
    return page.hasMore && this.#view!.lastSeq > before;
  }

  /** The log is not the view's history any more: say so, start the cache over (guarded), restart the view at 0. */
  async #restart(reason: 'epoch_changed' | 'diverged', epoch: string, view: ViewPosition): Promise<void> {
    this.#buffer.clear();
    this.#recentIds.clear();
    // A view that was handed nothing loses nothing (a room that had no log yet, or whose idle log
    // expired before this tab read it): it follows the new log silently.
    if (view.lastSeq > 0) this.#announceReset(reason, epoch, view);
    let next: ViewPosition = { epoch, lastSeq: 0, lastId: undefined, branch: reason === 'diverged' ? createMessageId() : '' };
    if (!this.#appOwned) {
      try {
        const stored = await this.#host.inbox.reset(view.epoch === undefined ? undefined : { epoch: view.epoch, branch: view.branch }, { room: this.name, epoch, lastSeq: 0, branch: next.branch });
        // Another tab started over first: follow its branch (its cache is the new history's).
        if (stored.epoch === epoch) next = { ...next, branch: stored.branch ?? '' };
      } catch (error) {
        this.#host.cacheFailed(error);
      }
    }
    this.#view = next;
    this.#viewStart = 1;
  }

  #announceReset(reason: 'epoch_changed' | 'diverged', epoch: string, view: ViewPosition): void {
    this.#recentResets.push(this.#host.scheduler.clock.now());
    this.#events.emit('reset', {
      room: this.name,
      reason,
      epoch,
      ...(view.epoch !== undefined && view.epoch !== epoch ? { previousEpoch: view.epoch } : {}),
      ...(reason === 'diverged' ? { toSeq: view.lastSeq } : {}),
    });
  }

  /** True (and a delayed re-read scheduled) when resets come too fast to be anything but a flapping relay or store. */
  #resetStorm(): boolean {
    const now = this.#host.scheduler.clock.now();
    while (this.#recentResets.length > 0 && this.#recentResets[0]! < now - RESET_STORM.withinMs) this.#recentResets.shift();
    if (this.#recentResets.length < RESET_STORM.count) {
      if (this.#recentResets.length === 0) this.#stormAttempt = 0;
      return false;
    }
    const delay = this.#host.scheduler.backoff(++this.#stormAttempt);
    this.#holdUntil = now + delay;
    this.#pumpLater(delay);
    return true;
  }

  async #live(entries: LiveEntry[]): Promise<void> {
    const view = this.#view;
    if (!view || this.#closed) return;
    for (const entry of entries) {
      if (view.epoch !== undefined && entry.epoch !== view.epoch) {
        // Another log: a positioned read finds out what changed and says so.
        return this.#pumpLater(0);
      }
      if (contradicts(view, entry, this.#idAt)) return this.#pumpLater(0);
      if (entry.message.seq > view.lastSeq) this.#buffer.set(entry.message.seq, entry);
    }
    if (this.#buffer.size > MAX_BUFFERED) {
      // The gap is not filling (reads failing): forget the live run; the log holds it all.
      this.#buffer.clear();
      this.#pumpLater(0);
      return;
    }
    await this.#drain();
  }

  readonly #idAt = (seq: number): string | undefined => (seq === this.#view?.lastSeq ? this.#view.lastId : this.#recentIds.get(seq));

  /** Delivers the buffered run that continues the view; a remaining gap is read from the log soon. */
  async #drain(): Promise<void> {
    const view = this.#view;
    if (!view || view.epoch === undefined) return;
    const run: LogMessage[] = [];
    let last = { seq: view.lastSeq, id: view.lastId };
    for (let entry = this.#buffer.get(last.seq + 1); entry; entry = this.#buffer.get(last.seq + 1)) {
      if (entry.epoch !== view.epoch) break;
      if (entry.previousId !== undefined && last.id !== undefined && entry.previousId !== last.id) {
        // It continues another history than the view's: let a positioned read decide.
        this.#buffer.clear();
        this.#pumpLater(0);
        break;
      }
      run.push(entry.message);
      last = { seq: entry.message.seq, id: entry.message.id };
    }
    for (const seq of this.#buffer.keys()) if (seq <= last.seq) this.#buffer.delete(seq);
    await this.#deliver(run);
    // Live messages from different relays may overtake each other: wait briefly, then read the gap.
    if (this.#buffer.size > 0) this.#pumpLater(this.#host.settings.gapFillDelayMs);
  }

  /** Reads from the log after `delayMs` (or sooner, if a read is already due sooner). */
  #pumpLater(delayMs: number): void {
    if (this.#closed) return;
    // Never sooner than a reset storm's pause, whatever asks (a live event, a gap).
    const now = this.#host.scheduler.clock.now();
    const due = Math.max(now + delayMs, this.#holdUntil);
    this.#host.scheduler.schedule(this.#pumpSlot, due - now, () => void this.#pump());
  }

  /** Stores (best effort) then hands to the app messages that continue the view exactly. */
  async #deliver(messages: readonly LogMessage[]): Promise<void> {
    const view = this.#view!;
    const fresh = continuing(view.lastSeq, messages);
    const last = fresh.at(-1);
    if (!last || view.epoch === undefined) return;
    const advanced: ViewPosition = { ...view, lastSeq: last.seq, lastId: last.id };
    await this.#commit(advanced, view.lastSeq, fresh);
    // Stored means the cursor moved past these: hand them over even if the client is closing.
    this.#view = advanced;
    for (const message of fresh) this.#recentIds.set(message.seq, message.id);
    for (const seq of this.#recentIds.keys()) {
      if (this.#recentIds.size <= RECENT_IDS) break;
      this.#recentIds.delete(seq);
    }
    for (const message of fresh) {
      this.#host.delivered(this.name, message.id, message.sender, message.seq);
      this.#events.emit('message', toRoomMessage(this.name, message));
    }
  }

  /** Writes the shared cache; failing storage (quota) never stops delivery — the cache is optional. */
  async #commit(view: ViewPosition, from: number, messages: readonly LogMessage[], dropThrough?: number): Promise<void> {
    if (this.#appOwned || view.epoch === undefined) return;
    const cursor: RoomCursor = { room: this.name, epoch: view.epoch, lastSeq: view.lastSeq, branch: view.branch, ...(view.lastId !== undefined ? { lastId: view.lastId } : {}) };
    try {
      await this.#host.inbox.commit(cursor, from, messages, this.#host.settings.inboxLimit, dropThrough);
    } catch (error) {
      this.#host.cacheFailed(error);
    }
  }

  #failed(raw: unknown): void {
    if (this.#closed) return;
    const error = toPartylineError(raw);
    if (error.kind === PartylineErrorKind.TokenExpired) return this.#host.connection.tokenRefused(this.#host.connection.transport, error);
    if (!error.retryable) {
      this.#events.emit('error', { room: this.name, error });
      return;
    }
    // Still connected (a timeout, an unavailable store): try again later. Otherwise the next connect syncs.
    if (!this.#host.connection.transport) return;
    this.#pumpLater(this.#host.scheduler.backoff(++this.#resyncAttempt, error.retryAfterMs));
  }
}

/** Resolves after the current task: promise continuations waiting on the caller run first. */
function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
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
  return encodeJson(body, maxBodyBytes, 'body');
}

function toRoomMessage(room: string, message: LogMessage): RoomMessage {
  return { room, seq: message.seq, id: message.id, type: message.type, body: parseJson(message.body), sender: message.sender, ts: message.ts };
}
