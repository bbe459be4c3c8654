import type { RoomGrant } from '@partyline/protocol';
import { SignJWT } from 'jose';

/** Encodes a shared secret for HS256. Refuses secrets too short to resist guessing. */
export function secretKey(secret: string | Uint8Array): Uint8Array {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (key.length < 32) throw new RangeError('token secret must be at least 32 bytes');
  return key;
}

export interface SignTokenInput {
  /** Who the token speaks for; the relay stamps it on every message as `sender`. */
  sub: string;
  /** Rooms granted with every capability: exact names, or prefixes ending in `*`. */
  rooms?: string[];
  /** Chosen capabilities per room pattern, e.g. `[{ room: 'party:*', can: ['read'] }]` for a viewer. */
  grants?: RoomGrant[];
  /** Lifetime in seconds. @default 3600 */
  ttlSeconds?: number;
}

/**
 * Mints an access token (JWT, HS256) — for app servers and tests. Apps with asymmetric keys sign
 * their own (RS256, ES256, EdDSA) and give the relay their JWKS.
 *
 * @example
 * const token = await signAccessToken({ sub: 'ana', rooms: ['party:abc'] }, process.env.TOKEN_SECRET!);
 */
export async function signAccessToken(input: SignTokenInput, secret: string | Uint8Array): Promise<string> {
  return new SignJWT({ ...(input.rooms ? { rooms: input.rooms } : {}), ...(input.grants ? { grants: input.grants } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(input.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (input.ttlSeconds ?? 3600))
    .sign(secretKey(secret));
}
