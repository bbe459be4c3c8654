export { createClient, CLIENT_DEFAULTS } from './client.js';
export { systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export type { TransitionRecord } from './scheduler.js';
export type { TabEnvironment } from './tab-coordinator.js';
export { socketTransport } from './socket-transport.js';
export type { Transport, TransportCallbacks, TransportFactory, TransportOptions } from './transport.js';
export type { ClientEvents, ClientOptions, PartylineClient } from './client.js';
export type { ConnectionState, TokenSource } from './connection.js';
export { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
export type { ClientInspection, FlushInspection, RoomInspection } from './inspect.js';
export type { Unsubscribe } from './events.js';
export { createBrowserOnlineManager, createManualOnlineManager } from './online-manager.js';
export type { OnlineManager } from './online-manager.js';
export type { OutboxDurability, OutboxEntry } from './outbox-store.js';
export { exponentialBackoff, retryDelayFor } from './retry-policy.js';
export type { BackoffOptions, RetryDelay } from './retry-policy.js';
export { Room } from './room.js';
export { foldMessages, MessageFold } from './message-fold.js';
export type { FoldedMessage, PageSummaries, SummarizedMessage } from './message-fold.js';
export { AnnotationType, isAnnotationType, isReactionKey, isValidRoomName } from '@partyline/protocol';
export type { MessageSummary, ReadPosition } from '@partyline/protocol';
export { checkBody } from './body-schema.js';
export type { SchemaOutput, StandardIssue, StandardResult, StandardSchemaV1 } from './body-schema.js';
export { RoomPresence } from './room-presence.js';
export type { PresenceContext, RoomMember } from './room-presence.js';
export type {
  MessageStatus,
  PendingMessage,
  PublishHandle,
  ResetContext,
  RoomErrorContext,
  RoomEvents,
  RoomMessage,
  RoomOptions,
  RoomStart,
  HistoryWindow,
  InvalidMessage,
  OlderMessages,
  ReadContext,
  ReadStateSnapshot,
  UpdateContext,
  SignalContext,
  StatusContext,
} from './room.js';
