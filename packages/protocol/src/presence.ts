import * as v from 'valibot';
import { DEFAULT_LIMITS } from './limits.js';
import { RoomNameSchema } from './names.js';

/**
 * Presence kept by the relays: who is in a room now. A member is one identity (`sub`), present
 * while at least one of its connections (tabs, devices) has entered; `data` is small app text
 * (the SDK sends JSON) such as a display name or status, set by the last enter or update.
 */
export const PresenceMemberSchema = v.object({
  sub: v.string(),
  data: v.optional(v.string()),
  /** When the member joined, epoch milliseconds (relay clock). */
  since: v.number(),
});
export type PresenceMember = v.InferOutput<typeof PresenceMemberSchema>;

const PresenceDataSchema = v.pipe(v.string(), v.maxLength(DEFAULT_LIMITS.maxPresenceDataBytes * 4));

/** `presence:enter` — appear in the room (again: update this identity's data). Needs the `presence` capability. */
export const PresenceEnterRequestSchema = v.object({ room: RoomNameSchema, data: v.optional(PresenceDataSchema) });
export type PresenceEnterRequest = v.InferOutput<typeof PresenceEnterRequestSchema>;

/** `presence:leave` (leave now, no grace) and `presence:get` (the member list; also subscribes to changes). */
export const PresenceRoomRequestSchema = v.object({ room: RoomNameSchema });
export type PresenceRoomRequest = v.InferOutput<typeof PresenceRoomRequestSchema>;

/**
 * One change of a room's presence. Changes are numbered per room (`version`, no gaps) within the
 * presence state's `epoch` (a new epoch when the state was lost, e.g. Redis flushed), so a client
 * applies a snapshot and then exactly the changes after it, in order.
 */
export const PresenceChangeSchema = v.object({
  version: v.pipe(v.number(), v.integer(), v.minValue(1)),
  kind: v.picklist(['joined', 'left', 'updated']),
  member: PresenceMemberSchema,
});
export type PresenceChange = v.InferOutput<typeof PresenceChangeSchema>;

/** Ack of `presence:get`: the members at `version` (an empty room: epoch '' and version 0). */
export const PresenceSnapshotSchema = v.object({
  epoch: v.string(),
  version: v.pipe(v.number(), v.integer(), v.minValue(0)),
  members: v.array(PresenceMemberSchema),
});
export type PresenceSnapshot = v.InferOutput<typeof PresenceSnapshotSchema>;

/** `room:presence` — changes to a room's members, ascending by version. */
export const RoomPresenceEventSchema = v.object({
  room: RoomNameSchema,
  epoch: v.string(),
  changes: v.array(PresenceChangeSchema),
});
export type RoomPresenceEvent = v.InferOutput<typeof RoomPresenceEventSchema>;
