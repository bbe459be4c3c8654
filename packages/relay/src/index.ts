export { createRelay } from './relay.js';
export type { Relay } from './relay.js';
export { RELAY_DEFAULTS } from './options.js';
export type { RelayLimits, RelayOptions } from './options.js';
export type { RateLimit } from './rate-limiter.js';
export { jwksKeys, verifyAccessToken } from './tokens.js';
export type { JwksSource, TokenCheck, TokenPolicy } from './tokens.js';
export { createMemoryStore } from './store/memory-store.js';
export { createRedisStore } from './store/redis-store.js';
export type { RedisStoreOptions } from './store/redis-store.js';
export { StoreUnavailableError } from './store/room-log-store.js';
export type {
  AppendBatchResult,
  AppendInput,
  AppendOutcome,
  LogRetention,
  ReadState,
  RefusalKind,
  RoomLogStore,
  RoomLogStoreOptions,
} from './store/room-log-store.js';
export { parseCli, helpText, ConfigError } from './config.js';
export { BodySchemaError, BodySchemas } from './body-schemas.js';
export type { BodySchemaMap } from './body-schemas.js';
export type { WebhookEndpoint } from './webhooks.js';
// What an app backend needs lives in @partyline/server; re-exported so imports from the relay keep working.
export { createServerClient, PartylineApiError, signAccessToken, signWebhook, verifyWebhook } from '@partyline/server';
export type {
  Annotated,
  ApiBody,
  ApiMessage,
  ApiPage,
  ApiPresence,
  ApiPresenceMember,
  Appended,
  MessageAppendedEvent,
  MessageDeletedEvent,
  MessageUpdatedEvent,
  PartylineWebhookEvent,
  PresenceEvent,
  ReactionEvent,
  ServerClient,
  ServerClientOptions,
  SignTokenInput,
  WebhookCheck,
} from '@partyline/server';
