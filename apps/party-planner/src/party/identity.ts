/**
 * This browser profile's identity and the few things the app remembers between visits.
 *
 * Who this browser is is the party server's to say: it keeps a random user id in an HttpOnly cookie
 * and signs every token for that id only (see `server/identity-cookie.ts`). The app never makes a user
 * id; it learns its own from the token answers (`{ token, user }`) and remembers the last one, so a
 * reload while offline still knows whose queued messages are whose. The display name is not the
 * identity: it is only data in `member:join` messages and in presence.
 */

/** The user id the server last gave this profile. */
const USER_KEY = 'partyline:me';
/** Where earlier versions kept a user id the app made up itself: never used again. */
const LEGACY_USER_KEY = 'partyline:user';
const NAME_KEY = 'partyline:name';
const RELAYS_KEY = 'partyline:relays';
const PARTIES_KEY = 'partyline:parties';

function randomId(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (byte) => alphabet[byte % alphabet.length]).join('');
}

/** A random party id: the room is `party:<id>`, the invite link `/p/<id>`. */
export function newPartyId(): string {
  return randomId(12);
}

/** A short random id for checklist items and poll options. */
export function newLocalId(): string {
  return randomId(10);
}

/** The user id the server last gave this profile (all tabs share it, like the outbox), if it ever did. */
export function knownUser(): string | undefined {
  return localStorage.getItem(USER_KEY) ?? undefined;
}

function rememberUser(user: string): void {
  if (localStorage.getItem(USER_KEY) !== user) localStorage.setItem(USER_KEY, user);
  localStorage.removeItem(LEGACY_USER_KEY);
}

export function savedName(): string {
  return localStorage.getItem(NAME_KEY) ?? '';
}

export function saveName(name: string): void {
  localStorage.setItem(NAME_KEY, name);
}

export function hasJoined(party: string): boolean {
  return localStorage.getItem(`partyline:joined:${party}`) !== null;
}

export function markJoined(party: string, name: string): void {
  localStorage.setItem(`partyline:joined:${party}`, name);
}

export interface RecentParty {
  id: string;
  title: string;
}

export function recentParties(): RecentParty[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(PARTIES_KEY) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((p): p is RecentParty => typeof p?.id === 'string' && typeof p?.title === 'string') : [];
  } catch {
    return [];
  }
}

export function rememberParty(party: RecentParty): void {
  const rest = recentParties().filter((p) => p.id !== party.id);
  localStorage.setItem(PARTIES_KEY, JSON.stringify([party, ...rest].slice(0, 8)));
}

declare global {
  interface Window {
    /** Relay URLs set before the app starts (tests route each browser through its own proxy). */
    __PARTYLINE_RELAYS__?: string[];
  }
}

/** Which relays to use: a preset, else the server's answer (remembered for offline starts). */
export async function relayUrls(): Promise<string[]> {
  if (Array.isArray(window.__PARTYLINE_RELAYS__) && window.__PARTYLINE_RELAYS__.length > 0) return window.__PARTYLINE_RELAYS__;
  try {
    const response = await fetch('/api/config', { cache: 'no-store' });
    if (!response.ok) throw new Error(`config: HTTP ${response.status}`);
    const config = (await response.json()) as { relays?: unknown };
    if (Array.isArray(config.relays) && config.relays.every((url) => typeof url === 'string')) {
      localStorage.setItem(RELAYS_KEY, JSON.stringify(config.relays));
      return config.relays as string[];
    }
    throw new Error('config: no relays');
  } catch (error) {
    const cached: unknown = JSON.parse(localStorage.getItem(RELAYS_KEY) ?? 'null');
    if (Array.isArray(cached) && cached.length > 0) return cached as string[];
    throw error;
  }
}

/** A token request the server answered with an error. */
export class TokenRequestError extends Error {
  readonly status: number;
  /** When the server asked to wait (429: too many new identities from this network). */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'TokenRequestError';
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

interface TokenAnswer {
  token: string;
  /** Whom the token is for: this browser, as the server knows it. */
  user: string;
  expiresAt: number;
}

/** The `sub` of a JWT, read without checking it (the relay checks it; here it only names the holder). */
function subjectOf(token: string): string | undefined {
  try {
    const payload = token.split('.')[1] ?? '';
    const json: unknown = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    const sub = typeof json === 'object' && json !== null ? (json as { sub?: unknown }).sub : undefined;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

const tokenKey = (party: string) => `partyline:token:${party}`;
const LIST_TOKEN_KEY = 'partyline:token:list';

/**
 * A token for `party` from the app server. The answer names this browser (the server's cookie
 * decides who it is, whatever the app would like to be): remembered as this profile's user id.
 */
async function requestToken(party: string): Promise<TokenAnswer> {
  const response = await fetch('/api/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ party }),
  });
  if (!response.ok) {
    const answer = (await response.json().catch(() => ({}))) as { error?: unknown; retryAfterMs?: unknown };
    const message = typeof answer.error === 'string' ? answer.error : `HTTP ${response.status}`;
    throw new TokenRequestError(response.status, `token: ${message}`, typeof answer.retryAfterMs === 'number' ? answer.retryAfterMs : undefined);
  }
  const answer = (await response.json()) as Partial<TokenAnswer>;
  if (typeof answer.token !== 'string') throw new Error('token: no token in the answer');
  const user = typeof answer.user === 'string' ? answer.user : subjectOf(answer.token);
  if (!user) throw new Error('token: the answer does not say whom it is for');
  const fresh: TokenAnswer = { token: answer.token, user, expiresAt: typeof answer.expiresAt === 'number' ? answer.expiresAt : 0 };
  localStorage.setItem(tokenKey(party), JSON.stringify(fresh));
  rememberUser(user);
  return fresh;
}

/**
 * Who this browser is: the user id the server gave it before, or — the first time — the one it
 * gives now, with a token for `party`. Tabs of a new profile ask one at a time (a Web Lock), so they
 * all end up with the one identity the cookie holds.
 */
export async function identify(party: string): Promise<string> {
  const known = knownUser();
  if (known) return known;
  const ask = async () => knownUser() ?? (await requestToken(party)).user;
  return typeof navigator !== 'undefined' && navigator.locks ? navigator.locks.request('partyline:identify', ask) : ask();
}

/**
 * A token source for the SDK: a fresh demo token from the app server, or the last one while it is
 * still good (so a reload while offline can still try to reconnect the moment the network is back).
 *
 * The server, not the app, says whom a token is for: when its answer names someone else than `user`
 * (the cookie was cleared, or the server's secret changed), no token is handed out for `user` —
 * `onOtherUser` is told, so the app reopens the party as the browser's new identity.
 */
export function tokenSource(party: string, user: string, onOtherUser: (user: string) => void): () => Promise<string> {
  return async () => {
    const cached = JSON.parse(localStorage.getItem(tokenKey(party)) ?? 'null') as Partial<TokenAnswer> | null;
    if (cached?.user === user && typeof cached.token === 'string' && (cached.expiresAt ?? 0) - Date.now() > 5 * 60_000) return cached.token;
    const fresh = await requestToken(party);
    if (fresh.user !== user) {
      onOtherUser(fresh.user);
      throw new Error(`token: this browser is now ${fresh.user}, not ${user}`);
    }
    return fresh.token;
  };
}

/**
 * A token source for the list of parties: a token that only reads `parties` (for their unread
 * counts), from the app server — or the last one while it is still good and for the same parties.
 * It never changes who this browser is: an answer for another user is refused.
 */
export function listTokenSource(parties: readonly string[], user: string): () => Promise<string> {
  const key = [...parties].sort().join(',');
  return async () => {
    const cached = JSON.parse(localStorage.getItem(LIST_TOKEN_KEY) ?? 'null') as (Partial<TokenAnswer> & { parties?: string }) | null;
    if (cached?.user === user && cached.parties === key && typeof cached.token === 'string' && (cached.expiresAt ?? 0) - Date.now() > 5 * 60_000) return cached.token;
    const response = await fetch('/api/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ parties }),
    });
    if (!response.ok) throw new TokenRequestError(response.status, `token: HTTP ${response.status}`);
    const answer = (await response.json()) as Partial<TokenAnswer>;
    if (typeof answer.token !== 'string' || answer.user !== user) throw new Error('token: no read token for this browser');
    localStorage.setItem(LIST_TOKEN_KEY, JSON.stringify({ token: answer.token, user, expiresAt: answer.expiresAt ?? 0, parties: key }));
    return answer.token;
  };
}
