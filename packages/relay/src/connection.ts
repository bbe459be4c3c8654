import {
  AnnotationType,
  Capability,
  ClientEvent,
  ErrorKind,
  NO_ECHO_PROTOCOL_VERSION,
  isAllowed,
  isValidRoomName,
  JoinRequestSchema,
  LeaveRequestSchema,
  PresenceEnterRequestSchema,
  PresenceRoomRequestSchema,
  PublishRequestSchema,
  ReadRequestSchema,
  ServerEvent,
  SignalRequestSchema,
  utf8ByteLength,
  validate,
  wireError,
  type Ack,
  type ClientToServerEvents,
  type JoinAck,
  type PresenceSnapshot,
  type RoomPage,
  type PublishAck,
  type ReadAck,
  type ServerToClientEvents,
  type UnreadAck,
  type WireError,
} from '@partyline/protocol';
import type { Logger } from 'pino';
import type { Server, Socket } from 'socket.io';
import type { ConnectionIdentity } from './auth.js';
import type { RelayMetrics } from './metrics.js';
import type { RelayLimits } from './options.js';
import { setReading } from './admission.js';
import { TokenBucket, type RateLimit } from './rate-limiter.js';
import type { UserRateLimiter } from './user-rate-limit.js';
import { PresenceKeeper } from './presence.js';
import { appendBatch, batchBytes, type AppendContext } from './append-batch.js';
import type { RoomBroadcaster } from './room-broadcaster.js';
import { receiptsRoomOf, userRoomOf } from './read-receipts.js';
import { bufferedBytes } from './socket-backlog.js';
import { MAX_JSON_DEPTH } from './json-depth.js';
import { NESTED_TOO_DEEP } from './text-only-parser.js';
import { StoreUnavailableError, type RoomLogStore, type StoredPage } from './store/room-log-store.js';

export type RelayServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, ConnectionIdentity>;
export type RelaySocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, ConnectionIdentity>;

/** What every connection of a relay shares. */
export interface ConnectionContext extends AppendContext {
  io: RelayServer;
  store: RoomLogStore;
  logger: Logger;
  limits: RelayLimits;
  rateLimit: RateLimit;
  /** Per-user limit shared across relays; absent when turned off. */
  userRate: UserRateLimiter | undefined;
  signalRateLimit: RateLimit;
  /** Close a connection whose unread backlog passes this many bytes. */
  maxBufferedBytes: number;
  metrics: RelayMetrics;
  /** Broadcasts fresh messages, coalesced per room and turn. */
  broadcaster: RoomBroadcaster;
  /** Presence of this relay's connections, kept in the shared store. */
  presence: PresenceKeeper;
  /** Open connections, for the sweeper and for draining. */
  connections: Set<RelayConnection>;
}

type Answer = Ack<object>;
const KNOWN_EVENTS = new Set<string>(Object.values(ClientEvent));
/** Requests of one connection answered at once; past this, the connection is not read until one completes. */
const MAX_IN_FLIGHT = 16;
const NOTHING: Record<string, never> = Object.freeze({});
/** Read positions a join ack carries at most (the furthest). */
const MAX_JOIN_RECEIPTS = 100;

/**
 * Engine.IO keeps the first HTTP request (headers, URL, socket references) for a connection's whole
 * life, and the handshake points at its headers; nothing reads them once the connection is
 * authenticated, so an idle connection lets them go (Socket.IO's own memory-usage advice).
 */
function releaseHandshakeRequest(socket: RelaySocket): void {
  (socket.conn as unknown as { request: unknown }).request = null;
  socket.handshake.headers = NOTHING;
  socket.handshake.query = NOTHING;
  // The verified claims are in socket.data; the token string need not sit on every idle connection.
  socket.handshake.auth = NOTHING;
}

function fail(kind: ErrorKind, message: string, retryAfterMs?: number): { ok: false; error: WireError } {
  return { ok: false, error: wireError(kind, message, retryAfterMs) };
}

/**
 * One authenticated connection: dispatches every protocol event (unknown ones get `unknown_event`),
 * and is swept periodically for token expiry, slow reading and drain. A class with prototype methods,
 * so an idle connection costs a few fields rather than a closure per handler.
 */
export class RelayConnection {
  private inFlight = 0;
  /** Made on the first request: a fresh bucket is full, so an idle connection need not carry one. */
  private requests: TokenBucket | undefined;
  private signals: TokenBucket | undefined;
  private readingHeldUntil = 0;
  private readingPaused = false;
  private log: Logger | undefined;
  /** When draining: the time after which the connection is closed (once nothing is in flight). */
  private leaveAt: number | undefined;

  constructor(
    private readonly socket: RelaySocket,
    private readonly context: ConnectionContext,
  ) {
    releaseHandshakeRequest(socket);
    context.connections.add(this);
    context.metrics.connections.inc();
    // What socket.onAny(listener) does, with a one-slot array (onAny's own grows to room for 17).
    // Bound methods, not closures: no context object per connection.
    (socket as unknown as { _anyListeners?: unknown[] })._anyListeners = [this.onEvent.bind(this)];
    socket.on('disconnect', this.onDisconnect.bind(this));
    if (context.logger.isLevelEnabled('debug')) this.logger().debug('connected');
  }

  private onEvent(event: unknown, ...args: unknown[]): void {
    void this.dispatch(String(event), args);
  }

  private onDisconnect(reason: string): void {
    const { context } = this;
    if (this.presenceRooms?.size) void context.presence.disconnected(this.presenceRooms, this.lease());
    context.connections.delete(this);
    context.metrics.connections.dec();
    if (context.logger.isLevelEnabled('debug')) this.logger().debug({ reason }, 'disconnected');
  }

  /** Tells the client to move to another relay; the sweep closes the connection after the delay. */
  drain(reconnectAfterMs: number): void {
    this.socket.emit(ServerEvent.Drain, { reconnectAfterMs });
    this.leaveAt = Date.now() + reconnectAfterMs;
  }

  /** Periodic check: an expired token, a client too far behind, or a drain delay that has passed. */
  sweep(now: number): void {
    const { socket, context } = this;
    if (now >= socket.data.expiresAt) {
      socket.emit(ServerEvent.Error, wireError(ErrorKind.TokenExpired, 'token expired; reconnect with a fresh token'));
      socket.disconnect(true);
      return;
    }
    const backlog = bufferedBytes(socket);
    if (backlog > context.maxBufferedBytes) {
      context.metrics.slowConsumerDisconnects.inc();
      this.logger().warn({ backlogBytes: backlog }, 'closing slow consumer');
      // Best effort: the client is not reading, so this may never arrive; the close itself does.
      socket.emit(ServerEvent.Error, wireError(ErrorKind.SlowConsumer, `client fell ${backlog} bytes behind; reconnect and catch up from the log`));
      socket.disconnect(true);
      return;
    }
    // In-flight requests are answered first, so no ack is lost to a shutdown.
    if (this.leaveAt !== undefined && now >= this.leaveAt && this.inFlight === 0) socket.disconnect(true);
  }

  /** A child logger per connection would cost memory on every idle socket: made on first use. */
  private logger(): Logger {
    return (this.log ??= this.context.logger.child({ conn: this.socket.id, sub: this.socket.data.sub }));
  }

  /** Runs a handler and answers through the ack callback, or `relay:error` when the client gave none. */
  private async dispatch(event: string, args: unknown[]): Promise<void> {
    const last = args.at(-1);
    const ack = typeof last === 'function' ? (last as (answer: Answer) => void) : undefined;
    const payload = args[0];
    let answer: Answer;
    if (++this.inFlight >= MAX_IN_FLIGHT) this.updateReading();
    try {
      if (payload === NESTED_TOO_DEEP) answer = fail(ErrorKind.BadRequest, `frame refused unparsed: its JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
      else if (!KNOWN_EVENTS.has(event)) answer = fail(ErrorKind.UnknownEvent, `unknown event ${JSON.stringify(event.slice(0, 64))}`);
      else if (Date.now() >= this.socket.data.expiresAt) answer = fail(ErrorKind.TokenExpired, 'token expired');
      else answer = await this.handle(event as ClientEvent, payload);
    } catch (error) {
      answer = { ok: false, error: this.toWireError(error) };
    } finally {
      if (this.inFlight-- >= MAX_IN_FLIGHT || this.readingPaused) this.updateReading();
    }
    if (!answer.ok) this.context.metrics.errors.inc({ kind: answer.error.kind });
    if (ack) ack(answer);
    else if (!answer.ok) this.socket.emit(ServerEvent.Error, { ...answer.error, event: event.slice(0, 64) });
  }

  private handle(event: ClientEvent, payload: unknown): Promise<Answer> {
    switch (event) {
      case ClientEvent.Join:
        return this.join(payload);
      case ClientEvent.Read:
        return this.read(payload);
      case ClientEvent.Leave:
        return this.leave(payload);
      case ClientEvent.Publish:
        return this.publish(payload);
      case ClientEvent.Signal:
        return Promise.resolve(this.signal(payload));
      case ClientEvent.PresenceEnter:
        return this.presenceEnter(payload);
      case ClientEvent.PresenceLeave:
        return this.presenceLeave(payload);
      case ClientEvent.PresenceGet:
        return this.presenceGet(payload);
      case ClientEvent.Unread:
        return this.unread(payload);
    }
  }

  /**
   * A connection over its rate is not read again until its bucket refills (a second at most): a
   * client that ignores `retryAfterMs` floods its own TCP buffers, not the relay's event loop.
   */
  private holdReading(waitMs: number): void {
    const now = Date.now();
    if (this.readingHeldUntil > now) return;
    const ms = Math.min(waitMs, 1_000);
    this.readingHeldUntil = now + ms;
    this.updateReading();
    setTimeout(() => this.updateReading(), ms + 1).unref();
  }

  /**
   * Reads the connection only while it has fewer than MAX_IN_FLIGHT requests being answered and is
   * not held for its rate: the work one connection can start in one turn stays bounded (a pipelined
   * flood waits in TCP, not as hundreds of concurrent requests completing together).
   */
  private updateReading(): void {
    const paused = this.inFlight >= MAX_IN_FLIGHT || Date.now() < this.readingHeldUntil;
    if (paused !== this.readingPaused && setReading(this.socket.conn, !paused)) this.readingPaused = paused;
  }

  /** Grant and rate limit, shared by every room request. */
  private admit(room: string, capability: Capability, cost: number): { ok: false; error: WireError } | undefined {
    if (!isAllowed(this.socket.data.grants, room, capability)) return fail(ErrorKind.Forbidden, `token does not allow ${capability} in room ${room}`);
    return this.admitRate(cost);
  }

  /** The connection's request rate. */
  private admitRate(cost: number): { ok: false; error: WireError } | undefined {
    const waitMs = (this.requests ??= new TokenBucket(this.context.rateLimit)).take(cost);
    if (waitMs > 0) {
      this.holdReading(waitMs);
      return fail(ErrorKind.RateLimited, 'too many messages on this connection', waitMs);
    }
    return undefined;
  }

  /** The per-user limit (every relay, every connection of this `sub`): counts messages and signals, and the bytes of messages. */
  private admitUser(count: number, bytes = 0): { ok: false; error: WireError } | undefined {
    const waitMs = this.context.userRate?.take(this.socket.data.sub, count, bytes) ?? 0;
    if (waitMs === 0) return undefined;
    // As over its own rate: a writer ignoring retryAfterMs fills its TCP buffers, not the relay's memory.
    this.holdReading(waitMs);
    return fail(ErrorKind.RateLimited, 'too many messages or bytes from this user across its connections', waitMs);
  }

  private pageSize(limit: number | undefined): number {
    const max = this.context.limits.maxPageSize;
    return Math.min(limit ?? max, max);
  }

  private async join(payload: unknown): Promise<Ack<JoinAck>> {
    const request = validate(JoinRequestSchema, payload);
    if (!request.ok) return request;
    const { room, since, last, limit } = request.value;
    if (since !== undefined && last !== undefined) return fail(ErrorKind.BadRequest, 'join with since or last, not both');
    const refused = this.admit(room, Capability.Read, 1) ?? this.admitRead();
    if (refused) return refused;
    const { sub, grants } = this.socket.data;
    const receipts = isAllowed(grants, room, Capability.Receipts);
    // Join before reading: a message appended meanwhile is in the page or arrives live (or both;
    // clients drop repeats by seq) — never in neither. Likewise read positions.
    await this.socket.join(receipts ? [room, receiptsRoomOf(room), userRoomOf(sub)] : [room, userRoomOf(sub)]);
    try {
      const { store } = this.context;
      const page =
        last !== undefined
          ? store.readBefore(room, Number.MAX_SAFE_INTEGER, this.pageSize(last), sub)
          : store.read(room, since ?? 0, since === undefined ? 0 : this.pageSize(limit), sub);
      const [stored, read, reads] = await Promise.all([page, store.readState(room, sub), receipts ? store.receipts(room, MAX_JOIN_RECEIPTS) : undefined]);
      const found: RoomPage = last !== undefined ? stored : { ...positioned(stored, request.value), ...(since === undefined ? { hasMore: false } : {}) };
      return { ok: true, ...found, caller: sub, read, ...(reads ? { reads } : {}) };
    } catch (error) {
      await this.socket.leave(room);
      await this.socket.leave(receiptsRoomOf(room));
      throw error;
    }
  }

  private async read(payload: unknown): Promise<Ack<ReadAck>> {
    const request = validate(ReadRequestSchema, payload);
    if (!request.ok) return request;
    const { room, since, before, limit } = request.value;
    if ((since === undefined) === (before === undefined)) return fail(ErrorKind.BadRequest, 'read with since (forward) or before (backward): exactly one');
    const refused = this.admit(room, Capability.Read, 1) ?? this.admitRead();
    if (refused) return refused;
    const { sub } = this.socket.data;
    if (before !== undefined) return { ok: true, ...(await this.context.store.readBefore(room, before, this.pageSize(limit), sub)) };
    return { ok: true, ...positioned(await this.context.store.read(room, since!, this.pageSize(limit), sub), request.value) };
  }

  /** Unread messages per room the caller read or wrote in (newest first, as the store keeps them), of those its token may read. */
  private async unread(payload: unknown): Promise<Ack<UnreadAck>> {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || Object.keys(payload).length > 0) {
      return fail(ErrorKind.BadRequest, 'user:unread takes an empty object: {}');
    }
    // Like a read: one request, and an answer (up to 1000 rooms) only for a client that reads what it is sent.
    const refused = this.admitRate(1) ?? this.admitRead();
    if (refused) return refused;
    const { sub, grants } = this.socket.data;
    const { store } = this.context;
    const rooms = (await store.userRooms(sub)).filter((room) => isAllowed(grants, room, Capability.Read));
    // Each room is a store read: past the first 50, they are charged like reads (50 per token).
    const more = rooms.length > 50 ? this.admitRate(Math.ceil((rooms.length - 50) / 50)) : undefined;
    if (more) return more;
    const states = await Promise.all(rooms.map((room) => store.readState(room, sub)));
    return { ok: true, rooms: Object.fromEntries(rooms.map((room, i) => [room, states[i]!.unread])) };
  }

  /**
   * A page can be up to `maxPageBytes`: a client with that much still queued for it (not reading)
   * is told to wait instead of being handed more to hold in the relay's memory.
   */
  private admitRead(): { ok: false; error: WireError } | undefined {
    const queued = bufferedBytes(this.socket);
    if (queued + this.context.limits.maxPageBytes <= this.context.maxBufferedBytes) return undefined;
    return fail(ErrorKind.RateLimited, `${queued} bytes are still queued for this connection; read again once they are delivered`, 1_000);
  }

  private async leave(payload: unknown): Promise<Answer> {
    const request = validate(LeaveRequestSchema, payload);
    if (!request.ok) return request;
    await this.socket.leave(request.value.room);
    await this.socket.leave(receiptsRoomOf(request.value.room));
    return { ok: true };
  }

  private async publish(payload: unknown): Promise<Ack<PublishAck>> {
    const startedAt = performance.now();
    const { limits } = this.context;
    // Size, grant and rate before schema: a batch that is too big, not allowed or over the rate is
    // refused without validating every message in it (a flood costs a check, not a validation).
    const { room: rawRoom, messages: rawMessages } = (payload ?? {}) as { room?: unknown; messages?: unknown };
    if (Array.isArray(rawMessages) && rawMessages.length > limits.maxBatchMessages) {
      return fail(ErrorKind.PayloadTooLarge, `batch of ${rawMessages.length} messages exceeds ${limits.maxBatchMessages}`);
    }
    const bytes = Array.isArray(rawMessages) ? batchBytes(rawMessages) : 0;
    if (bytes > limits.maxBatchBytes) return fail(ErrorKind.PayloadTooLarge, `batch of ${bytes} bytes exceeds ${limits.maxBatchBytes}`);
    if (isValidRoomName(rawRoom) && Array.isArray(rawMessages)) {
      // Read marks alone ask only `read`: a viewer who may not post still has a read position.
      const readMarks = rawMessages.length > 0 && rawMessages.every((message) => (message as { type?: unknown } | null)?.type === AnnotationType.Read);
      const refused = this.admit(rawRoom, readMarks ? Capability.Read : Capability.Publish, Math.max(1, rawMessages.length)) ?? this.admitUser(rawMessages.length, bytes);
      if (refused) return refused;
    }
    const request = validate(PublishRequestSchema, payload);
    if (!request.ok) return request;
    const { room, messages } = request.value;

    const { sub, grants, protocol } = this.socket.data;
    const publisher = protocol >= NO_ECHO_PROTOCOL_VERSION ? this.socket.id : undefined;
    const { ack, reads, appended } = await appendBatch(this.context, room, sub, messages, { moderate: isAllowed(grants, room, Capability.Moderate), publisher });
    this.context.metrics.publishAckSeconds.observe((performance.now() - startedAt) / 1000);
    if (!this.notedRooms?.has(room) && reads.some((read) => read.sub === sub)) await this.noteActive(room);
    return { ok: true, ...ack, ...appended };
  }

  /** Rooms this connection has noted as the user's (for `user:unread`): once per room, not at every post. */
  private notedRooms: Set<string> | undefined;

  /** Notes the room as the user's before the ack, so a `user:unread` after it counts the room (callers skip rooms noted already). */
  private async noteActive(room: string): Promise<void> {
    (this.notedRooms ??= new Set()).add(room);
    await this.context.store.noteUserRoom(this.socket.data.sub, room).catch((error: unknown) => {
      // Noted again at the next post: unread counts are a convenience, the post itself succeeded.
      this.notedRooms?.delete(room);
      this.logger().warn({ room, err: (error as Error).message }, 'could not note the room as the user’s');
    });
  }

  private signal(payload: unknown): Answer {
    const { limits } = this.context;
    const request = validate(SignalRequestSchema, payload);
    if (!request.ok) return request;
    const { room, type, body } = request.value;
    if (!isAllowed(this.socket.data.grants, room, Capability.Signal)) return fail(ErrorKind.Forbidden, `token does not allow signal in room ${room}`);
    if (utf8ByteLength(body) > limits.maxSignalBytes) return fail(ErrorKind.PayloadTooLarge, `signal body exceeds ${limits.maxSignalBytes} bytes`);
    this.signals ??= new TokenBucket(this.context.signalRateLimit);
    const connectionWaitMs = this.signals.take(1);
    if (connectionWaitMs > 0) {
      this.holdReading(connectionWaitMs);
      return fail(ErrorKind.RateLimited, 'too many signals on this connection', connectionWaitMs);
    }
    const userRefused = this.admitUser(1);
    if (userRefused) return userRefused;
    this.socket.to(room).emit(ServerEvent.Signal, { room, sender: this.socket.data.sub, type, body });
    return { ok: true };
  }

  /** Rooms this connection has entered (presence), so a drop gives each its grace. */
  private presenceRooms: Set<string> | undefined;

  /** Enter (or update): also subscribes to the room, so the member sees the changes it causes. */
  private async presenceEnter(payload: unknown): Promise<Answer> {
    const request = validate(PresenceEnterRequestSchema, payload);
    if (!request.ok) return request;
    const { room, data } = request.value;
    if (data !== undefined && utf8ByteLength(data) > this.context.limits.maxPresenceDataBytes) {
      return fail(ErrorKind.PayloadTooLarge, `presence data exceeds ${this.context.limits.maxPresenceDataBytes} bytes`);
    }
    const refused = this.admit(room, Capability.Presence, 1) ?? this.admitPresenceRoom(room);
    if (refused) return refused;
    // Counted before the first await: concurrent enters on this connection cannot pass its bound together.
    (this.presenceRooms ??= new Set()).add(room);
    await this.socket.join(room);
    await this.context.presence.enter(room, this.lease(), data);
    return { ok: true };
  }

  /** Every presence room costs renewal work each round: bounded per connection and per user (on this relay). */
  private admitPresenceRoom(room: string): { ok: false; error: WireError } | undefined {
    if (this.presenceRooms?.has(room)) return undefined;
    const { maxPresenceRoomsPerConnection: perConnection, maxPresenceRoomsPerUser: perUser } = this.context.limits;
    if ((this.presenceRooms?.size ?? 0) >= perConnection) {
      return fail(ErrorKind.Forbidden, `this connection is present in ${perConnection} rooms, the most allowed; leave one before entering another`);
    }
    if (this.context.presence.roomsOf(this.socket.data.sub) >= perUser) {
      return fail(ErrorKind.Forbidden, `this user is present in ${perUser} rooms on this relay, the most allowed; leave one before entering another`);
    }
    return undefined;
  }

  private async presenceLeave(payload: unknown): Promise<Answer> {
    const request = validate(PresenceRoomRequestSchema, payload);
    if (!request.ok) return request;
    this.presenceRooms?.delete(request.value.room);
    await this.context.presence.leave(request.value.room, this.lease());
    return { ok: true };
  }

  /** The member list; also subscribes to the room, so changes after it arrive (versions tell which). */
  private async presenceGet(payload: unknown): Promise<Ack<PresenceSnapshot>> {
    const request = validate(PresenceRoomRequestSchema, payload);
    if (!request.ok) return request;
    const refused = this.admit(request.value.room, Capability.Read, 1);
    if (refused) return refused;
    await this.socket.join(request.value.room);
    return { ok: true, ...(await this.context.presence.snapshot(request.value.room)) };
  }

  private lease() {
    return PresenceKeeper.leaseOf(this.socket.id, this.socket.data.sub);
  }

  private toWireError(error: unknown): WireError {
    if (error instanceof StoreUnavailableError) {
      this.logger().warn({ err: error.message }, 'store unavailable');
      return wireError(ErrorKind.Unavailable, 'room log store unavailable, retry later');
    }
    this.logger().error({ err: error }, 'request failed');
    return wireError(ErrorKind.Internal, 'internal relay error');
  }
}

/**
 * Positioned recovery: the page for a request that says where the client stands (`epoch`, and the
 * id of message `since`). In the same epoch, a log that ends before `since` or holds another message
 * there lost what the client has (an unsynced tail, an asynchronous failover) and handed those
 * sequences out again: the page says `diverged` instead of continuing a history the client never had.
 */
export function positioned({ sinceId, ...page }: StoredPage, request: { since?: number | undefined; epoch?: string | undefined; sinceId?: string | undefined }): RoomPage {
  const since = request.since ?? 0;
  if (request.epoch !== page.epoch || since === 0) return page;
  const lost = since > page.headSeq || (request.sinceId !== undefined && sinceId !== undefined && sinceId !== request.sinceId);
  return lost ? { ...page, diverged: true } : page;
}
