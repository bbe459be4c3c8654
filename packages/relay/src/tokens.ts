import { ErrorKind, TokenClaimsSchema, validate, wireError, type TokenClaims, type WireError } from '@partyline/protocol';
import { errors, jwtVerify, SignJWT } from 'jose';

/** Encodes a shared secret for HS256. Refuses secrets too short to resist guessing. */
export function secretKey(secret: string | Uint8Array): Uint8Array {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (key.length < 32) throw new RangeError('token secret must be at least 32 bytes');
  return key;
}

export interface SignTokenInput {
  /** Who the token speaks for; the relay stamps it on every message as `sender`. */
  sub: string;
  /** Granted rooms: exact names, or prefixes ending in `*`. */
  rooms: string[];
  /** Lifetime in seconds. @default 3600 */
  ttlSeconds?: number;
}

/**
 * Mints an access token (JWT, HS256) — for app servers and tests.
 *
 * @example
 * const token = await signAccessToken({ sub: 'ana', rooms: ['party:abc'] }, process.env.TOKEN_SECRET!);
 */
export async function signAccessToken(input: SignTokenInput, secret: string | Uint8Array): Promise<string> {
  return new SignJWT({ rooms: input.rooms })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(input.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (input.ttlSeconds ?? 3600))
    .sign(secretKey(secret));
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; error: WireError };

/** Verifies a token: HS256 only (so `alg: none` and algorithm swaps fail), signature, `exp` required. */
export async function verifyAccessToken(token: string, key: Uint8Array): Promise<TokenCheck> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['sub', 'exp'] });
    const claims = validate(TokenClaimsSchema, payload);
    if (!claims.ok) return { ok: false, error: wireError(ErrorKind.Unauthorized, `token claims: ${claims.error.message}`) };
    return { ok: true, claims: claims.value };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, error: wireError(ErrorKind.TokenExpired, 'token expired') };
    return { ok: false, error: wireError(ErrorKind.Unauthorized, tokenFailureReason(error)) };
  }
}

function tokenFailureReason(error: unknown): string {
  if (error instanceof errors.JOSEAlgNotAllowed) return 'token algorithm not allowed (HS256 only)';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (error instanceof errors.JWTClaimValidationFailed) return `token claim invalid: ${error.claim}`;
  if (error instanceof errors.JOSEError) return `token malformed: ${error.message}`;
  return 'token malformed';
}
