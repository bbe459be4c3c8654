import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { proxyTrust } from './admission.js';
import { BodySchemaError, BodySchemas } from './body-schemas.js';
import type { RelayOptions } from './options.js';

/** One CLI option: its flag, the env var that mirrors it, and how to read it. */
interface OptionSpec {
  flag: string;
  env: string;
  help: string;
  kind: 'string' | 'integer' | 'boolean';
  defaultText?: string;
}

/** Every CLI option; `--help` and the README's flag table (scripts/flag-table.mjs) are made from these. */
export const OPTION_SPECS = [
  { flag: 'port', env: 'PORT', kind: 'integer', help: 'TCP port to listen on (0 picks a free one)', defaultText: '8080' },
  { flag: 'host', env: 'HOST', kind: 'string', help: 'Address to bind', defaultText: '127.0.0.1' },
  { flag: 'redis-url', env: 'REDIS_URL', kind: 'string', help: 'Redis for the shared room log and adapter; unset = in-memory, single relay' },
  { flag: 'redis-cluster', env: 'REDIS_CLUSTER', kind: 'string', help: 'Redis Cluster nodes host:port,host:port (instead of --redis-url)' },
  { flag: 'ack-replicas', env: 'ACK_REPLICAS', kind: 'integer', help: 'Ack publishes only once N replicas hold them (Redis WAIT); survives a master failover', defaultText: '0' },
  { flag: 'token-secret', env: 'TOKEN_SECRET', kind: 'string', help: 'HS256 secret for access tokens, at least 32 bytes (this or a JWKS is required)' },
  { flag: 'jwks-file', env: 'JWKS_FILE', kind: 'string', help: 'JWKS file with public keys for RS256/ES256/EdDSA tokens, by kid (re-read on an unknown kid)' },
  { flag: 'jwks-url', env: 'JWKS_URL', kind: 'string', help: 'JWKS URL instead of a file (cached; refetched on an unknown kid)' },
  { flag: 'token-issuer', env: 'TOKEN_ISSUER', kind: 'string', help: 'Accept only tokens with this iss', defaultText: 'any' },
  { flag: 'token-audience', env: 'TOKEN_AUDIENCE', kind: 'string', help: 'Accept only tokens with this aud', defaultText: 'any' },
  { flag: 'max-token-age', env: 'MAX_TOKEN_AGE', kind: 'integer', help: 'Refuse tokens living longer than N seconds (exp − iat, from now if iat is ahead; iat over 60 s ahead is refused)', defaultText: '86400 (24 h)' },
  { flag: 'redis-key-prefix', env: 'REDIS_KEY_PREFIX', kind: 'string', help: 'Prefix of Redis keys and channels', defaultText: 'pl:' },
  { flag: 'max-body-bytes', env: 'MAX_BODY_BYTES', kind: 'integer', help: 'Largest message body in bytes', defaultText: '65536' },
  { flag: 'max-batch', env: 'MAX_BATCH', kind: 'integer', help: 'Most messages per publish batch', defaultText: '100' },
  { flag: 'max-batch-bytes', env: 'MAX_BATCH_BYTES', kind: 'integer', help: 'Most bytes per publish batch: the largest frame read after auth (before auth: 16 KiB)', defaultText: '1048576' },
  { flag: 'rate-limit', env: 'RATE_LIMIT', kind: 'integer', help: 'Messages and requests per second per connection (token bucket); also the HTTP API budget of each caller (token sub or API key): 1 per history page or presence read, 1 per started 64 KiB of a publish body, charged before parsing', defaultText: '1000' },
  { flag: 'rate-burst', env: 'RATE_BURST', kind: 'integer', help: 'Burst allowance per connection and per HTTP API caller', defaultText: '5000' },
  { flag: 'connect-rate', env: 'CONNECT_RATE', kind: 'integer', help: 'Authenticated new connections per second (burst 2×); more get rate_limited', defaultText: '500' },
  { flag: 'connect-rate-per-address', env: 'CONNECT_RATE_PER_ADDRESS', kind: 'integer', help: 'New connection handshakes per second from one address (burst 5×), checked first; HTTP API requests from one address get 5× this, charged before the token is checked', defaultText: '200' },
  { flag: 'webhook-url', env: 'WEBHOOK_URL', kind: 'string', help: 'POST webhooks here: message.appended, presence.*, room.occupied/vacated (Standard Webhooks signatures; needs --webhook-secret)', defaultText: 'none' },
  { flag: 'webhook-secret', env: 'WEBHOOK_SECRET', kind: 'string', help: 'Webhook signing secret: whsec_ followed by base64 (at least 24 bytes)' },
  { flag: 'webhook-max-attempts', env: 'WEBHOOK_MAX_ATTEMPTS', kind: 'integer', help: 'Attempts per webhook event before it is dead-lettered and its room moves on (a 4xx other than 408/429: at once)', defaultText: '8' },
  { flag: 'webhook-max-age-s', env: 'WEBHOOK_MAX_AGE_S', kind: 'integer', help: 'Dead-letter a webhook event still failing this many seconds after its first attempt', defaultText: '3600 (1 h)' },
  { flag: 'body-schemas', env: 'BODY_SCHEMAS', kind: 'string', help: 'JSON file of JSON Schemas (2020-12) for message bodies by room pattern and type, {"party:*": {"chat": {…}, "*": {…}}}, checked at startup; a publish (socket or HTTP) whose body does not match is refused bad_request, per message; the most specific room pattern decides, other rooms are not parsed', defaultText: 'none (bodies unchecked)' },
  { flag: 'api-keys', env: 'API_KEYS', kind: 'string', help: 'Comma list of server API keys for the HTTP API (each ≥ 32 characters; a key acts as server with every capability)', defaultText: 'none (tokens only)' },
  { flag: 'user-rate-limit', env: 'USER_RATE_LIMIT', kind: 'integer', help: 'Messages and signals per second from one user (token sub) across all relays sharing Redis; 0 = off', defaultText: '5000' },
  { flag: 'user-byte-rate', env: 'USER_BYTE_RATE', kind: 'integer', help: 'Bytes of published messages per second from one user across all relays sharing Redis (at least --max-batch-bytes); past it rate_limited and that connection is not read until the second ends; 0 = off', defaultText: '1048576 (1 MiB) or --max-batch-bytes if larger' },
  { flag: 'rooms-per-user-hour', env: 'ROOMS_PER_USER_HOUR', kind: 'integer', help: 'Rooms one user may create per hour (by appending the first message of a room; joins create nothing) across all relays sharing Redis; API keys exempt; 0 = off', defaultText: '100' },
  { flag: 'max-pending-per-address', env: 'MAX_PENDING_PER_ADDRESS', kind: 'integer', help: 'TCP connections (and Engine.IO sessions) from one address without an accepted token yet, more are closed on arrival; behind a proxy set --trust-proxy so this counts each client', defaultText: '128' },
  { flag: 'trust-proxy', env: 'TRUST_PROXY', kind: 'string', help: 'Believe X-Forwarded-For from proxies: a hop count (1 = one proxy in front, the only way in) or a comma list of proxy addresses/CIDRs (10.0.0.5/32,fd00::5/128); per-address limits, logs and metrics then use the client address; a trusted proxy may hold 32 × --max-pending-per-address connections without a token', defaultText: 'off (the TCP peer is the client)' },
  { flag: 'ping-interval-ms', env: 'PING_INTERVAL_MS', kind: 'integer', help: 'Ping each connection this long after its last pong (clients follow it and the timeout from the handshake)', defaultText: '5000' },
  { flag: 'ping-timeout-ms', env: 'PING_TIMEOUT_MS', kind: 'integer', help: 'Close a connection that does not answer a ping within this', defaultText: '5000' },
  { flag: 'max-presence-rooms', env: 'MAX_PRESENCE_ROOMS', kind: 'integer', help: 'Rooms one connection may be present in at once (more get forbidden)', defaultText: '100' },
  { flag: 'max-presence-rooms-per-user', env: 'MAX_PRESENCE_ROOMS_PER_USER', kind: 'integer', help: 'Rooms one user (token sub) may be present in on this relay, over all its connections', defaultText: '500' },
  { flag: 'presence-grace-ms', env: 'PRESENCE_GRACE_MS', kind: 'integer', help: 'A dropped connection stays present this long (a reconnect within it is never seen); a silently lost member leaves within ping interval + ping timeout + grace + 1 s', defaultText: '5000' },
  { flag: 'drain-timeout-ms', env: 'DRAIN_TIMEOUT_MS', kind: 'integer', help: 'On SIGTERM or SIGINT, move clients away, answer in-flight requests and exit within this time', defaultText: '10000' },
  { flag: 'dedup-retention-hours', env: 'DEDUP_RETENTION_HOURS', kind: 'integer', help: 'How long message ids are remembered (dedup); keep it at least the SDK outbox retention', defaultText: '168 (7 days)' },
  { flag: 'retention-messages', env: 'RETENTION_MESSAGES', kind: 'integer', help: 'Keep at most N messages per room log (0 = unlimited)', defaultText: '100000' },
  { flag: 'retention-bytes', env: 'RETENTION_BYTES', kind: 'integer', help: 'Keep at most N bytes of messages (ids, types, bodies, senders) per room log, oldest dropped first (0 = unlimited)', defaultText: '67108864 (64 MiB)' },
  { flag: 'retention-hours', env: 'RETENTION_HOURS', kind: 'integer', help: 'Drop messages older than N hours; rooms idle that long leave no keys (0 = unlimited)', defaultText: '720 (30 days)' },
  { flag: 'transports', env: 'TRANSPORTS', kind: 'string', help: 'Comma list of websocket,polling (polling is opt-in: sticky sessions, 1 MiB pre-auth frames)', defaultText: 'websocket' },
  { flag: 'cors-origins', env: 'CORS_ORIGINS', kind: 'string', help: 'Comma list of origins allowed to use long-polling cross-origin', defaultText: 'none' },
  { flag: 'metrics-port', env: 'METRICS_PORT', kind: 'integer', help: 'Serve /metrics on this port (same host)', defaultText: 'none' },
  { flag: 'metrics-public', env: 'METRICS_PUBLIC', kind: 'boolean', help: 'Also serve /metrics on the main port (only where that port is private; env value 1 or true)', defaultText: 'off' },
  { flag: 'log-level', env: 'LOG_LEVEL', kind: 'string', help: 'trace, debug, info, warn, error: pino JSON lines on stdout (a gone or stuck reader drops lines, never holds the relay up)', defaultText: 'info' },
  { flag: 'help', env: '', kind: 'boolean', help: 'Show this help' },
] as const satisfies readonly OptionSpec[];

export interface RelayCliConfig {
  port: number;
  drainTimeoutMs: number;
  host: string;
  logLevel: string;
  relay: RelayOptions;
}

export type ParsedCli = { help: true; text: string } | { help: false; config: RelayCliConfig };

/** Thrown for bad flags or env values; the CLI prints the message and exits 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function helpText(): string {
  const flags = OPTION_SPECS.map((spec) => `--${spec.flag}${spec.kind === 'boolean' ? '' : ' <value>'}`);
  const width = Math.max(...flags.map((flag) => flag.length)) + 2;
  const rows = OPTION_SPECS.map((spec, index) => {
    const env = spec.env ? `  [env ${spec.env}]` : '';
    const fallback = 'defaultText' in spec ? `  (default ${spec.defaultText})` : '';
    return `  ${flags[index]!.padEnd(width)}${spec.help}${env}${fallback}`;
  });
  return [
    'partyline-relay — Partyline relay server (Socket.IO + exactly-once room log)',
    '',
    'Usage: partyline-relay [options]      Flags win over environment variables.',
    '',
    ...rows,
    '',
    'Examples:',
    '  TOKEN_SECRET=$(openssl rand -hex 32) partyline-relay --port 8080',
    '  partyline-relay --port 8081 --redis-url redis://127.0.0.1:6379 --token-secret "$TOKEN_SECRET"',
  ].join('\n');
}

/** The body schema file, compiled at startup: unreadable, not JSON or not a usable schema stops the relay here. */
function readBodySchemas(file: string): BodySchemas {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`--body-schemas: cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return BodySchemas.compile(JSON.parse(text));
  } catch (error) {
    throw new ConfigError(`--body-schemas ${file}: ${error instanceof BodySchemaError ? error.message : `not JSON (${(error as Error).message})`}`);
  }
}

/** Reads flags (winning) and env vars into relay options. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv): ParsedCli {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(OPTION_SPECS.map((spec) => [spec.flag, { type: spec.kind === 'boolean' ? 'boolean' : 'string' } as const]));
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\nRun partyline-relay --help for the options.`);
  }
  if (values.help) return { help: true, text: helpText() };

  const read = (flag: (typeof OPTION_SPECS)[number]['flag']): string | undefined => {
    const spec = OPTION_SPECS.find((candidate) => candidate.flag === flag)!;
    const value = values[flag] ?? (spec.env ? env[spec.env] : undefined);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const integer = (flag: Parameters<typeof read>[0]): number | undefined => {
    const text = read(flag);
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text)) throw new ConfigError(`--${flag} must be a non-negative integer, got ${JSON.stringify(text)}`);
    return Number(text);
  };

  const tokenSecret = read('token-secret');
  const jwksFile = read('jwks-file');
  const jwksUrl = read('jwks-url');
  if (!tokenSecret && !jwksFile && !jwksUrl) {
    throw new ConfigError('tokens need a key: --token-secret / TOKEN_SECRET (HS256, at least 32 bytes) or --jwks-file / --jwks-url (RS256, ES256, EdDSA)');
  }
  if (tokenSecret && new TextEncoder().encode(tokenSecret).length < 32) throw new ConfigError('the token secret must be at least 32 bytes');
  if (jwksFile && jwksUrl) throw new ConfigError('set --jwks-file or --jwks-url, not both');

  const transports = (read('transports') ?? 'websocket').split(',').map((item) => item.trim());
  for (const transport of transports) {
    if (transport !== 'websocket' && transport !== 'polling') throw new ConfigError(`unknown transport ${JSON.stringify(transport)}`);
  }

  const relay: RelayOptions = { transports: transports as ('websocket' | 'polling')[] };
  if (tokenSecret) relay.tokenSecret = tokenSecret;
  if (jwksFile) relay.jwks = { file: jwksFile };
  if (jwksUrl) relay.jwks = { url: jwksUrl };
  const issuer = read('token-issuer');
  if (issuer) relay.tokenIssuer = issuer;
  const audience = read('token-audience');
  if (audience) relay.tokenAudience = audience;
  const corsOrigins = read('cors-origins');
  if (corsOrigins) relay.corsOrigin = corsOrigins.split(',').map((origin) => origin.trim()).filter(Boolean);
  const metricsPort = integer('metrics-port');
  if (metricsPort !== undefined) relay.metricsPort = metricsPort;
  if (values['metrics-public'] === true || /^(1|true|yes)$/i.test(env.METRICS_PUBLIC ?? '')) relay.metricsPublic = true;
  const maxTokenAge = integer('max-token-age');
  if (maxTokenAge !== undefined) relay.maxTokenAgeSeconds = maxTokenAge;
  const redisUrl = read('redis-url');
  if (redisUrl) relay.redisUrl = redisUrl;
  const cluster = read('redis-cluster');
  if (cluster && redisUrl) throw new ConfigError('set --redis-url or --redis-cluster, not both');
  if (cluster) relay.redisCluster = cluster.split(',').map((node) => node.trim()).filter(Boolean);
  const ackReplicas = integer('ack-replicas');
  if (ackReplicas) {
    if (!cluster && !redisUrl) throw new ConfigError('--ack-replicas needs --redis-url or --redis-cluster');
    relay.ackReplicas = ackReplicas;
  }
  const prefix = read('redis-key-prefix');
  if (prefix) relay.redisKeyPrefix = prefix;
  const maxBodyBytes = integer('max-body-bytes');
  const maxBatchMessages = integer('max-batch');
  const maxBatchBytes = integer('max-batch-bytes');
  const maxPresenceRoomsPerConnection = integer('max-presence-rooms');
  const maxPresenceRoomsPerUser = integer('max-presence-rooms-per-user');
  relay.limits = {
    ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
    ...(maxBatchMessages !== undefined ? { maxBatchMessages } : {}),
    ...(maxBatchBytes !== undefined ? { maxBatchBytes } : {}),
    ...(maxPresenceRoomsPerConnection !== undefined ? { maxPresenceRoomsPerConnection } : {}),
    ...(maxPresenceRoomsPerUser !== undefined ? { maxPresenceRoomsPerUser } : {}),
  };
  const perSecond = integer('rate-limit');
  const burst = integer('rate-burst');
  if (perSecond !== undefined || burst !== undefined) relay.rateLimit = { perSecond: perSecond ?? 1000, burst: burst ?? 5000 };
  const connectRate = integer('connect-rate');
  if (connectRate !== undefined) relay.connectRateLimit = { perSecond: connectRate, burst: connectRate * 2 };
  const webhookUrl = read('webhook-url');
  const webhookSecret = read('webhook-secret');
  if (webhookUrl && !webhookSecret) throw new ConfigError('--webhook-url needs --webhook-secret (whsec_…)');
  if (webhookUrl) relay.webhook = { url: webhookUrl, secret: webhookSecret! };
  const webhookMaxAttempts = integer('webhook-max-attempts');
  const webhookMaxAgeS = integer('webhook-max-age-s');
  if (webhookMaxAttempts === 0 || webhookMaxAgeS === 0) throw new ConfigError('--webhook-max-attempts and --webhook-max-age-s must be at least 1');
  if (webhookMaxAttempts !== undefined || webhookMaxAgeS !== undefined) {
    relay.webhookRetry = {
      ...(webhookMaxAttempts !== undefined ? { maxAttempts: webhookMaxAttempts } : {}),
      ...(webhookMaxAgeS !== undefined ? { maxAgeMs: webhookMaxAgeS * 1000 } : {}),
    };
  }
  const bodySchemasFile = read('body-schemas');
  if (bodySchemasFile) relay.bodySchemas = readBodySchemas(bodySchemasFile);
  const apiKeys = read('api-keys');
  if (apiKeys) relay.apiKeys = apiKeys.split(',').map((key) => key.trim()).filter(Boolean);
  const userRate = integer('user-rate-limit');
  if (userRate !== undefined) relay.userRateLimitPerSecond = userRate;
  const userByteRate = integer('user-byte-rate');
  if (userByteRate !== undefined) relay.userByteRatePerSecond = userByteRate;
  const roomsPerHour = integer('rooms-per-user-hour');
  if (roomsPerHour !== undefined) relay.roomsPerUserPerHour = roomsPerHour;
  const maxPending = integer('max-pending-per-address');
  if (maxPending !== undefined) relay.maxPendingPerAddress = maxPending;
  const trustProxy = read('trust-proxy');
  if (trustProxy !== undefined) {
    relay.trustProxy = /^\d+$/.test(trustProxy) ? Number(trustProxy) : trustProxy.split(',').map((entry) => entry.trim()).filter(Boolean);
    try {
      proxyTrust(relay.trustProxy);
    } catch (error) {
      throw new ConfigError((error as Error).message.replace('trustProxy', '--trust-proxy'));
    }
  }
  const perAddress = integer('connect-rate-per-address');
  if (perAddress !== undefined) relay.connectRateLimitPerAddress = { perSecond: perAddress, burst: perAddress * 5 };
  const pingIntervalMs = integer('ping-interval-ms');
  const pingTimeoutMs = integer('ping-timeout-ms');
  if (pingIntervalMs === 0 || pingTimeoutMs === 0) throw new ConfigError('--ping-interval-ms and --ping-timeout-ms must be at least 1');
  if (pingIntervalMs !== undefined) relay.pingIntervalMs = pingIntervalMs;
  if (pingTimeoutMs !== undefined) relay.pingTimeoutMs = pingTimeoutMs;
  const graceMs = integer('presence-grace-ms');
  if (graceMs !== undefined) relay.presenceTiming = { graceMs };
  const dedupHours = integer('dedup-retention-hours');
  if (dedupHours !== undefined) relay.dedupRetentionMs = dedupHours * 3_600_000;
  const maxMessages = integer('retention-messages');
  const retentionHours = integer('retention-hours');
  const maxBytes = integer('retention-bytes');
  if (maxMessages !== undefined || retentionHours !== undefined || maxBytes !== undefined) {
    relay.retention = {
      ...(maxMessages !== undefined ? { maxMessages } : {}),
      ...(retentionHours !== undefined ? { maxAgeMs: retentionHours * 3_600_000 } : {}),
      ...(maxBytes !== undefined ? { maxBytes } : {}),
    };
  }

  return {
    help: false,
    config: {
      drainTimeoutMs: integer('drain-timeout-ms') ?? 10_000,
      port: integer('port') ?? 8080, host: read('host') ?? '127.0.0.1', logLevel: read('log-level') ?? 'info', relay },
  };
}
