import * as v from 'valibot';

/**
 * Claims of a Partyline access token (a JWT signed HS256). `rooms` lists exact room names and
 * prefixes ending in `*` (`party:abc`, `party:*`); a lone `*` grants every room.
 */
export const TokenClaimsSchema = v.object({
  sub: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  rooms: v.pipe(v.array(v.pipe(v.string(), v.maxLength(129))), v.maxLength(1000)),
  exp: v.number(),
});
export type TokenClaims = v.InferOutput<typeof TokenClaimsSchema>;

/** Whether a token's room grants cover `room`. */
export function isRoomGranted(grants: readonly string[], room: string): boolean {
  for (const grant of grants) {
    if (grant.endsWith('*') ? room.startsWith(grant.slice(0, -1)) : grant === room) return true;
  }
  return false;
}
