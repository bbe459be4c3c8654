import * as v from 'valibot';
import { WireErrorSchema } from './errors.js';
import { OutgoingMessageSchema } from './message.js';
import { MessageIdSchema, MessageTypeSchema, RoomNameSchema, SeqSchema } from './names.js';

/**
 * The client's position in a room log, sent with `since` so the relay can tell whether the log still
 * holds what the client has (positioned recovery): the log's `epoch` and the id of message `since`.
 * When the epoch matches but the log ends before `since` or holds another message there, the page
 * says `diverged` (e.g. a store lost its unsynced tail and handed those sequences out again).
 */
const PositionFields = {
  epoch: v.optional(v.pipe(v.string(), v.maxLength(128))),
  sinceId: v.optional(MessageIdSchema),
};

/** `room:join` — subscribe to live messages, optionally catching up on everything after `since`. */
export const JoinRequestSchema = v.object({
  room: RoomNameSchema,
  /** Last sequence the client has; the ack carries the first page after it. Omit to start from now. */
  since: v.optional(SeqSchema),
  /** Instead of `since`: the ack carries the newest `last` messages (a history window), then live. */
  last: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /** Page size for the catch-up in the ack (capped by the relay). */
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  ...PositionFields,
});
export type JoinRequest = v.InferOutput<typeof JoinRequestSchema>;

/** `room:read` — page through a room log after `since` (catch-up, gap filling) or before `before` (older history); exactly one of them. */
export const ReadRequestSchema = v.object({
  room: RoomNameSchema,
  /** Forward: the messages after `since`. */
  since: v.optional(SeqSchema),
  /** Backward, instead of `since`: the newest messages before `before` (the page is still in ascending order). */
  before: v.optional(SeqSchema),
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  ...PositionFields,
});
export type ReadRequest = v.InferOutput<typeof ReadRequestSchema>;

/** `room:leave` — stop receiving live messages of a room. */
export const LeaveRequestSchema = v.object({ room: RoomNameSchema });
export type LeaveRequest = v.InferOutput<typeof LeaveRequestSchema>;

/** `room:publish` — a batch of messages for one room, each acked on its own. */
export const PublishRequestSchema = v.object({
  room: RoomNameSchema,
  messages: v.pipe(v.array(OutgoingMessageSchema), v.minLength(1, 'a batch holds at least one message')),
});
export type PublishRequest = v.InferOutput<typeof PublishRequestSchema>;

/** Per-message publish outcome: its sequence (also for a duplicate: the first result), or a typed error. */
export const PublishResultSchema = v.union([
  v.object({
    id: MessageIdSchema,
    seq: SeqSchema,
    duplicate: v.optional(v.boolean()),
    /**
     * Accepted and changed nothing, so nothing was appended (`seq` is the target's, or the read
     * position): a reaction held already, an unreact of none, a delete of a deleted message, `pl:read`.
     */
    noop: v.optional(v.boolean()),
  }),
  v.object({ id: MessageIdSchema, error: WireErrorSchema }),
]);
export type PublishResult = v.InferOutput<typeof PublishResultSchema>;

/** `room:signal` — an ephemeral signal (typing, presence) that skips the log and may be dropped. */
export const SignalRequestSchema = v.object({
  room: RoomNameSchema,
  type: MessageTypeSchema,
  body: v.string(),
});
export type SignalRequest = v.InferOutput<typeof SignalRequestSchema>;

/** Ack of `user:unread`: per room of the caller's (rooms it read or wrote, that its token may read), the messages after its read position. */
export type UnreadAck = { rooms: Record<string, number> };
