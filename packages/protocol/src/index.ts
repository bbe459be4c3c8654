export type { Ack, AckCallback } from './ack.js';
export { ErrorKind, RETRYABLE_KINDS } from './error-kinds.js';
export { ErrorKindSchema, WireErrorSchema, wireError } from './errors.js';
export type { WireError } from './errors.js';
export { ClientEvent, ServerEvent } from './event-names.js';
export { HandshakeAuthSchema, RoomMessagesEventSchema, RoomReadsEventSchema, RoomSignalEventSchema } from './events.js';
export type {
  ClientToServerEvents,
  HandshakeAuth,
  JoinAck,
  PublishAck,
  ReadAck,
  RelayDrainEvent,
  RoomMessagesEvent,
  RoomReadsEvent,
  RoomSignalEvent,
  ServerToClientEvents,
} from './events.js';
export { ALL_CAPABILITIES, Capability, MEMBER_CAPABILITIES, grantsOf, isAllowed, RoomGrantSchema, TokenClaimsSchema } from './grants.js';
export type { RoomGrant, TokenClaims } from './grants.js';
export { DEFAULT_DEDUP_RETENTION_MS, DEFAULT_LIMITS } from './limits.js';
export { LogLinkSchema, LogMessageSchema, MessageSummarySchema, OutgoingMessageSchema, ReadPositionSchema, RoomPageSchema } from './message.js';
export type { LogLink, LogMessage, OutgoingMessage, RoomPage } from './message.js';
export { isValidRoomName, MESSAGE_ID_PATTERN, MESSAGE_TYPE_PATTERN, ROOM_NAME_PATTERN } from './name-patterns.js';
export { MessageIdSchema, MessageTypeSchema, RoomNameSchema, SeqSchema } from './names.js';
export {
  JoinRequestSchema,
  LeaveRequestSchema,
  PublishRequestSchema,
  PublishResultSchema,
  ReadRequestSchema,
  SignalRequestSchema,
} from './requests.js';
export type {
  JoinRequest,
  LeaveRequest,
  PublishRequest,
  PublishResult,
  ReadRequest,
  SignalRequest,
  UnreadAck,
} from './requests.js';
export {
  PresenceChangeSchema,
  PresenceEnterRequestSchema,
  PresenceMemberSchema,
  PresenceRoomRequestSchema,
  PresenceSnapshotSchema,
  RoomPresenceEventSchema,
} from './presence.js';
export type { PresenceChange, PresenceEnterRequest, PresenceMember, PresenceRoomRequest, PresenceSnapshot, RoomPresenceEvent } from './presence.js';
export { HttpBatchSchema, HttpMessageSchema } from './http.js';
export type { HttpBatch, HttpMessage } from './http.js';
export { utf8ByteLength } from './utf8.js';
export { validate } from './validate.js';
export type { Validated } from './validate.js';
export { NO_ECHO_PROTOCOL_VERSION, PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from './version.js';
export {
  AnnotationType,
  isAnnotationType,
  isReactionKey,
  isReservedType,
  MAX_REACTION_KEY_BYTES,
  MAX_REACTION_KEYS,
  parseAnnotation,
  RESERVED_TYPE_PREFIX,
} from './annotations.js';
export type { Annotation, AnnotationTarget, MessageSummary, ReadPosition } from './annotations.js';
