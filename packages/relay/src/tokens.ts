import { readFileSync } from 'node:fs';
import { ErrorKind, grantsOf, TokenClaimsSchema, validate, wireError, type RoomGrant, type TokenClaims, type WireError } from '@partyline/protocol';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';

/** How a relay checks tokens. */
export interface TokenPolicy {
  /** HS256 shared secret (development, or apps that share one). */
  secret?: Uint8Array;
  /** Public keys for RS256 / ES256 / EdDSA tokens, chosen by `kid`. */
  keys?: JWTVerifyGetKey;
  /** Required `iss`, when set. */
  issuer?: string;
  /** Required `aud`, when set. */
  audience?: string;
  /** Longest token lifetime accepted (`exp` − `iat`, counted from now when `iat` is missing or in the future), in seconds. */
  maxTokenAgeSeconds: number;
}

/**
 * How far ahead of the relay's clock a token's `iat` may be: an app server's clock a little ahead is
 * normal; a token "issued" further in the future is refused (its lifetime would be counted short).
 */
export const TOKEN_CLOCK_SKEW_SECONDS = 60;

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export type TokenCheck = { ok: true; claims: TokenClaims; grants: RoomGrant[] } | { ok: false; error: WireError };

/**
 * Verifies a token: HS256 against the secret, or an asymmetric algorithm against the JWKS (never
 * `alg: none`, never an algorithm swap), signature, `exp` required, issuer/audience when configured,
 * and a lifetime no longer than the policy's maximum.
 */
export async function verifyAccessToken(token: string, policy: TokenPolicy | Uint8Array): Promise<TokenCheck> {
  const rules: TokenPolicy = policy instanceof Uint8Array ? { secret: policy, maxTokenAgeSeconds: Number.POSITIVE_INFINITY } : policy;
  try {
    const { alg } = decodeProtectedHeader(token);
    const options = {
      requiredClaims: ['sub', 'exp'],
      ...(rules.issuer !== undefined ? { issuer: rules.issuer } : {}),
      ...(rules.audience !== undefined ? { audience: rules.audience } : {}),
    };
    let payload;
    if (alg === 'HS256' && rules.secret) ({ payload } = await jwtVerify(token, rules.secret, { ...options, algorithms: ['HS256'] }));
    else if (alg !== undefined && ASYMMETRIC.includes(alg) && rules.keys) ({ payload } = await jwtVerify(token, rules.keys, { ...options, algorithms: ASYMMETRIC }));
    else return { ok: false, error: wireError(ErrorKind.Unauthorized, `token algorithm ${JSON.stringify(alg ?? 'none')} not allowed here`) };
    const claims = validate(TokenClaimsSchema, payload);
    if (!claims.ok) return { ok: false, error: wireError(ErrorKind.Unauthorized, `token claims: ${claims.error.message}`) };
    const now = Math.floor(Date.now() / 1000);
    const { iat = now, exp } = claims.value;
    if (iat > now + TOKEN_CLOCK_SKEW_SECONDS) {
      return { ok: false, error: wireError(ErrorKind.Unauthorized, `token issued in the future (iat ${iat - now} s ahead of the relay's clock; at most ${TOKEN_CLOCK_SKEW_SECONDS} s allowed)`) };
    }
    // From now when `iat` is ahead (within the skew): the token is usable from now until `exp`.
    const lifetime = exp - Math.min(iat, now);
    if (lifetime > rules.maxTokenAgeSeconds) {
      return { ok: false, error: wireError(ErrorKind.Unauthorized, `token lifetime ${lifetime} s exceeds the relay's maximum of ${rules.maxTokenAgeSeconds} s`) };
    }
    return { ok: true, claims: claims.value, grants: grantsOf(claims.value) };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, error: wireError(ErrorKind.TokenExpired, 'token expired') };
    if (error instanceof KeysUnavailableError) return { ok: false, error: wireError(ErrorKind.Unavailable, error.message, error.retryAfterMs) };
    return { ok: false, error: wireError(ErrorKind.Unauthorized, tokenFailureReason(error)) };
  }
}

/**
 * Verifies through a small cache of tokens that passed: a reconnect storm, or one token presented a
 * thousand times at once, costs one signature check per distinct token instead of one per
 * connection. Only successes are kept, for at most `maxAgeMs` (so a key removed from the JWKS stops
 * being honoured within that time) and never past the token's `exp`; concurrent checks of the same
 * token share one verification. Bounded: past `maxEntries` the oldest entry is dropped.
 */
export function cachingVerifier(policy: TokenPolicy, { maxEntries = 4096, maxAgeMs = 60_000 } = {}): (token: string) => Promise<TokenCheck> {
  const passed = new Map<string, { check: Promise<TokenCheck>; until: number }>();
  return (token) => {
    const now = Date.now();
    const cached = passed.get(token);
    if (cached && cached.until > now) return cached.check;
    passed.delete(token);
    const check = verifyAccessToken(token, policy);
    if (passed.size >= maxEntries) passed.delete(passed.keys().next().value!);
    const entry = { check, until: now + maxAgeMs };
    passed.set(token, entry);
    void check.then((result) => {
      if (passed.get(token) !== entry) return;
      if (result.ok) entry.until = Math.min(entry.until, result.claims.exp * 1000);
      else passed.delete(token);
    });
    return check;
  };
}

function tokenFailureReason(error: unknown): string {
  if (error instanceof errors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (error instanceof errors.JWKSNoMatchingKey) return 'token key id (kid) unknown to this relay';
  if (error instanceof errors.JWTClaimValidationFailed) return `token claim invalid: ${error.claim}`;
  if (error instanceof errors.JOSEError) return `token malformed: ${error.message}`;
  return 'token malformed';
}

/** Where a relay finds the public keys of asymmetric tokens. */
export type JwksSource = { file: string } | { url: string };

/**
 * The token keys could not be had (a JWKS URL that hangs, times out, refuses, answers 5xx or no key
 * set; a JWKS file gone): not the token's fault, so clients hear `unavailable` and come back later.
 */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';

  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

export interface JwksKeysOptions {
  /** How long one fetch of a JWKS URL may take. @default 3000 */
  timeoutMs?: number;
  /** Where a key source outage is reported (a warning at most once a minute). */
  logger?: Logger;
}

/**
 * After a failed fetch, the source is not asked again for this long: handshakes that need it are
 * answered at once (not each held for a timeout), and clients come back after 5–10 s, spread so a
 * crowd refused together does not return together.
 */
const KEYS_RETRY_AFTER_MS = 5_000;
const OUTAGE_LOG_INTERVAL_MS = 60_000;

/** Failures that say something about the token (its `kid`, its `alg`), not about the key source. */
function isTokenKeyError(error: unknown): boolean {
  return error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys || error instanceof errors.JOSENotSupported;
}

/**
 * The keys of a JWKS, cached. A URL is refetched by jose when a token names an unknown `kid` (at most
 * every 30 s) and every 10 min, each fetch bounded by `timeoutMs`; a file is read again on an unknown
 * `kid` (at most every 10 s). Keys rotate without touching open connections: tokens are checked when
 * a connection is made. A source that cannot be read throws {@link KeysUnavailableError}.
 */
export function jwksKeys(source: JwksSource, { timeoutMs = 3_000, logger }: JwksKeysOptions = {}): JWTVerifyGetKey {
  let warnedAt = -Infinity;
  let reason = '';
  const unavailable = () => new KeysUnavailableError(`token keys unavailable (JWKS: ${reason}); retry later`, KEYS_RETRY_AFTER_MS * (1 + Math.random()));
  const failed = (error: unknown): KeysUnavailableError => {
    reason = error instanceof Error ? error.message : String(error);
    if (Date.now() - warnedAt >= OUTAGE_LOG_INTERVAL_MS) {
      warnedAt = Date.now();
      logger?.warn({ jwks: 'url' in source ? source.url : source.file, err: reason }, 'token keys (JWKS) unavailable; handshakes are answered unavailable');
    }
    return unavailable();
  };
  if ('url' in source) {
    const remote = createRemoteJWKSet(new URL(source.url), { cacheMaxAge: 600_000, cooldownDuration: 30_000, timeoutDuration: timeoutMs });
    let retryAt = 0;
    return async (header, token) => {
      // Soon after a failed fetch, a check that needs another is answered at once; fresh keys still serve known kids.
      if (!remote.fresh && Date.now() < retryAt) throw unavailable();
      try {
        return await remote(header, token);
      } catch (error) {
        if (isTokenKeyError(error)) throw error;
        retryAt = Date.now() + KEYS_RETRY_AFTER_MS;
        throw failed(error);
      }
    };
  }
  const load = () => createLocalJWKSet(JSON.parse(readFileSync(source.file, 'utf8')) as JSONWebKeySet);
  let keys = load();
  let loadedAt = Date.now();
  return async (header, token) => {
    try {
      return await keys(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || Date.now() - loadedAt < 10_000) throw error;
      try {
        keys = load();
      } catch (loadError) {
        throw failed(loadError);
      }
      loadedAt = Date.now();
      return keys(header, token);
    }
  };
}
