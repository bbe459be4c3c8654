import {
  ClientEvent,
  ErrorKind,
  isRoomGranted,
  JoinRequestSchema,
  LeaveRequestSchema,
  PublishRequestSchema,
  ReadRequestSchema,
  ServerEvent,
  SignalRequestSchema,
  utf8ByteLength,
  validate,
  wireError,
  type Ack,
  type ClientToServerEvents,
  type PublishResult,
  type ServerToClientEvents,
  type WireError,
} from '@partyline/protocol';
import type { Logger } from 'pino';
import type { Server, Socket } from 'socket.io';
import type { ConnectionIdentity } from './auth.js';
import type { RelayMetrics } from './metrics.js';
import type { RelayLimits } from './options.js';
import { createTokenBucket, type RateLimit } from './rate-limiter.js';
import { StoreUnavailableError, type AppendInput, type RoomLogStore } from './store/room-log-store.js';

export type RelayServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, ConnectionIdentity>;
export type RelaySocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, ConnectionIdentity>;

export interface ConnectionContext {
  io: RelayServer;
  store: RoomLogStore;
  logger: Logger;
  limits: RelayLimits;
  rateLimit: RateLimit;
  signalRateLimit: RateLimit;
  metrics: RelayMetrics;
  /** Open connections, so a draining relay can move them away. */
  connections: Set<DrainableConnection>;
}

export interface DrainableConnection {
  /** Tells the client to move, then closes the connection after `reconnectAfterMs` once no request is in flight. */
  drain(reconnectAfterMs: number): void;
}

type Handler = (payload: unknown) => Promise<Ack<object>>;
const KNOWN_EVENTS = new Set<string>(Object.values(ClientEvent));
/** Longest delay `setTimeout` accepts. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Wires one authenticated connection: every protocol event, unknown events, token expiry. */
export function handleConnection(socket: RelaySocket, context: ConnectionContext): void {
  const { io, store, limits } = context;
  const identity = socket.data;
  const { metrics } = context;
  let inFlight = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  // A child logger per connection costs memory on every idle socket: make it on first use.
  let connectionLog: Logger | undefined;
  const log = () => (connectionLog ??= context.logger.child({ conn: socket.id, sub: identity.sub }));
  const requests = createTokenBucket(context.rateLimit);
  const signals = createTokenBucket(context.signalRateLimit);
  metrics.connections.inc();
  if (context.logger.isLevelEnabled('debug')) log().debug('connected');

  const fail = (kind: ErrorKind, message: string, retryAfterMs?: number): Ack<object> => ({
    ok: false,
    error: wireError(kind, message, retryAfterMs),
  });

  function admit(room: string, cost: number): Ack<object> | undefined {
    if (!isRoomGranted(identity.grants, room)) return fail(ErrorKind.Forbidden, `token does not grant room ${room}`);
    const waitMs = requests.take(cost);
    if (waitMs > 0) return fail(ErrorKind.RateLimited, 'too many messages on this connection', waitMs);
    return undefined;
  }

  const handlers: Record<ClientEvent, Handler> = {
    async [ClientEvent.Join](payload) {
      const request = validate(JoinRequestSchema, payload);
      if (!request.ok) return request;
      const { room, since, limit } = request.value;
      const refused = admit(room, 1);
      if (refused) return refused;
      // Join before reading: a message appended meanwhile is in the page or arrives live (or both;
      // clients drop repeats by seq) — never in neither.
      await socket.join(room);
      try {
        if (since === undefined) return { ok: true, ...(await store.read(room, 0, 0)), hasMore: false };
        return { ok: true, ...(await store.read(room, since, Math.min(limit ?? limits.maxPageSize, limits.maxPageSize))) };
      } catch (error) {
        await socket.leave(room);
        throw error;
      }
    },

    async [ClientEvent.Read](payload) {
      const request = validate(ReadRequestSchema, payload);
      if (!request.ok) return request;
      const { room, since, limit } = request.value;
      const refused = admit(room, 1);
      if (refused) return refused;
      return { ok: true, ...(await store.read(room, since, Math.min(limit ?? limits.maxPageSize, limits.maxPageSize))) };
    },

    async [ClientEvent.Leave](payload) {
      const request = validate(LeaveRequestSchema, payload);
      if (!request.ok) return request;
      await socket.leave(request.value.room);
      return { ok: true };
    },

    async [ClientEvent.Publish](payload) {
      const startedAt = performance.now();
      const request = validate(PublishRequestSchema, payload);
      if (!request.ok) return request;
      const { room, messages } = request.value;
      if (messages.length > limits.maxBatchMessages) {
        return fail(ErrorKind.PayloadTooLarge, `batch of ${messages.length} messages exceeds ${limits.maxBatchMessages}`);
      }
      const refused = admit(room, messages.length);
      if (refused) return refused;

      const results: PublishResult[] = [];
      const accepted: AppendInput[] = [];
      const acceptedAt: number[] = [];
      messages.forEach((message, index) => {
        if (utf8ByteLength(message.body) > limits.maxBodyBytes) {
          results[index] = { id: message.id, error: wireError(ErrorKind.PayloadTooLarge, `body exceeds ${limits.maxBodyBytes} bytes`) };
        } else {
          accepted.push({ id: message.id, type: message.type, body: message.body, sender: identity.sub });
          acceptedAt.push(index);
        }
      });

      const { epoch, outcomes } = await store.append(room, accepted);
      const fresh = [];
      for (const [i, outcome] of outcomes.entries()) {
        const index = acceptedAt[i]!;
        if (outcome.status === 'appended') {
          fresh.push(outcome.message);
          results[index] = { id: outcome.message.id, seq: outcome.message.seq };
        } else if (outcome.status === 'duplicate') {
          results[index] = { id: outcome.id, seq: outcome.seq, duplicate: true };
        } else {
          const error = wireError(ErrorKind.Conflict, `message id already used in this room (seq ${outcome.seq}) for a different message`);
          results[index] = { id: outcome.id, error };
        }
      }
      // Only new messages are broadcast, once per batch; duplicates were delivered the first time.
      if (fresh.length > 0) io.to(room).emit(ServerEvent.Messages, { room, epoch, messages: fresh });
      for (const result of results) if ('error' in result) metrics.errors.inc({ kind: result.error.kind });
      metrics.publishAckSeconds.observe((performance.now() - startedAt) / 1000);
      return { ok: true, epoch, results };
    },

    async [ClientEvent.Signal](payload) {
      const request = validate(SignalRequestSchema, payload);
      if (!request.ok) return request;
      const { room, type, body } = request.value;
      if (!isRoomGranted(identity.grants, room)) return fail(ErrorKind.Forbidden, `token does not grant room ${room}`);
      if (utf8ByteLength(body) > limits.maxSignalBytes) {
        return fail(ErrorKind.PayloadTooLarge, `signal body exceeds ${limits.maxSignalBytes} bytes`);
      }
      const waitMs = signals.take(1);
      if (waitMs > 0) return fail(ErrorKind.RateLimited, 'too many signals on this connection', waitMs);
      socket.to(room).emit(ServerEvent.Signal, { room, sender: identity.sub, type, body });
      return { ok: true };
    },
  };

  /** Runs a handler and answers through the ack callback, or `relay:error` when the client gave none. */
  async function dispatch(event: string, args: unknown[]): Promise<void> {
    const last = args.at(-1);
    const ack = typeof last === 'function' ? (last as (answer: Ack<object>) => void) : undefined;
    let answer: Ack<object>;
    inFlight++;
    try {
      if (!KNOWN_EVENTS.has(event)) answer = fail(ErrorKind.UnknownEvent, `unknown event ${JSON.stringify(event.slice(0, 64))}`);
      else if (Date.now() >= identity.expiresAt) answer = fail(ErrorKind.TokenExpired, 'token expired');
      else answer = await handlers[event as ClientEvent](args[0]);
    } catch (error) {
      answer = { ok: false, error: toWireError(error, log()) };
    } finally {
      inFlight--;
    }
    if (!answer.ok) metrics.errors.inc({ kind: answer.error.kind });
    if (ack) ack(answer);
    else if (!answer.ok) socket.emit(ServerEvent.Error, { ...answer.error, event: String(event).slice(0, 64) });
  }

  // One listener for every event, known or not: unknown ones get `unknown_event` from dispatch.
  socket.onAny((event: unknown, ...args: unknown[]) => void dispatch(String(event), args));

  // An expired token may not keep listening either: tell the client, then close.
  const expiry = setTimeout(() => {
    socket.emit(ServerEvent.Error, wireError(ErrorKind.TokenExpired, 'token expired; reconnect with a fresh token'));
    socket.disconnect(true);
  }, Math.min(Math.max(0, identity.expiresAt - Date.now()), MAX_TIMER_MS));
  const connection: DrainableConnection = {
    drain(reconnectAfterMs) {
      socket.emit(ServerEvent.Drain, { reconnectAfterMs });
      const leave = () => {
        timers.delete(timer);
        // In-flight requests are answered first, so no ack is lost to the shutdown.
        if (inFlight > 0) timers.add((timer = setTimeout(leave, 20)));
        else socket.disconnect(true);
      };
      let timer = setTimeout(leave, reconnectAfterMs);
      timers.add(timer);
    },
  };
  context.connections.add(connection);

  socket.on('disconnect', (reason) => {
    context.connections.delete(connection);
    metrics.connections.dec();
    clearTimeout(expiry);
    for (const timer of timers) clearTimeout(timer);
    if (context.logger.isLevelEnabled('debug')) log().debug({ reason }, 'disconnected');
  });
}

function toWireError(error: unknown, log: Logger): WireError {
  if (error instanceof StoreUnavailableError) {
    log.warn({ err: error.message }, 'store unavailable');
    return wireError(ErrorKind.Unavailable, 'room log store unavailable, retry later');
  }
  log.error({ err: error }, 'request failed');
  return wireError(ErrorKind.Internal, 'internal relay error');
}
