export { createRelay } from './relay.js';
export type { Relay } from './relay.js';
export { RELAY_DEFAULTS } from './options.js';
export type { RelayLimits, RelayOptions } from './options.js';
export type { RateLimit } from './rate-limiter.js';
export { jwksKeys, signAccessToken, verifyAccessToken } from './tokens.js';
export type { JwksSource, SignTokenInput, TokenCheck, TokenPolicy } from './tokens.js';
export { createMemoryStore } from './store/memory-store.js';
export { createRedisStore } from './store/redis-store.js';
export type { RedisStoreOptions } from './store/redis-store.js';
export { StoreUnavailableError } from './store/room-log-store.js';
export type {
  AppendBatchResult,
  AppendInput,
  AppendOutcome,
  LogRetention,
  RoomLogStore,
  RoomLogStoreOptions,
} from './store/room-log-store.js';
export { parseCli, helpText, ConfigError } from './config.js';
export { createServerClient, PartylineApiError } from './server-client.js';
export type { Appended, ServerClient, ServerClientOptions } from './server-client.js';
export { signWebhook, verifyWebhook } from './webhook-signature.js';
export type { WebhookCheck } from './webhook-signature.js';
export type { MessageAppendedEvent, WebhookEndpoint } from './webhooks.js';
