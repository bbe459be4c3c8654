import * as v from 'valibot';
import type { AckCallback } from './ack.js';
import type { WireError } from './errors.js';
import { LogLinkSchema, LogMessageSchema, ReadPositionSchema, type RoomPage } from './message.js';
import { MessageTypeSchema, RoomNameSchema } from './names.js';
import type { PresenceEnterRequest, PresenceRoomRequest, PresenceSnapshot, RoomPresenceEvent } from './presence.js';
import type {
  JoinRequest,
  LeaveRequest,
  PublishRequest,
  PublishResult,
  ReadRequest,
  SignalRequest,
  UnreadAck,
} from './requests.js';

/** Ack of `room:publish`: one result per message, in request order. */
/**
 * A publish's answer. `ts` (the relay's time of the messages it appended) and `previousId` (the id of
 * the message before the first of them, absent when it was the room's first): with these, the results
 * and what it sent, a client holds its appended messages whole (protocol 3: they are not echoed to it).
 */
export type PublishAck = { epoch: string; results: PublishResult[]; ts?: number; previousId?: string };
export type JoinAck = RoomPage;
export type ReadAck = RoomPage;

/** Typed event map for `Socket<ServerToClientEvents, ClientToServerEvents>` and `Server<ClientToServerEvents, ...>`. */
export interface ClientToServerEvents {
  'room:join': (request: JoinRequest, ack: AckCallback<JoinAck>) => void;
  'room:leave': (request: LeaveRequest, ack: AckCallback<object>) => void;
  'room:read': (request: ReadRequest, ack: AckCallback<ReadAck>) => void;
  'room:publish': (request: PublishRequest, ack: AckCallback<PublishAck>) => void;
  'room:signal': (request: SignalRequest, ack?: AckCallback<object>) => void;
  'presence:enter': (request: PresenceEnterRequest, ack: AckCallback<object>) => void;
  'presence:leave': (request: PresenceRoomRequest, ack: AckCallback<object>) => void;
  'presence:get': (request: PresenceRoomRequest, ack: AckCallback<PresenceSnapshot>) => void;
  'user:unread': (request: object, ack: AckCallback<UnreadAck>) => void;
}

/**
 * New messages of a room, ascending by seq. `links` name the message before each appended batch
 * (when the log still holds it), so a member can tell live messages that continue its history from
 * ones of a log that lost its tail and reused those sequences.
 */
export const RoomMessagesEventSchema = v.object({
  room: RoomNameSchema,
  epoch: v.string(),
  messages: v.array(LogMessageSchema),
  links: v.optional(v.array(LogLinkSchema)),
});
export type RoomMessagesEvent = v.InferOutput<typeof RoomMessagesEventSchema>;

/** Read positions that moved in a room (each only forwards). */
export const RoomReadsEventSchema = v.object({
  room: RoomNameSchema,
  reads: v.array(ReadPositionSchema),
});
export type RoomReadsEvent = v.InferOutput<typeof RoomReadsEventSchema>;

export const RoomSignalEventSchema = v.object({
  room: RoomNameSchema,
  sender: v.string(),
  type: MessageTypeSchema,
  body: v.string(),
});
export type RoomSignalEvent = v.InferOutput<typeof RoomSignalEventSchema>;

export interface ServerToClientEvents {
  'room:messages': (event: RoomMessagesEvent) => void;
  'room:signal': (event: RoomSignalEvent) => void;
  'room:presence': (event: RoomPresenceEvent) => void;
  'room:reads': (event: RoomReadsEvent) => void;
  'relay:error': (error: WireError & { event?: string }) => void;
  'relay:drain': (event: RelayDrainEvent) => void;
}

/**
 * Sent to every connection when a relay drains (SIGTERM). Delays are spread (jittered) so a relay's
 * clients do not all land on the next relay in the same instant; in-flight acks are still answered.
 */
export interface RelayDrainEvent {
  reconnectAfterMs: number;
}

/** What a client sends in the Socket.IO handshake (`io(url, { auth })`). */
export const HandshakeAuthSchema = v.object({
  token: v.pipe(v.string(), v.minLength(1, 'token is empty')),
  protocol: v.optional(v.number()),
});
export type HandshakeAuth = v.InferOutput<typeof HandshakeAuthSchema>;
