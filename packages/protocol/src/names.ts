import * as v from 'valibot';
import { MESSAGE_ID_PATTERN, MESSAGE_TYPE_PATTERN, ROOM_NAME_PATTERN } from './name-patterns.js';

/** The rules of each name are in name-patterns.ts. */
export const RoomNameSchema = v.pipe(v.string(), v.regex(ROOM_NAME_PATTERN, 'invalid room name'));
export type RoomName = v.InferOutput<typeof RoomNameSchema>;

export const MessageIdSchema = v.pipe(v.string(), v.regex(MESSAGE_ID_PATTERN, 'invalid message id'));

export const MessageTypeSchema = v.pipe(v.string(), v.regex(MESSAGE_TYPE_PATTERN, 'invalid message type'));

/** A sequence number: a position in a room's log, starting at 1 (0 means "before the first"). */
export const SeqSchema = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
