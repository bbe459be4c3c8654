import * as v from 'valibot';

/** What a token may do in a room. */
export const Capability = {
  /** Join, read the log, receive live messages. */
  Read: 'read',
  /** Append to the log. */
  Publish: 'publish',
  /** Send ephemeral signals (typing). */
  Signal: 'signal',
  /** Appear in the room's presence. */
  Presence: 'presence',
  /** See other members' read positions (receipts). */
  Receipts: 'receipts',
  /** Edit and delete other members' messages. Never implied by `rooms`: grant it by name. */
  Moderate: 'moderate',
} as const;
export type Capability = (typeof Capability)[keyof typeof Capability];
export const ALL_CAPABILITIES: readonly Capability[] = Object.values(Capability);
/** What `rooms` grants: everything a member does (all but `moderate`). */
export const MEMBER_CAPABILITIES: readonly Capability[] = ALL_CAPABILITIES.filter((capability) => capability !== Capability.Moderate);

/** A room pattern: an exact name, or a prefix ending in `*` (a lone `*` is every room). */
const RoomPatternSchema = v.pipe(v.string(), v.maxLength(129));

/** Capabilities for the rooms matching `room`. */
export const RoomGrantSchema = v.object({
  room: RoomPatternSchema,
  can: v.pipe(v.array(v.picklist(ALL_CAPABILITIES as Capability[])), v.maxLength(ALL_CAPABILITIES.length)),
});
export type RoomGrant = v.InferOutput<typeof RoomGrantSchema>;

/**
 * Claims of a Partyline access token (a JWT). `rooms` grants every member capability (all but `moderate`) in the rooms it lists
 * (`party:abc`, `party:*`); `grants` gives chosen capabilities per room pattern
 * (`[{ room: 'party:*', can: ['read'] }]` is a read-only viewer). A token carries at least one of them.
 */
export const TokenClaimsSchema = v.pipe(
  v.object({
    sub: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
    rooms: v.optional(v.pipe(v.array(RoomPatternSchema), v.maxLength(1000))),
    grants: v.optional(v.pipe(v.array(RoomGrantSchema), v.maxLength(1000))),
    exp: v.number(),
    iat: v.optional(v.number()),
  }),
  v.check((claims) => claims.rooms !== undefined || claims.grants !== undefined, 'a token grants rooms (`rooms` or `grants`)'),
);
export type TokenClaims = v.InferOutput<typeof TokenClaimsSchema>;

/** A token's rooms and grants as one list of grants. */
export function grantsOf(claims: Pick<TokenClaims, 'rooms' | 'grants'>): RoomGrant[] {
  return [...(claims.rooms ?? []).map((room) => ({ room, can: [...MEMBER_CAPABILITIES] })), ...(claims.grants ?? [])];
}

function matches(pattern: string, room: string): boolean {
  return pattern.endsWith('*') ? room.startsWith(pattern.slice(0, -1)) : pattern === room;
}

/** Whether `grants` allow `capability` in `room`. */
export function isAllowed(grants: readonly RoomGrant[], room: string, capability: Capability): boolean {
  for (const grant of grants) if (grant.can.includes(capability) && matches(grant.room, room)) return true;
  return false;
}
