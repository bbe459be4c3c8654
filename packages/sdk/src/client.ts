import { ClientEvent, DEFAULT_DEDUP_RETENTION_MS, DEFAULT_LIMITS, ServerEvent } from '@partyline/protocol';
import { systemClock, type Clock } from './clock.js';
import { Connection, type ConnectionState, type TokenSource } from './connection.js';
import { createDatabaseHandle } from './database.js';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
import { Emitter, type Unsubscribe } from './events.js';
import { expiredError } from './flush-machine.js';
import { Flusher, type Settlement } from './flusher.js';
import { createInboxStore } from './inbox-store.js';
import type { ClientInspection } from './inspect.js';
import { createBrowserOnlineManager, type OnlineManager } from './online-manager.js';
import { byId, createOutboxStore, type OutboxDurability, type OutboxEntry } from './outbox-store.js';
import { exponentialBackoff, type RetryDelay } from './retry-policy.js';
import { createScheduler, type TransitionRecord } from './scheduler.js';
import { socketTransport } from './socket-transport.js';
import type { TransportFactory } from './transport.js';
import { createMessageId, observeMessageId } from './message-id.js';
import { request } from './request.js';
import { QueuedHandle } from './publish-handle.js';
import { Room, type PublishHandle, type RoomHost, type RoomOptions, type StatusContext } from './room.js';
import { createTabCoordinator, type TabCoordinator, type TabEnvironment, type TabMessage } from './tab-coordinator.js';

export interface ClientOptions {
  /** Relay URLs (`https://relay-1.example.com`); tried in order, the next one after a failure. Required. */
  relays: readonly string[];
  /** Access token, or an async function that fetches one; the function is asked again whenever the token expired. Required. */
  token: TokenSource;
  /**
   * Who this client acts for: the `sub` of its tokens. Every message is queued bound to it, and only a
   * client of the same identity sends it — another account signed in later in the same browser
   * profile never sends the first one's messages (they wait for their owner, or expire, reported).
   * Pass it whenever the app knows its user before a token is fetched (offline after a reload).
   * It must be the token's `sub` (not a display name): when an accepted token names another `sub`,
   * the client emits `error` (`bad_request`) each time it comes online.
   * @default the `sub` of the latest token; messages queued before any token was known are sent by whoever connects first
   */
  user?: string;
  /**
   * The IndexedDB to keep outbox and inbox in. In Node inject one, e.g. `new IDBFactory()` from fake-indexeddb
   * (idb also needs the IndexedDB classes as globals there: `import 'fake-indexeddb/auto'`).
   * @default globalThis.indexedDB
   */
  indexedDB?: IDBFactory;
  /** Database name; clients sharing it (tabs of a profile) share one outbox. @default 'partyline' */
  dbName?: string;
  /** How long an unsent message stays queued before it is dropped as `expired`; keep ≤ the relay's dedup retention. @default 604800000 (7 days) */
  outboxRetentionMs?: number;
  /**
   * How durable a message is once `publish` resolved as queued (IndexedDB transaction durability).
   * `'relaxed'`: written through to the operating system — it survives a closed or crashed tab and a
   * crashed browser, but a power loss or OS crash right after may lose the latest messages. `'strict'`:
   * flushed to disk before `publish` resolves — survives power loss too, but every outbox transaction
   * waits for a disk flush (well under a millisecond on some disks, tens of milliseconds on others).
   * @default 'relaxed'
   */
  outboxDurability?: OutboxDurability;
  /** Delay before retry number `attempt` (connects, flushes, catch-up). @default exponentialBackoff() — full jitter, 250 ms doubling to 5 s (a relay's `retryAfterMs` wins) */
  retryDelay?: RetryDelay;
  /** Online detector. @default the browser's navigator.onLine and online/offline events (always online in Node) */
  onlineManager?: OnlineManager;
  /** How long to wait for a publish ack before sending again (safe: the relay deduplicates). @default 10000 */
  ackTimeoutMs?: number;
  /** How long to wait for a join/read/signal answer. @default 10000 */
  requestTimeoutMs?: number;
  /** How long a connection attempt may take before the next relay is tried. @default 10000 */
  connectTimeoutMs?: number;
  /** Most messages per publish request. @default 100 (DEFAULT_LIMITS.maxBatchMessages) */
  maxBatchMessages?: number;
  /**
   * Most bytes of one publish frame as written (bodies JSON-escaped again inside it); keep it ≤ the
   * relay's `maxBatchBytes`. A message whose frame alone is larger fails with `payload_too_large`.
   * @default 1048576 (DEFAULT_LIMITS.maxBatchBytes)
   */
  maxBatchBytes?: number;
  /** Largest body accepted by `publish`, in UTF-8 bytes of its JSON. @default 65536 (DEFAULT_LIMITS.maxBodyBytes) */
  maxBodyBytes?: number;
  /** Catch-up page size. @default 500 */
  pageSize?: number;
  /**
   * Most bytes of messages in a page (or a live event) the client takes from a relay, counted as their
   * text's characters plus 64 each. A relay answering more than this, or more messages than asked for,
   * breaks the protocol: nothing of the page is used, the room emits `error` (`protocol_violation`)
   * and asks again; a larger live event is dropped and read from the log instead. Keep it at least the
   * relay's `maxPageBytes` plus its largest body.
   * @default 2097152 (2 MiB: twice DEFAULT_LIMITS.maxPageBytes)
   */
  maxPageBytes?: number;
  /**
   * Bytes of messages kept per room in the profile's cache (IndexedDB), which `room.history()` and
   * `loadOlder()` answer from, counted as their text's characters plus 64 each. Beyond it the oldest
   * messages go: a reload still resumes right after the newest one, its `history()` starts at the
   * oldest one kept, and `loadOlder()` reads what came before from the relay. `Infinity` keeps all.
   * @default 8388608 (8 MiB)
   * @example
   * createClient({ relays, token, inboxMaxBytes: 32 * 1024 * 1024 }); // 32 MiB per room
   */
  inboxMaxBytes?: number;
  /**
   * Messages kept per room in the profile's cache, on top of `inboxMaxBytes`; the newest ones stay,
   * and a tab's view then starts at the oldest message still cached. @default Infinity
   */
  inboxLimit?: number;
  /** How long a tab waits for a room another tab is flushing before taking the flush over (that tab may be stuck). @default 3000 */
  flushTakeoverMs?: number;
  /** How long live messages after a gap wait for the missing ones before the gap is read from the log. @default 100 */
  gapFillDelayMs?: number;
  /**
   * Time and timers of everything the client waits for (backoff, timeouts, expiry, gap fill). A fake
   * or virtual clock drives the whole client in tests and in the simulator. @default systemClock
   */
  clock?: Clock;
  /** How the client reaches a relay. @default socketTransport (Socket.IO over a WebSocket) */
  transport?: TransportFactory;
  /**
   * How the tabs of a profile share the outbox's flushing and its news: their Web Locks and
   * broadcast channel. Only for running several clients over one injected IndexedDB as tabs of one
   * profile (the simulator). @default navigator.locks and BroadcastChannel, when the page's own IndexedDB is used
   */
  tabs?: TabEnvironment;
  /** Called on every transition of the client's state machines (connection, each room, flushing, presence): for debugging and the simulator's coverage. */
  onTransition?: (record: TransitionRecord) => void;
}

export const CLIENT_DEFAULTS = {
  dbName: 'partyline',
  outboxRetentionMs: DEFAULT_DEDUP_RETENTION_MS,
  outboxDurability: 'relaxed',
  ackTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  maxBatchMessages: DEFAULT_LIMITS.maxBatchMessages,
  maxBatchBytes: DEFAULT_LIMITS.maxBatchBytes,
  maxBodyBytes: DEFAULT_LIMITS.maxBodyBytes,
  pageSize: DEFAULT_LIMITS.maxPageSize,
  maxPageBytes: 2 * DEFAULT_LIMITS.maxPageBytes,
  inboxMaxBytes: 8 * 1024 * 1024,
  inboxLimit: Infinity,
  flushTakeoverMs: 3000,
  gapFillDelayMs: 100,
} as const;

/** Events of a {@link PartylineClient}. */
export interface ClientEvents {
  /**
   * The connection state changed, or, while `connecting`, why it is not online yet (a new `reason`:
   * a refused token, an unreachable relay, a lost connection).
   */
  state: { state: ConnectionState; previous: ConnectionState; reason?: PartylineError };
  /**
   * Something went wrong that the SDK handles by itself, for logs and UI hints. Kinds: why a connection
   * attempt failed (`connect_failed`, `unauthorized`, `token_expired`, `version_mismatch`, `rate_limited`,
   * `unavailable`, `draining`, `internal`: the client retries), `storage` (IndexedDB trouble: the outbox
   * or the cache), `bad_request` (the `user` option is not the accepted token's `sub`). Refused or expired
   * messages are `status` events, not errors.
   */
  error: { error: PartylineError };
  /**
   * An outbox entry of any room left the outbox — `sent`, `failed` or `expired` — whether or not a
   * room object is open for it (here or in another tab of the profile): expiry is never silent.
   */
  status: StatusContext;
}

export interface PartylineClient {
  /** `connecting`, `online` or `offline`. */
  readonly state: ConnectionState;
  /** While `connecting`: why it is not online yet, the `reason` of the last `state` event (e.g. a refused token). */
  readonly reason: PartylineError | undefined;
  /**
   * Listens to a client event; returns a function that stops listening.
   * @example
   * client.on('state', ({ state }) => banner.hidden = state === 'online');
   */
  on<K extends keyof ClientEvents>(event: K, listener: (context: ClientEvents[K]) => void): Unsubscribe;
  off<K extends keyof ClientEvents>(event: K, listener: (context: ClientEvents[K]) => void): void;
  /**
   * The room of that name (the same object on every call), joined and catching up whenever connected.
   * Throws `bad_request` when it is already open with other options (another `from` or `schema`):
   * `leave()` it first. Throws `invalid_room` for a name that breaks the rule: 1–128 characters of
   * letters, digits and `_ . : -`, starting with a letter or digit (check input with `isValidRoomName`).
   * @example
   * const room = client.room('party:abc');
   */
  room(name: string, options?: RoomOptions): Room;
  /** Sends the outbox now, skipping any backoff wait. */
  flush(): void;
  /**
   * A read-only look inside: connection and relay, each open room's epoch, last seq and gaps, the
   * profile's outbox, and who flushes it (this tab, another one) and when next. For devtools and
   * "my message did not arrive" reports; nothing changes by asking.
   * @example
   * const { relay, outbox, flush } = await client.inspect();
   */
  inspect(): Promise<ClientInspection>;
  /**
   * Unread messages per room this user read or wrote in (that its token may read), from the relay:
   * rejects with `disconnected` when offline, or the relay's refusal.
   *
   * @example
   * const counts = await client.unread(); // { 'party:abc': 3 }
   */
  unread(): Promise<Record<string, number>>;
  /**
   * Disconnects and releases every timer, listener, lock, channel and database handle. Queued
   * messages stay in the outbox for the next session; open `sent` promises reject with `closed`.
   */
  close(): Promise<void>;
}

/** A queued message whose status this tab reports: its handle when this tab published it. */
type Tracked = QueuedHandle | { readonly room: string };

/**
 * Creates a client: connects to the first reachable relay, flushes the outbox, keeps rooms in sync.
 * Nothing happens before this call (importing the SDK has no side effects).
 *
 * @example
 * import { createClient } from '@partyline/sdk';
 *
 * const client = createClient({
 *   relays: ['https://relay-1.example.com', 'https://relay-2.example.com'],
 *   token: () => fetch('/api/partyline-token').then((r) => r.text()),
 * });
 * const room = client.room('party:abc');
 * room.on('message', ({ seq, body }) => console.log(seq, body));
 * await room.publish('chat', { text: 'who brings the cake?' });
 *
 * @example
 * // Node (load clients, server-side publishers): inject an IndexedDB.
 * import { indexedDB } from 'fake-indexeddb';
 * const client = createClient({ relays: [url], token, indexedDB });
 */
export function createClient(options: ClientOptions): PartylineClient {
  if (!Array.isArray(options.relays) || options.relays.length === 0) throw new TypeError('createClient: no relays');
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) {
    throw new PartylineError(PartylineErrorKind.Storage, 'no IndexedDB: pass options.indexedDB', { retryable: false });
  }
  if (typeof (globalThis as { IDBRequest?: unknown }).IDBRequest === 'undefined') {
    // idb recognises requests and cursors by the global IndexedDB classes.
    throw new PartylineError(PartylineErrorKind.Storage, "no global IndexedDB classes: in Node, import 'fake-indexeddb/auto'", { retryable: false });
  }
  const settings = {
    ...CLIENT_DEFAULTS,
    ...definedOnly(options),
    retryDelay: options.retryDelay ?? exponentialBackoff(),
  };
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const scheduler = createScheduler(clock, settings.retryDelay, options.onTransition);
  const onlineManager = options.onlineManager ?? createBrowserOnlineManager();
  const events = new Emitter<ClientEvents>();

  const database = createDatabaseHandle(factory, settings.dbName);
  const db = () => database.get();
  const outbox = createOutboxStore(db, { durability: settings.outboxDurability });
  const inbox = createInboxStore(db);
  const rooms = new Map<string, Room>();
  /** Every room this client opened, left ones included: their queued entries are still its to send. */
  const roomsOpened = new Set<string>();
  const tracked = new Map<string, Tracked>();
  let closed = false;
  let cacheFailureReported = false;

  const connection = new Connection({
    relays: options.relays,
    token: options.token,
    scheduler,
    onlineManager,
    connectTimeoutMs: settings.connectTimeoutMs,
    transport: options.transport ?? socketTransport,
  });

  const coordinator: TabCoordinator = createTabCoordinator({
    name: settings.dbName,
    // Only the page's own IndexedDB is shared by the tabs of a profile (or one whose tabs are given).
    shared: options.indexedDB === undefined || options.tabs !== undefined,
    ...(options.tabs ? { environment: options.tabs } : {}),
    stealAfterMs: settings.flushTakeoverMs,
    clock,
    onMessage: (message) => onTabMessage(message),
  });
  const identity = () => options.user ?? connection.identity;

  const flusher = new Flusher({
    connection,
    outbox,
    sends: (room) => roomsOpened.has(room),
    lead: (room, task) => coordinator.lead(room, task),
    identity,
    busyRetryMs: Math.min(1000, settings.flushTakeoverMs),
    scheduler,
    ackTimeoutMs: settings.ackTimeoutMs,
    maxBatchMessages: settings.maxBatchMessages,
    maxBatchBytes: settings.maxBatchBytes,
    retentionMs: settings.outboxRetentionMs,
    onSettled(settlement) {
      reportSettled(settlement);
      const { room, id } = settlement;
      coordinator.post(
        settlement.status === 'sent'
          ? { type: 'outbox:sent', room, id, seq: settlement.seq }
          : settlement.status === 'failed'
            ? { type: 'outbox:failed', room, id, error: { kind: settlement.error.kind, message: settlement.error.message, retryable: false } }
            : { type: 'outbox:expired', room, id },
      );
    },
    onAcked: (room, batch, ack) => rooms.get(room)?._published(batch, ack),
    onError: (error) => events.emit('error', { error }),
  });

  /** Reports one of our messages' final status once, in this tab. */
  function settle(settlement: Settlement): void {
    const entry = tracked.get(settlement.id);
    if (!entry) return;
    tracked.delete(settlement.id);
    if (entry instanceof QueuedHandle) {
      entry.status = settlement.status;
      entry.settle(settlement.status === 'sent' ? { seq: settlement.seq } : { error: settlement.error });
    }
    rooms.get(settlement.room)?._emitStatus({ ...settlement });
  }

  function track(room: string, id: string): void {
    if (tracked.has(id) || !rooms.has(room)) return;
    tracked.set(id, { room });
    rooms.get(room)?._emitStatus({ room, id, status: 'pending' });
  }

  function onTabMessage(message: TabMessage): void {
    const { room, id } = message;
    if (typeof id !== 'string' || typeof room !== 'string') return;
    switch (message.type) {
      case 'outbox:added':
        track(room, id);
        flusher.wake();
        break;
      case 'outbox:sent':
        return reportSettled({ status: 'sent', room, id, seq: message.seq });
      case 'outbox:failed':
        return reportSettled({ status: 'failed', room, id, error: toPartylineError({ ...message.error, retryable: false }) });
      case 'outbox:expired':
        return reportSettled({ status: 'expired', room, id, error: expiredError(settings.outboxRetentionMs) });
    }
  }

  /** An outbox entry left the outbox (here or in another tab): tells the app (client-level, any room), and settles ours. */
  function reportSettled(settlement: Settlement): void {
    events.emit('status', { ...settlement });
    settle(settlement);
  }

  /**
   * Read once per session before the first publish: new ids sort after every id already queued in the
   * profile, whose clock may have been ahead (a room's entries are sent in id order). Cheaper than a
   * persisted counter, which would cost a write per publish; an empty outbox has no order to keep.
   */
  let queuedIdsSeen = false;
  let seeingQueuedIds: Promise<void> | undefined;
  const seeQueuedIds = () =>
    (seeingQueuedIds ??= outbox.list().then(
      (entries) => {
        entries.forEach((entry) => observeMessageId(entry.id));
        queuedIdsSeen = true; // a plain flag from now on: no await per publish
      },
      () => void (seeingQueuedIds = undefined), // the add that follows reports the storage trouble
    ));

  const assertOpen = () => {
    if (closed) throw new PartylineError(PartylineErrorKind.Closed, 'the client is closed');
  };

  /** Outbox writes of publish() under way (close() waits for them to tell the other tabs). */
  const writing = new Set<Promise<unknown>>();

  const host: RoomHost = {
    connection,
    outbox,
    inbox,
    settings,
    scheduler,
    assertOpen,
    identity,
    async enqueue(type, room, body): Promise<PublishHandle> {
      assertOpen();
      if (!queuedIdsSeen) {
        await seeQueuedIds();
        assertOpen(); // closed meanwhile: nothing is queued
      }
      const sender = identity();
      const createdAt = now();
      const entry: OutboxEntry = { id: createMessageId(createdAt), room, type, body, createdAt, attempts: 0, ...(sender !== undefined ? { sender } : {}) };
      const adding = outbox.add(entry);
      writing.add(adding);
      try {
        await adding;
      } catch (error) {
        throw toPartylineError(error);
      } finally {
        writing.delete(adding);
      }
      if (closed) {
        // Closed while the entry was being written: it is queued, and the other tabs hear of it before
        // this one's channel closes (else it would wait for their next wake-up); settle `sent` as closed
        // like every other open handle.
        coordinator.post({ type: 'outbox:added', room: entry.room, id: entry.id });
        const handle = new QueuedHandle(entry.id, entry.room);
        handle.settle({ error: closedQueued() });
        return handle;
      }
      const handle = new QueuedHandle(entry.id, entry.room);
      tracked.set(entry.id, handle);
      const opened = rooms.get(entry.room);
      if (opened?._hearsStatus()) opened._emitStatus({ room: entry.room, id: entry.id, status: 'pending' });
      coordinator.post({ type: 'outbox:added', room: entry.room, id: entry.id });
      flusher.wake();
      return handle;
    },
    delivered(room, id, sender, seq) {
      // Ids are the sender's own: another member's message with the same id is not ours.
      const self = identity();
      if (self === undefined || self === sender) settle({ status: 'sent', room, id, seq });
    },
    cacheFailed(error) {
      // Reported once per client: a full disk would otherwise repeat it for every delivery.
      if (cacheFailureReported) return;
      cacheFailureReported = true;
      const failure = toPartylineError(error);
      events.emit('error', { error: new PartylineError(PartylineErrorKind.Storage, `inbox cache not written (${failure.message}); history() may miss messages`, { retryable: false, cause: error }) });
    },
    forget(room) {
      rooms.delete(room);
    },
  };

  connection.on('state', (context) => {
    events.emit('state', context);
    // Messages are queued bound to `user`: if the relay knows this client as another `sub`, say so.
    const sub = connection.identity;
    if (context.state === 'online' && options.user !== undefined && sub !== undefined && sub !== options.user) {
      events.emit('error', { error: new PartylineError(PartylineErrorKind.BadRequest, `user ${JSON.stringify(options.user)} is not the token's sub ${JSON.stringify(sub)}`, { retryable: false }) });
    }
  });
  connection.on('error', ({ error }) => events.emit('error', { error }));
  connection.on('event', ({ event, payload }) => {
    // Each room validates what it gets; an event that is not even an object names no room.
    if (!payload || typeof payload !== 'object') return;
    const room = rooms.get((payload as { room?: unknown }).room as string);
    if (!room) return;
    if (event === ServerEvent.Messages) room._messages(payload);
    else if (event === ServerEvent.Signal) room._signal(payload);
    else if (event === ServerEvent.Presence) room._presence(payload);
    else if (event === ServerEvent.Reads) room._reads(payload);
  });
  connection.on('connect', () => {
    for (const room of rooms.values()) room._connected();
  });
  connection.on('disconnect', () => {
    for (const room of rooms.values()) room._disconnected();
  });
  const unsubscribeOnline = onlineManager.subscribe((online) => {
    if (online) flusher.wake(true);
  });
  // A page going away (closed, navigated, put in the back-forward cache) leaves presence at once
  // instead of after the relays' grace; a page coming back from that cache enters again.
  const pageEvents = typeof addEventListener === 'function' && typeof removeEventListener === 'function';
  const onPageHide = () => {
    for (const room of rooms.values()) room.presence._leaveNow(true);
    coordinator.flush(); // what the other tabs have not heard yet would otherwise go with the page
  };
  const onPageShow = (event: Event) => {
    if ((event as Event & { persisted?: boolean }).persisted) for (const room of rooms.values()) room.presence._connected();
  };
  if (pageEvents) {
    addEventListener('pagehide', onPageHide);
    addEventListener('pageshow', onPageShow);
  }
  connection.start();
  flusher.wake();

  return {
    get state() {
      return connection.state;
    },
    get reason() {
      return connection.reason;
    },
    on: (event, listener) => events.on(event, listener),
    off: (event, listener) => events.off(event, listener),

    room(name, roomOptions) {
      assertOpen();
      let room = rooms.get(name);
      if (room) {
        // An app-owned position or a window asked for here would otherwise be dropped without a word.
        if (!room._opensAs(roomOptions)) {
          throw new PartylineError(PartylineErrorKind.BadRequest, `room ${name} is already open with other options: leave() it first`, { retryable: false });
        }
        return room;
      }
      room = new Room(name, host, roomOptions);
      rooms.set(name, room);
      roomsOpened.add(name);
      flusher.wake(); // its queued entries (earlier sessions, other tabs) may be sendable now
      const opened = room;
      // Messages queued by earlier sessions or other tabs: report their status here too.
      outbox.list(name).then(
        (entries) => {
          if (rooms.get(name) !== opened) return;
          for (const entry of entries) if (!tracked.has(entry.id)) tracked.set(entry.id, { room: name });
        },
        (error: unknown) => events.emit('error', { error: toPartylineError(error) }),
      );
      if (connection.transport) room._connected();
      return room;
    },

    flush() {
      assertOpen();
      flusher.wake(true);
    },

    async inspect() {
      assertOpen();
      const [entries, tabs] = await Promise.all([outbox.list(), coordinator.inspect()]);
      return {
        state: connection.state,
        reason: connection.reason,
        retryAt: connection.retryAt,
        relay: connection.relay,
        relays: options.relays,
        user: identity(),
        rooms: [...rooms.values()].map((room) => room._inspect()),
        // The store lists room by room; ids are time-ordered, so sorting by id is publish order.
        outbox: entries.sort(byId),
        retentionMs: settings.outboxRetentionMs,
        flush: { ...tabs, failures: flusher.failures, retryAt: flusher.retryAt },
      };
    },

    async unread() {
      assertOpen();
      const { rooms: counts } = await request<{ rooms?: unknown }>(connection.transport, settings.requestTimeoutMs, ClientEvent.Unread, {});
      if (!counts || typeof counts !== 'object' || Object.values(counts).some((count) => !Number.isSafeInteger(count) || (count as number) < 0)) {
        throw new PartylineError(PartylineErrorKind.ProtocolViolation, 'bad user:unread answer from relay');
      }
      return { ...(counts as Record<string, number>) };
    },

    async close() {
      if (closed) return;
      closed = true;
      unsubscribeOnline();
      if (pageEvents) {
        removeEventListener('pagehide', onPageHide);
        removeEventListener('pageshow', onPageShow);
      }
      // Leave presence while the connection is still up (the relay would otherwise wait out the grace).
      for (const room of rooms.values()) room.presence._leaveNow();
      flusher.close();
      connection.close();
      const open = [...rooms.values()];
      for (const room of open) room._close();
      rooms.clear();
      // Every wait of the client goes with it (the simulator checks that no timer survives close()).
      scheduler.close();
      const error = closedQueued();
      for (const entry of tracked.values()) if (entry instanceof QueuedHandle) entry.settle({ error });
      tracked.clear();
      events.clear();
      // Messages still being written tell the other tabs before the channel closes.
      await Promise.allSettled([...writing]);
      coordinator.close();
      await Promise.allSettled([flusher.idle(), ...open.map((room) => room._idle())]);
      database.close();
    },
  };
}

/** A `sent` promise settled by close(): the message is not lost, the next session sends it. */
function closedQueued(): PartylineError {
  return new PartylineError(PartylineErrorKind.Closed, 'the client closed; the message stays queued');
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}
