import type { BodySchemas } from './body-schemas.js';
import type { WebhookEndpoint } from './webhooks.js';
import type { WebhookRetryPolicy } from './webhook-retry.js';
import type { PresenceTiming } from './presence.js';
import { DEFAULT_DEDUP_RETENTION_MS, DEFAULT_LIMITS } from '@partyline/protocol';
import type { Logger } from 'pino';
import type { RateLimit } from './rate-limiter.js';
import type { LogRetention, RoomLogStore } from './store/room-log-store.js';
import type { JwksSource } from './tokens.js';

export interface RelayLimits {
  /** Largest message body in UTF-8 bytes. @default 65536 */
  maxBodyBytes: number;
  /** Most messages in one publish batch. @default 100 */
  maxBatchMessages: number;
  /** Most bytes in one publish batch; also the largest frame read after auth (plus packet overhead). @default 1048576 */
  maxBatchBytes: number;
  /** Largest frame read before a connection's token is accepted. @default 16384 */
  maxPreAuthFrameBytes: number;
  /** Largest catch-up page. @default 500 */
  maxPageSize: number;
  /** Most bytes of messages (as JSON) in one page. @default 1048576 */
  maxPageBytes: number;
  /** Largest signal body in UTF-8 bytes. @default 4096 */
  maxSignalBytes: number;
  /** Largest presence data of one member in UTF-8 bytes. @default 1024 */
  maxPresenceDataBytes: number;
  /** Most rooms one connection is present in at once; more get `forbidden`. @default 100 */
  maxPresenceRoomsPerConnection: number;
  /** Most rooms one user (token `sub`) is present in on one relay, over all its connections; more get `forbidden`. @default 500 */
  maxPresenceRoomsPerUser: number;
}

export interface RelayOptions {
  /** HS256 secret that access tokens are signed with (at least 32 bytes). Required unless `jwks` is set. */
  tokenSecret?: string | Uint8Array;
  /** Public keys (a JWKS file or URL) for RS256 / ES256 / EdDSA tokens, chosen by `kid`; with or without `tokenSecret`. */
  jwks?: JwksSource;
  /** Accept only tokens with this `iss`. @default any */
  tokenIssuer?: string;
  /** Accept only tokens with this `aud`. @default any */
  tokenAudience?: string;
  /**
   * Refuse tokens that live longer than this (`exp` − `iat`, counted from now when `iat` is ahead of the
   * relay's clock; an `iat` more than 60 s ahead is refused), so a leaked token cannot be good for years.
   * @default 86400 (24 h)
   */
  maxTokenAgeSeconds?: number;
  /** Standalone Redis for the room log and the Socket.IO adapter. @default none: in-memory log, single relay */
  redisUrl?: string;
  /** Redis Cluster nodes (`host:port`, a few are enough) instead of `redisUrl`. */
  redisCluster?: string[];
  /** Ack a publish only after this many Redis replicas hold it (`WAIT`), so acked messages survive a failover. @default 0 */
  ackReplicas?: number;
  /** A room log store to use instead of the one `redisUrl` selects (tests, custom backends). */
  store?: RoomLogStore;
  /** Prefix of every Redis key and pub/sub channel. @default 'pl:' */
  redisKeyPrefix?: string;
  /** @default pino at `info` */
  logger?: Logger;
  /** Size limits; each field defaults as in `DEFAULT_LIMITS`. */
  limits?: Partial<RelayLimits>;
  /** Messages (and requests) per second per connection. @default { perSecond: 1000, burst: 5000 } */
  rateLimit?: RateLimit;
  /** Signals per second per connection. @default { perSecond: 20, burst: 40 } */
  signalRateLimit?: RateLimit;
  /** How long message ids are remembered for dedup; keep ≥ the SDK outbox retention. @default 7 days */
  dedupRetentionMs?: number;
  /**
   * Room log retention; each field merges over the default, 0 = unlimited on purpose. With an age
   * limit, a room with no new message for that long (at least the dedup retention) leaves no keys.
   * @default { maxMessages: 100000, maxAgeMs: 30 days, maxBytes: 64 MiB }
   */
  retention?: LogRetention;
  /** Engine.IO transports accepted. Long-polling is opt-in: it needs sticky sessions behind a balancer, and its pre-auth frames are bounded only by `maxBatchBytes`. @default ['websocket'] */
  transports?: ('websocket' | 'polling')[];
  /** CORS origins allowed for the polling transport (WebSocket ignores CORS). @default false (none: same origin only) */
  corsOrigin?: string | string[] | boolean;
  /** Serve `/metrics` on this port (same host). @default none: no `/metrics` unless `metricsPublic` */
  metricsPort?: number;
  /**
   * Also serve `/metrics` on the main port. Only where that port is not reachable from the internet
   * (a private network, tests): the metrics tell anyone the relay's load, rooms and refusals. @default false
   */
  metricsPublic?: boolean;
  /** Authenticated new connections per second the relay accepts (reconnect storms get `rate_limited` + retryAfterMs). @default { perSecond: 500, burst: 1000 } */
  connectRateLimit?: RateLimit;
  /** New connection handshakes (WebSocket or polling) per second from one address, checked before anything else. @default { perSecond: 200, burst: 1000 } */
  connectRateLimitPerAddress?: RateLimit;
  /** TCP connections from one address not carrying an accepted token (handshakes, plain HTTP requests); more are closed on arrival. @default 128 */
  maxPendingPerAddress?: number;
  /**
   * Proxies whose `X-Forwarded-For` is believed: a hop count (`1`: one proxy in front, and the relay
   * reachable through it only) or their addresses/CIDRs (`['127.0.0.1/32', '10.0.0.0/8']`). Per-address
   * limits, logs and metrics then use the client's address (the rightmost untrusted hop). A trusted
   * proxy's TCP connections are not capped per address (all clients share it) but together, at
   * `maxPendingPerAddress` × 32 pending per proxy; its clients' sessions are capped per client.
   * @default off: the TCP peer is the client (behind a proxy, every client shares the proxy's limits)
   */
  trustProxy?: number | string[];
  /** Messages and signals per second from one user (`sub`) over all its connections on every relay sharing Redis; `0` = no per-user limit. @default 5000 */
  userRateLimitPerSecond?: number;
  /**
   * Bytes of published messages (UTF-8 of ids, types and bodies; socket and HTTP) per second from one
   * user over every relay sharing Redis, counted with `userRateLimitPerSecond` in the same per-second
   * window; `0` = no byte limit. At least `limits.maxBatchBytes`, so the largest batch passes in a fresh
   * second: a user may send that much at once, and twice it across the turn of a second.
   * @default 1048576 (1 MiB), or `limits.maxBatchBytes` when that is larger
   */
  userByteRatePerSecond?: number;
  /**
   * Rooms one user may create per hour (a room is created by the first message appended to it; joins and
   * reads create nothing), over every relay sharing Redis; `0` = no limit. Past it, a message to a new
   * room is answered `rate_limited` with `retryAfterMs` (until the hour ends). Server API keys are not
   * limited. @default 100
   */
  roomsPerUserPerHour?: number;
  /** Presence leases, renewal, grace and sweep periods (tests shorten them). @default lease 7 s, renew 2 s, grace 5 s, sweep 1 s */
  presenceTiming?: Partial<PresenceTiming>;
  /** Send `message.appended` webhooks here (at least once, signed; the queue is the room logs plus a cursor in the store). @default none */
  webhook?: WebhookEndpoint;
  /**
   * How long one webhook event is retried (0.5 s, 2 s, 8 s … up to 10 min apart) before it goes to the
   * dead letters and its room moves on; a 4xx other than 408/429 dead-letters it at once. Each field
   * merges over the default. @default { maxAttempts: 8, maxAgeMs: 3600000 } (8 attempts span 11–21 min)
   */
  webhookRetry?: Partial<WebhookRetryPolicy>;
  /** Server API keys for the HTTP API (`Authorization: Bearer <key>`: every capability in every room), each ≥ 32 characters. @default none */
  apiKeys?: string[];
  /**
   * Schemas that message bodies must match, by room pattern and message type (socket and HTTP
   * publishes; a body that does not match is refused `bad_request`, per message, naming the path that
   * failed). Bodies of other rooms stay unparsed.
   * @default none
   * @example bodySchemas: BodySchemas.compile({ 'party:*': { chat: { type: 'object', required: ['text'] } } })
   */
  bodySchemas?: BodySchemas;
  /** How long a new connection may take to present its token. @default 5000 */
  connectTimeoutMs?: number;
  /**
   * The heartbeat: the relay pings each connection this long after its last pong (Socket.IO's
   * `pingInterval`; clients learn it from the handshake). With `pingTimeoutMs` and the presence grace
   * it bounds how long a silently lost member (no FIN: Wi-Fi gone, a laptop asleep) stays present:
   * interval + timeout + grace + one sweep, 16 s at most with the defaults. @default 5000
   */
  pingIntervalMs?: number;
  /** A connection that does not answer a ping within this is closed ("ping timeout"). @default 5000 */
  pingTimeoutMs?: number;
  /** Close a connection whose unread backlog passes this many bytes (it catches up from the log). @default 8 MiB */
  maxBufferedBytes?: number;
  /** How long `listen()` waits for the store before starting anyway (then answering `unavailable`). @default 10000 */
  storeStartupTimeoutMs?: number;
}

export const RELAY_DEFAULTS = {
  redisKeyPrefix: 'pl:',
  maxTokenAgeSeconds: 86_400,
  // Presence rooms: an app shows presence in a handful of rooms per tab, and every room costs a Redis
  // renewal every 2 s (tens of µs of relay CPU per room and second): a connection cannot make thousands.
  limits: { ...DEFAULT_LIMITS, maxPresenceRoomsPerConnection: 100, maxPresenceRoomsPerUser: 500 } satisfies RelayLimits,
  rateLimit: { perSecond: 1000, burst: 5000 } satisfies RateLimit,
  signalRateLimit: { perSecond: 20, burst: 40 } satisfies RateLimit,
  dedupRetentionMs: DEFAULT_DEDUP_RETENTION_MS,
  retention: { maxMessages: 100_000, maxAgeMs: 30 * 24 * 3_600_000, maxBytes: 64 * 1024 * 1024 } satisfies LogRetention,
  transports: ['websocket'] as ('websocket' | 'polling')[],
  corsOrigin: false as string | string[] | boolean,
  storeStartupTimeoutMs: 10_000,
  webhookRetry: { maxAttempts: 8, maxAgeMs: 3_600_000 } satisfies WebhookRetryPolicy,
  connectRateLimit: { perSecond: 500, burst: 1000 } satisfies RateLimit,
  connectRateLimitPerAddress: { perSecond: 200, burst: 1000 } satisfies RateLimit,
  maxPendingPerAddress: 128,
  /** A trusted proxy may hold this many times `maxPendingPerAddress` connections without an accepted token. */
  pendingPerProxyFactor: 32,
  userRateLimitPerSecond: 5_000,
  userByteRatePerSecond: 1024 * 1024,
  roomsPerUserPerHour: 100,
  connectTimeoutMs: 5_000,
  pingIntervalMs: 5_000,
  pingTimeoutMs: 5_000,
  maxBufferedBytes: 8 * 1024 * 1024,
  /** How often every connection is checked for token expiry and slow reading. */
  sweepIntervalMs: 1_000,
  /** A draining relay exits by then at the latest. */
  drainDeadlineMs: 10_000,
  /** Clients of a draining relay reconnect at random times within this window. */
  drainSpreadMs: 3_000,
} as const;

/** Overhead allowed on top of the largest batch in one Socket.IO packet (ids, types, JSON framing). */
export const PACKET_OVERHEAD_BYTES = 64 * 1024;
