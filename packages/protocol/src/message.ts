import * as v from 'valibot';
import { MessageIdSchema, MessageTypeSchema, RoomNameSchema, SeqSchema } from './names.js';

/**
 * A message as a client publishes it. `body` is opaque text to the relay (the SDK sends JSON),
 * so the relay never parses or re-serialises it on the hot path.
 */
export const OutgoingMessageSchema = v.object({
  id: MessageIdSchema,
  type: MessageTypeSchema,
  body: v.string(),
});
export type OutgoingMessage = v.InferOutput<typeof OutgoingMessageSchema>;

const ReactionSummarySchema = v.object({ count: v.pipe(v.number(), v.integer(), v.minValue(1)), mine: v.optional(v.literal(true)) });

/** The wire form of `MessageSummary` (annotations.ts). */
export const MessageSummarySchema = v.object({
  body: v.optional(v.string()),
  editedAt: v.optional(v.number()),
  deleted: v.optional(v.literal(true)),
  reactions: v.optional(v.record(v.string(), ReactionSummarySchema)),
});

/** The wire form of `ReadPosition` (annotations.ts). */
export const ReadPositionSchema = v.object({ sub: v.string(), seq: SeqSchema });

/** A message as it sits in a room log and reaches subscribers. */
export const LogMessageSchema = v.object({
  /** Position in the room's total order, 1-based, no gaps. */
  seq: SeqSchema,
  id: MessageIdSchema,
  type: MessageTypeSchema,
  body: v.string(),
  /** The `sub` of the token that published it, set by the relay (never trusted from the client). */
  sender: v.string(),
  /** Relay time of the append, epoch milliseconds. */
  ts: v.number(),
});
export type LogMessage = v.InferOutput<typeof LogMessageSchema>;

/**
 * A window onto a room log. `epoch` names the log's lifetime: when it changes, the log was lost and
 * sequence numbers restarted. `firstSeq` is the oldest retained message (headSeq + 1 if none is).
 */
export const RoomPageSchema = v.object({
  room: RoomNameSchema,
  epoch: v.string(),
  firstSeq: SeqSchema,
  headSeq: SeqSchema,
  messages: v.array(LogMessageSchema),
  /** More messages after the last one returned are already in the log. */
  hasMore: v.boolean(),
  /** On a backward page or a `last` window: the log holds messages before the first one returned. */
  hasOlder: v.optional(v.boolean()),
  /** Id of message `headSeq`, when retained: a member that starts at the head knows what it stands on. */
  headId: v.optional(MessageIdSchema),
  /**
   * Set when the request carried a position (`epoch`, `sinceId`) in this epoch that the log no
   * longer holds: it ends before `since`, or holds another message at `since`.
   */
  diverged: v.optional(v.boolean()),
  /**
   * Per annotated message of this page (key: its seq), its summary as of `headSeq` — the fold of every
   * annotation up to `headSeq`; a member applies only annotations after `headSeq` on top of it.
   */
  summaries: v.optional(v.record(v.string(), MessageSummarySchema)),
  /** On a join: the caller's own `sub`, so a member knows which reactions and reads are its own. */
  caller: v.optional(v.string()),
  /** On a join: the caller's read position and how many messages after it (not annotations) it has not read. */
  read: v.optional(v.object({ seq: SeqSchema, unread: v.pipe(v.number(), v.integer(), v.minValue(0)) })),
  /** On a join, when the token may see receipts: the furthest read positions of the room's members (at most 100). */
  reads: v.optional(v.array(ReadPositionSchema)),
});
export type RoomPage = v.InferOutput<typeof RoomPageSchema>;

/**
 * The id of the log message at `seq`: `room:messages` carries one for the message before each
 * appended batch, so members can check that live messages continue the history they have.
 */
export const LogLinkSchema = v.object({ seq: SeqSchema, id: MessageIdSchema });
export type LogLink = v.InferOutput<typeof LogLinkSchema>;

