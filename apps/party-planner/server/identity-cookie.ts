import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Who a browser is, as the party server decides it: a random user id the server makes once and
 * hands the browser in an HttpOnly cookie, MACed with a key derived from the server's secret. The
 * token endpoint signs the `sub` of its tokens from this cookie only, so nobody can ask for a token
 * in someone else's name — however visible member ids are in the room's log — and a browser cannot
 * invent ids of its own (each new one is the server's to hand out, see `new-identity-limit.ts`).
 *
 * The cookie is per browser profile: every tab of a profile is the same friend; another profile
 * (another browser, a private window, a Playwright context) is another one.
 */

/** The cookie's name. */
export const IDENTITY_COOKIE = 'partyline_id';
/** Lifetime of the cookie, renewed on every token request. @default 400 days (the most Chromium keeps) */
export const IDENTITY_MAX_AGE_SECONDS = 400 * 24 * 3600;
/** User ids this server makes: `u-` and 22 base64url characters (128 random bits). */
export const SERVER_USER_ID_PATTERN = /^u-[A-Za-z0-9_-]{22}$/;

export interface IdentityCookies {
  /** A new random user id (not yet given to anyone). */
  newUser(): string;
  /** The user id a `Cookie` request header proves, if it carries a valid identity cookie. */
  read(cookieHeader: string | undefined): string | undefined;
  /** A `Set-Cookie` value giving this browser the identity `user` (and renewing its lifetime). */
  cookie(user: string, options: { secure: boolean }): string;
}

function mac(key: Buffer, user: string): string {
  return createHmac('sha256', key).update(`partyline-identity:v1:${user}`).digest('base64url');
}

/** Identity cookies MACed with a key derived from `secret` (the token secret: one secret to keep, two separate keys). */
export function createIdentityCookies(secret: string): IdentityCookies {
  const key = createHmac('sha256', secret).update('partyline party-planner identity cookie key v1').digest();
  return {
    newUser: () => `u-${randomBytes(16).toString('base64url')}`,
    read(cookieHeader) {
      if (!cookieHeader) return undefined;
      for (const part of cookieHeader.split(';')) {
        const equals = part.indexOf('=');
        if (equals < 0 || part.slice(0, equals).trim() !== IDENTITY_COOKIE) continue;
        const value = part.slice(equals + 1).trim();
        const dot = value.lastIndexOf('.');
        const user = value.slice(0, dot);
        if (dot < 0 || !SERVER_USER_ID_PATTERN.test(user)) continue;
        const given = Buffer.from(value.slice(dot + 1));
        const expected = Buffer.from(mac(key, user));
        if (given.length === expected.length && timingSafeEqual(given, expected)) return user;
      }
      return undefined;
    },
    cookie(user, { secure }) {
      return `${IDENTITY_COOKIE}=${user}.${mac(key, user)}; Path=/; Max-Age=${IDENTITY_MAX_AGE_SECONDS}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
    },
  };
}
