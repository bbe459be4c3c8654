/** This browser profile's identity and the few things the app remembers between visits. */

const USER_KEY = 'partyline:user';
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

/** The token subject of this browser profile, made once (all tabs share it, like the outbox). */
export function userId(): string {
  let id = localStorage.getItem(USER_KEY);
  if (!id) {
    id = `u-${randomId(14)}`;
    localStorage.setItem(USER_KEY, id);
  }
  return id;
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

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * A token source for the SDK: a fresh demo token from the app server, or the last one while it is
 * still good (so a reload while offline can still try to reconnect the moment the network is back).
 */
export function tokenSource(party: string, user: string): () => Promise<string> {
  const key = `partyline:token:${party}:${user}`;
  return async () => {
    const cached = JSON.parse(localStorage.getItem(key) ?? 'null') as CachedToken | null;
    if (cached && cached.expiresAt - Date.now() > 5 * 60_000) return cached.token;
    const response = await fetch('/api/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ party, user }),
    });
    if (!response.ok) throw new Error(`token: HTTP ${response.status}`);
    const fresh = (await response.json()) as CachedToken;
    localStorage.setItem(key, JSON.stringify({ token: fresh.token, expiresAt: fresh.expiresAt }));
    return fresh.token;
  };
}
