import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Server } from 'socket.io';
import { ErrorKind, ServerEvent, wireError, type ReadPosition, type WireError } from '@partyline/protocol';
import { secretBytes, secretKey } from '@partyline/server';
import { authenticateHandshake, connectError } from './auth.js';
import { RelayConnection, type RelayServer } from './connection.js';
import { createLogger } from './logger.js';
import { createRelayMetrics, type RelayMetrics } from './metrics.js';
import { KeyedBuckets, RetrySchedule, TokenBucket } from './rate-limiter.js';
import { clientAddress, isTrustedProxy, peerAddress, PendingHandshakes, proxyTrust, setFrameLimit } from './admission.js';
import { HandshakeLog } from './handshake-log.js';
import { textOnlyParser } from './text-only-parser.js';
import { memoryTally, redisTally, UserRateLimiter } from './user-rate-limit.js';
import { RoomCreationLimit } from './room-creation-limit.js';
import { instrumentStore } from './store/instrumented-store.js';
import { PACKET_OVERHEAD_BYTES, RELAY_DEFAULTS, type RelayLimits, type RelayOptions } from './options.js';
import { announceReads, isReadsRoom, withoutReadsRoomChannels } from './read-receipts.js';
import { RoomBroadcaster } from './room-broadcaster.js';
import { followRoomFeed } from './room-feed.js';
import { createSafeParser } from './safe-parser.js';
import { serveApi, type HttpApiContext } from './http-api.js';
import { WebhookDeliverer } from './webhooks.js';
import { createMemoryWebhookState, createRedisWebhookState } from './store/webhook-state.js';
import { createMemoryStore } from './store/memory-store.js';
import { createMemoryPresenceStore } from './store/memory-presence-store.js';
import { createRedisPresenceStore } from './store/redis-presence-store.js';
import { PRESENCE_TIMING, PresenceKeeper } from './presence.js';
import { coalesceWrites, coalesceWritesAfterFirst } from './write-coalescing.js';
import { connectRedis, type RedisTarget } from './store/redis-connection.js';
import { createRedisStore } from './store/redis-store.js';
import type { RoomLogStore } from './store/room-log-store.js';
import { cachingVerifier, jwksKeys } from './tokens.js';

/** What the relay uses of an Engine.IO connection (its transport's WebSocket holds the TCP socket). */
interface EngineSocket {
  request: IncomingMessage;
  transport: { name: string };
  once(event: 'upgrade', listener: (transport: { socket?: { _socket?: Socket } }) => void): void;
}

/** Where an engine connection's one namespace CONNECT stands. */
const CONNECT_STATE = Symbol('partyline.connectState');

export interface Relay {
  /** The Socket.IO server. An open connection keeps no handshake HTTP request: `socket.request` is null, `socket.data` holds the verified token claims. */
  readonly io: RelayServer;
  readonly httpServer: HttpServer;
  readonly store: RoomLogStore;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
  /** Starts serving. Port 0 picks a free port. @default port 0 on 127.0.0.1 */
  listen(port?: number, host?: string): Promise<{ port: number; url: string }>;
  /**
   * Graceful shutdown: refuse new connections, tell connected clients to move (each after a jittered
   * delay within `spreadMs`), answer every in-flight request, then close — by `deadlineMs` at the latest.
   */
  drain(options?: { deadlineMs?: number; spreadMs?: number }): Promise<void>;
  /** Closes every connection, the store and the Redis clients at once. */
  close(): Promise<void>;
}

/**
 * Creates a relay: a Socket.IO server with the Partyline protocol over a room log store.
 * Without `redisUrl` it runs alone on the in-memory store; with it, any number of relays share
 * rooms through Redis: log, sequence and dedup, new messages on the room feed (see room-feed.ts),
 * and `@socket.io/redis-adapter` for every other broadcast (and for messages on a Redis Cluster).
 *
 * @example
 * const relay = createRelay({ tokenSecret: process.env.TOKEN_SECRET!, redisUrl: 'redis://127.0.0.1:6379' });
 * const { url } = await relay.listen(8080, '0.0.0.0');
 */
export function createRelay(options: RelayOptions): Relay {
  if (options.tokenSecret === undefined && options.jwks === undefined) throw new RangeError('set tokenSecret (HS256) or jwks (asymmetric keys), or both');
  const logger = options.logger ?? createLogger();
  // A JWKS fetch ends well inside the handshake's own timeout, so a client hears `unavailable`
  // instead of a connection closed mid-handshake.
  const jwksTimeoutMs = Math.floor((options.connectTimeoutMs ?? RELAY_DEFAULTS.connectTimeoutMs) * 0.6);
  const verifyToken = cachingVerifier({
    ...(options.tokenSecret !== undefined ? { secret: secretKey(options.tokenSecret) } : {}),
    ...(options.jwks ? { keys: jwksKeys(options.jwks, { timeoutMs: jwksTimeoutMs, logger }) } : {}),
    ...(options.tokenIssuer !== undefined ? { issuer: options.tokenIssuer } : {}),
    ...(options.tokenAudience !== undefined ? { audience: options.tokenAudience } : {}),
    maxTokenAgeSeconds: options.maxTokenAgeSeconds ?? RELAY_DEFAULTS.maxTokenAgeSeconds,
  });
  const limits: RelayLimits = { ...RELAY_DEFAULTS.limits, ...options.limits };
  const rateLimit = options.rateLimit ?? RELAY_DEFAULTS.rateLimit;
  if (rateLimit.burst < limits.maxBatchMessages) throw new RangeError('rateLimit.burst must be at least limits.maxBatchMessages');
  const prefix = options.redisKeyPrefix ?? RELAY_DEFAULTS.redisKeyPrefix;
  const storeOptions = {
    dedupRetentionMs: options.dedupRetentionMs ?? RELAY_DEFAULTS.dedupRetentionMs,
    retention: { ...RELAY_DEFAULTS.retention, ...options.retention },
    maxPageBytes: limits.maxPageBytes,
  };
  if (options.redisUrl && options.redisCluster) throw new RangeError('set redisUrl or redisCluster, not both');
  const redisTarget: RedisTarget | undefined = options.redisCluster
    ? { clusterNodes: options.redisCluster }
    : options.redisUrl
      ? { url: options.redisUrl }
      : undefined;
  // New messages reach other relays through the room feed — published by the append step itself —
  // when this relay's own store appends on one standalone Redis. Not on a Cluster (a PUBLISH goes to
  // every node), not with ackReplicas (members would see messages before the replicas confirmed
  // them), not with a store given by the caller: there the adapter carries `room:messages`.
  const feed =
    !options.store && redisTarget && 'url' in redisTarget && !options.ackReplicas ? { channel: `${prefix}feed`, origin: randomBytes(9).toString('base64url') } : undefined;
  const backingStore =
    options.store ??
    (redisTarget
      ? createRedisStore({
          ...redisTarget,
          keyPrefix: prefix,
          ...storeOptions,
          ...(options.ackReplicas ? { ackReplicas: options.ackReplicas } : {}),
          ...(feed ? { feed } : {}),
          onError: redisErrorLogger(logger, 'store'),
        })
      : createMemoryStore(storeOptions));

  let io: RelayServer | undefined;
  const metrics = createRelayMetrics(() => countRooms(io));
  const store = instrumentStore(backingStore, metrics);
  // /metrics is served on the metrics port, and on the main (public) port only when asked for.
  const metricsServer = options.metricsPort !== undefined ? createServer((request, response) => void serveMetrics(request, response, metrics)) : undefined;
  const publicMetrics = options.metricsPublic ? metrics : undefined;
  // The HTTP API is ready once the socket side's context is (below); until then only health answers.
  let api: HttpApiContext | undefined;
  const httpServer = createServer((request, response) => {
    const handle = async () => {
      if (api && (await serveApi(request, response, api))) return;
      await serveHttp(request, response, store, publicMetrics);
    };
    handle().catch((error: unknown) => {
      logger.error({ err: error }, 'HTTP request failed');
      response.destroy();
    });
  });
  const trust = options.trustProxy === undefined ? undefined : proxyTrust(options.trustProxy);
  const handshakeLog = new HandshakeLog(logger);
  /** The client's address (see clientAddress); says so in the log when a proxy's clients all count as the proxy. */
  const clientOf = (request: IncomingMessage): string => {
    if (!trust && request.headers['x-forwarded-for'] !== undefined) handshakeLog.forwardedIgnored(peerAddress(request));
    return clientAddress(request, trust);
  };
  const refuseHandshake = (kind: ErrorKind, address: string) => {
    metrics.handshakeRefusals.inc({ kind });
    handshakeLog.refused(kind, address);
  };
  // Connections not yet carrying an accepted token, per address: past the cap, a new TCP connection
  // is closed as it arrives, before any HTTP is parsed for it.
  // The same cap applies to Engine.IO sessions (long-polling makes many over one TCP connection).
  // A trusted proxy's connections carry every client behind it: no per-address cap fits them before
  // X-Forwarded-For is read, so they are capped per client as sessions, and per proxy (a wider bound
  // that keeps what the proxy can make the relay hold finite) as connections.
  const maxPending = options.maxPendingPerAddress ?? RELAY_DEFAULTS.maxPendingPerAddress;
  const pending = new PendingHandshakes<Socket>(maxPending, (tcp) => tcp.destroyed);
  const pendingFromProxies = new PendingHandshakes<Socket>(maxPending * RELAY_DEFAULTS.pendingPerProxyFactor, (tcp) => tcp.destroyed);
  const pendingSessions = new PendingHandshakes<object>(maxPending, (session) => (session as { readyState?: string }).readyState === 'closed');
  httpServer.on('connection', (tcp: Socket) => {
    const address = tcp.remoteAddress ?? 'unknown';
    const held = isTrustedProxy(address, trust) ? pendingFromProxies : pending;
    if (held.isFull(address)) {
      refuseHandshake(ErrorKind.RateLimited, address);
      tcp.destroy();
      return;
    }
    held.hold(tcp, address);
  });
  /** A token or API key was accepted on this connection: it no longer counts as pending. */
  const releaseConnection = (tcp: Socket) => {
    pending.release(tcp);
    pendingFromProxies.release(tcp);
  };
  const maxFrameBytes = limits.maxBatchBytes + PACKET_OVERHEAD_BYTES;
  // Limits before trust: per address, new engine sessions (WebSocket or polling handshakes) are
  // counted before anything else is done for them.
  const perAddress = options.connectRateLimitPerAddress ?? RELAY_DEFAULTS.connectRateLimitPerAddress;
  // Two buckets per address: CONNECTs (answered with a typed rate_limited), and a 5× wider one for
  // bare engine sessions (refused at the HTTP level), which cost memory until their connect timeout.
  const connectsByAddress = new KeyedBuckets(perAddress);
  const sessionsPerAddress = { perSecond: perAddress.perSecond * 5, burst: perAddress.burst * 5 };
  const sessionsByAddress = new KeyedBuckets(sessionsPerAddress);
  io = new Server(httpServer, {
    transports: options.transports ?? RELAY_DEFAULTS.transports,
    maxHttpBufferSize: maxFrameBytes,
    connectTimeout: options.connectTimeoutMs ?? RELAY_DEFAULTS.connectTimeoutMs,
    pingInterval: options.pingIntervalMs ?? RELAY_DEFAULTS.pingIntervalMs,
    pingTimeout: options.pingTimeoutMs ?? RELAY_DEFAULTS.pingTimeoutMs,
    serveClient: false,
    cors: { origin: options.corsOrigin ?? RELAY_DEFAULTS.corsOrigin },
    // No binary attachments: the protocol is text, and buffered attachments were memory for the asking.
    parser: textOnlyParser,
    allowRequest(request, callback) {
      const isNewSession = !request.url?.includes('sid=');
      const address = clientOf(request);
      if (isNewSession && (pendingSessions.isFull(address) || sessionsByAddress.take(address, 1) > 0)) {
        refuseHandshake(ErrorKind.RateLimited, address);
        return callback('too many new connections from this address; retry later', false);
      }
      // An admitted WebSocket writes coalesced (before ws writes its 101). Not a refused one: its 400
      // is written and the socket destroyed in one turn, and a corked answer is lost — the client, or
      // a proxy that then marks this relay failed, would see a reset.
      if (request.headers.upgrade !== undefined) coalesceWrites(request.socket as Socket);
      callback(null, true);
    },
  });
  // Until its token is accepted, a connection reads only small frames (see setFrameLimit).
  io.engine.on('connection', (engineSocket: EngineSocket) => {
    setFrameLimit(engineSocket, limits.maxPreAuthFrameBytes);
    pendingSessions.hold(engineSocket, clientAddress(engineSocket.request, trust));
    // A session that began on long-polling coalesces once it moves to a WebSocket.
    if (engineSocket.transport.name === 'polling') engineSocket.once('upgrade', (transport) => transport.socket?._socket && coalesceWrites(transport.socket._socket));
  });

  const redisClients: (Redis | Cluster)[] = [];
  let feedSubscriber: Redis | undefined;
  if (redisTarget) {
    const cluster = 'clusterNodes' in redisTarget;
    // Broadcasts to other relays: each PUBLISH is written when made, not batched for the end of the
    // turn (auto-pipelining), so other relays deliver while this one writes to its own members.
    const pub = connectRedis(redisTarget, cluster ? {} : { enableAutoPipelining: false });
    if (!cluster) pub.on('connect', () => coalesceWritesAfterFirst((pub as Redis).stream as Socket));
    // The subscriber queues its SUBSCRIBE until connected (however long Redis is away) and re-subscribes
    // after every reconnect. On a cluster it subscribes per shard (SSUBSCRIBE on the node owning the channel).
    const sub = connectRedis(redisTarget, { enableOfflineQueue: true, maxRetriesPerRequest: null }, { shardedSubscribers: true });
    pub.on('error', redisErrorLogger(logger, 'adapter-pub'));
    sub.on('error', redisErrorLogger(logger, 'adapter-sub'));
    redisClients.push(pub, sub);
    const adapterSub = catchUnawaitedFailures(
      sub,
      ['psubscribe', 'subscribe', 'punsubscribe', 'unsubscribe', 'ssubscribe', 'sunsubscribe'],
      redisErrorLogger(logger, 'adapter-subscribe'),
    );
    if (cluster) {
      // Sharded pub/sub: a room's broadcasts go through the one node that owns its channel's slot,
      // instead of every node of the cluster.
      io.adapter(withoutReadsRoomChannels(createShardedAdapter(pub, adapterSub, { channelPrefix: `${prefix}sio`, subscriptionMode: 'dynamic' })));
    } else {
      const adapterPub = catchUnawaitedFailures(pub, ['publish'], redisErrorLogger(logger, 'adapter-publish'));
      io.adapter(createAdapter(adapterPub, adapterSub, { key: `${prefix}sio`, parser: createSafeParser(logger) }));
      // A connection of its own: on the adapter's, every feed message would also go through the
      // adapter's request handler, and be decoded into a string for it.
      feedSubscriber = connectRedis(redisTarget, { enableOfflineQueue: true, maxRetriesPerRequest: null }) as Redis;
      feedSubscriber.on('error', redisErrorLogger(logger, 'feed-sub'));
      redisClients.push(feedSubscriber);
    }
  }
  // With the room feed, other relays get new messages from it: this relay's broadcasts stay local.
  // (Made after the adapter is set: an operator keeps the adapter it was made with.)
  const broadcaster = feed
    ? new RoomBroadcaster(io.local, limits.maxBatchMessages, (room) => io.of('/').adapter.rooms.has(room))
    : new RoomBroadcaster(io, limits.maxBatchMessages);
  const stopFeed =
    feed && feedSubscriber
      ? followRoomFeed(feedSubscriber, feed.channel, feed.origin, { broadcaster, store, rooms: () => memberRooms(io), hasMembers: (room) => io.of('/').adapter.rooms.has(room), logger })
      : undefined;

  const userRateLimit = options.userRateLimitPerSecond ?? RELAY_DEFAULTS.userRateLimitPerSecond;
  if (userRateLimit > 0 && userRateLimit < limits.maxBatchMessages) throw new RangeError('userRateLimitPerSecond must be 0 (off) or at least limits.maxBatchMessages');
  // Unset, it grows with a raised maxBatchBytes: the largest batch always passes in a fresh second.
  const userByteRate = options.userByteRatePerSecond ?? Math.max(RELAY_DEFAULTS.userByteRatePerSecond, limits.maxBatchBytes);
  if (userByteRate > 0 && userByteRate < limits.maxBatchBytes) throw new RangeError('userByteRatePerSecond must be 0 (off) or at least limits.maxBatchBytes');
  const userRate =
    userRateLimit > 0 || userByteRate > 0
      ? new UserRateLimiter(
          { messagesPerSecond: userRateLimit, bytesPerSecond: userByteRate },
          redisClients[0] ? redisTally(redisClients[0], prefix) : memoryTally(),
          redisErrorLogger(logger, 'user-rate'),
        )
      : undefined;
  const roomsPerHour = options.roomsPerUserPerHour ?? RELAY_DEFAULTS.roomsPerUserPerHour;
  const roomCreation =
    roomsPerHour > 0 ? new RoomCreationLimit(roomsPerHour, redisClients[0] ? redisTally(redisClients[0], prefix, 'room-creations', 3_600_000) : memoryTally()) : undefined;

  let draining = false;
  const connectLimit = options.connectRateLimit ?? RELAY_DEFAULTS.connectRateLimit;
  const connectRate = new TokenBucket(connectLimit);
  const connectRetries = new RetrySchedule(connectLimit.perSecond);
  io.use((socket, next) => {
    // Every refusal closes the connection (after the error is sent): one socket cannot repeat
    // CONNECT, so an attacker pays a new handshake — counted per address — for every attempt.
    const address = clientAddress(socket.conn.request, trust);
    const refuse = (error: WireError) => {
      refuseHandshake(error.kind, address);
      next(connectError(error));
      setImmediate(() => socket.conn.close());
    };
    // One CONNECT per connection: later ones cost nothing — ignored while the first is being
    // checked (its refusal closes the connection), and closing it once the first was accepted.
    const conn = socket.conn as typeof socket.conn & { [CONNECT_STATE]?: 'checking' | 'accepted' };
    if (conn[CONNECT_STATE] === 'checking') return undefined;
    if (conn[CONNECT_STATE] === 'accepted') return conn.close();
    conn[CONNECT_STATE] = 'checking';
    if (draining) return refuse(wireError(ErrorKind.Draining, 'relay is shutting down; connect to another relay'));
    const addressWaitMs = connectsByAddress.take(address, 1);
    if (addressWaitMs > 0) return refuse(wireError(ErrorKind.RateLimited, 'too many new connections from this address; retry later', addressWaitMs));
    authenticateHandshake(socket.handshake.auth, verifyToken).then((result) => {
      if (!result.ok) return refuse(result.error);
      // The relay-wide limit (reconnect storms) is charged by authenticated connections only: nobody
      // without a token can use it up for everyone else.
      const waitMs = connectRate.take(1);
      if (waitMs > 0) return refuse(wireError(ErrorKind.RateLimited, 'too many new connections; retry later', connectRetries.next(waitMs)));
      socket.data = result.identity;
      conn[CONNECT_STATE] = 'accepted';
      releaseConnection(socket.conn.request.socket);
      pendingSessions.release(socket.conn);
      setFrameLimit(socket.conn, maxFrameBytes);
      next();
    }, next);
  });
  // Webhooks: the room logs (and recorded presence changes) are the queue; a due time, a cursor and
  // a lease per room in the store, and the dead letters (served by webhook-admin-api.ts).
  if (options.webhook) secretBytes(options.webhook.secret);
  const webhookState = options.webhook ? (redisClients[0] ? createRedisWebhookState(redisClients[0], prefix) : createMemoryWebhookState()) : undefined;
  const presenceOptions = webhookState ? { recordChanges: true, beforeChange: (room: string) => webhookState.markDirty(room) } : {};
  const presenceStore = redisTarget
    ? createRedisPresenceStore({ ...redisTarget, ...presenceOptions, keyPrefix: prefix, onError: redisErrorLogger(logger, 'presence') })
    : createMemoryPresenceStore(presenceOptions);
  const presence = new PresenceKeeper(
    presenceStore,
    (room, changes) => server.to(room).emit(ServerEvent.Presence, { room, ...changes }),
    metrics,
    logger,
    { ...PRESENCE_TIMING, ...options.presenceTiming },
  );
  const webhooks =
    options.webhook && webhookState
      ? new WebhookDeliverer({
          endpoint: options.webhook,
          retry: { ...RELAY_DEFAULTS.webhookRetry, ...options.webhookRetry },
          state: webhookState,
          store,
          presence: presenceStore,
          logger,
          metrics,
        })
      : undefined;
  const context = {
    io,
    presence,
    ...(webhooks ? { beforeAppend: (room: string) => webhooks.beforeAppend(room) } : {}),
    store,
    logger,
    limits,
    rateLimit,
    userRate,
    roomCreation,
    bodySchemas: options.bodySchemas,
    signalRateLimit: options.signalRateLimit ?? RELAY_DEFAULTS.signalRateLimit,
    maxBufferedBytes: options.maxBufferedBytes ?? RELAY_DEFAULTS.maxBufferedBytes,
    metrics,
    broadcaster,
    // Through the adapter (every relay), also with the room feed: a reader's other devices may be anywhere.
    announceReads: (room: string, reads: readonly ReadPosition[]) => announceReads(server, room, reads),
    connections: new Set<RelayConnection>(),
  };
  const apiKeys = options.apiKeys ?? [];
  if (apiKeys.some((key) => key.length < 32)) throw new RangeError('API keys must be at least 32 characters');
  api = {
    ...context,
    verifyToken,
    apiKeys,
    ...(webhookState ? { deadLetters: webhookState.deadLetters } : {}),
    onAuthenticated: (request) => releaseConnection(request.socket),
    // An HTTP API request costs its address before its token is checked (as much as an engine
    // session does), then its identity what a socket connection's requests cost that connection.
    addressOf: clientOf,
    requestsByAddress: new KeyedBuckets(sessionsPerAddress),
    requestsByIdentity: new KeyedBuckets(rateLimit),
    onError: (error) => logger.error({ err: error }, 'HTTP API request failed'),
  };
  io.on('connection', (socket) => new RelayConnection(socket, context));
  const sweepAll = () => {
    pending.sweep();
    pendingFromProxies.sweep();
    pendingSessions.sweep();
    const now = Date.now();
    for (const connection of context.connections) connection.sweep(now);
  };
  // One timer for every connection: token expiry, slow consumers, drain delays.
  const sweeper = setInterval(sweepAll, RELAY_DEFAULTS.sweepIntervalMs);
  sweeper.unref();

  const server = io;
  async function close(): Promise<void> {
    clearInterval(sweeper);
    handshakeLog.flush();
    stopFeed?.();
    userRate?.stop();
    presence.stop();
    webhooks?.stop();
    context.broadcaster.flush();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (metricsServer?.listening) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    await store.close();
    await presenceStore.close();
    for (const client of redisClients) client.disconnect();
  }

  return {
    io: server,
    httpServer,
    store,
    logger,
    metrics,

    async listen(port = 0, host = '127.0.0.1') {
      await waitForStore(store, options.storeStartupTimeoutMs ?? RELAY_DEFAULTS.storeStartupTimeoutMs, logger);
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const address = httpServer.address() as AddressInfo;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      if (metricsServer) {
        await new Promise<void>((resolve, reject) => metricsServer.once('error', reject).listen(options.metricsPort, host, () => resolve()));
        logger.info({ port: (metricsServer.address() as AddressInfo).port }, 'metrics listening');
      }
      logger.info({ url, store: store.kind, transports: io.engine.opts.transports }, 'relay listening');
      return { port: address.port, url };
    },

    async drain({ deadlineMs = RELAY_DEFAULTS.drainDeadlineMs, spreadMs = RELAY_DEFAULTS.drainSpreadMs } = {}) {
      const deadline = Date.now() + deadlineMs;
      draining = true;
      logger.info({ connections: context.connections.size, deadlineMs }, 'draining');
      for (const connection of context.connections) connection.drain(Math.floor(Math.random() * spreadMs));
      while (Date.now() < deadline && context.connections.size > 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        sweepAll();
      }
      logger.info({ remaining: context.connections.size }, 'drained; closing');
      await close();
    },

    close,
  };
}

function countRooms(io: RelayServer | undefined): number {
  let count = 0;
  for (const _ of memberRooms(io)) count++;
  return count;
}

/** The rooms this relay has members in (every socket also sits in a room named after its id, and some in read-receipt rooms: not those). */
function* memberRooms(io: RelayServer | undefined): Iterable<string> {
  if (!io) return;
  const { rooms, sids } = io.of('/').adapter;
  for (const room of rooms.keys()) if (!sids.has(room) && !isReadsRoom(room)) yield room;
}

async function serveMetrics(request: IncomingMessage, response: ServerResponse, metrics: RelayMetrics): Promise<void> {
  if (request.url?.split('?')[0] !== '/metrics') return sendJson(response, 404, { error: 'not found' });
  response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics());
}

async function serveHttp(request: IncomingMessage, response: ServerResponse, store: RoomLogStore, metrics: RelayMetrics | undefined): Promise<void> {
  const path = request.url?.split('?')[0];
  if (path === '/healthz') return sendJson(response, 200, { status: 'ok' });
  if (path === '/metrics' && metrics) return serveMetrics(request, response, metrics);
  if (path === '/readyz') {
    try {
      await store.ping();
      return sendJson(response, 200, { status: 'ready', store: store.kind });
    } catch {
      return sendJson(response, 503, { status: 'unavailable', store: store.kind });
    }
  }
  sendJson(response, 404, { error: 'not found' });
}

function sendJson(response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Waits until the store answers, so the first requests after `listen()` do not fail needlessly. */
async function waitForStore(store: RoomLogStore, timeoutMs: number, logger: Logger): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await store.ping();
    } catch (error) {
      if (Date.now() >= deadline) {
        logger.warn({ err: (error as Error).message }, 'store not reachable yet; serving anyway (publishes answer unavailable)');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Logs Redis connection errors at most once a second per client: an outage is one story, not thousands of lines. */
function redisErrorLogger(logger: Logger, client: string): (error: Error) => void {
  let lastAt = 0;
  return (error) => {
    const at = Date.now();
    if (at - lastAt < 1000) return;
    lastAt = at;
    logger.warn({ client, err: error.message }, 'redis connection error');
  };
}

/**
 * The adapter does not await PUBLISH or (P)SUBSCRIBE; while Redis is down, or when the relay closes,
 * those promises reject and would crash the process as unhandled rejections. Live broadcast is
 * best-effort (the log makes delivery exact) and subscriptions are renewed on reconnect, so such
 * failures are logged and dropped.
 */
function catchUnawaitedFailures<T extends Redis | Cluster>(client: T, commands: string[], report: (error: Error) => void): T {
  const methods = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const command of commands) {
    const original = methods[command]!.bind(client);
    methods[command] = (...args) => {
      const result = original(...args);
      result.catch(report);
      return result;
    };
  }
  return client;
}
