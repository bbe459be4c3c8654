import { MAX_LABEL } from './party-state.js';

/**
 * Who is typing, from ephemeral `typing` signals: best effort (a signal may drop), so each one
 * counts for `TYPING_MS` and then fades on its own. Who is *here* comes from the relays instead
 * (`room.presence`, see `here-now.ts`).
 */

export const TYPING_MS = 4_000;

/** sender → { name, typing until (ms) }; a `Map`, so any sender id is a key like any other. */
export type TypingState = ReadonlyMap<string, { readonly name: string; readonly until: number }>;

export interface TypingSignal {
  sender: string;
  name: string;
}

export const NO_ONE_TYPING: TypingState = new Map();

/** Turns a raw signal (sender, type, parsed body) into a typing signal, or undefined if it is not one. */
export function parseTypingSignal(sender: string, type: string, body: unknown): TypingSignal | undefined {
  if (type !== 'typing') return undefined;
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const name = typeof fields.name === 'string' && fields.name.trim() ? fields.name.trim().slice(0, MAX_LABEL) : 'Guest';
  return { sender, name };
}

export function applyTyping(state: TypingState, signal: TypingSignal, now: number): TypingState {
  return new Map(state).set(signal.sender, { name: signal.name, until: now + TYPING_MS });
}

/** The state without the typing that has faded by `now` (the same object when nothing has). */
export function expireTyping(state: TypingState, now: number): TypingState {
  const live = [...state].filter(([, peer]) => peer.until > now);
  return live.length === state.size ? state : new Map(live);
}

/** When the next typing fades (ms), if anyone is typing. */
export function nextTypingExpiry(state: TypingState): number | undefined {
  let next: number | undefined;
  for (const peer of state.values()) if (next === undefined || peer.until < next) next = peer.until;
  return next;
}

export function typingNames(state: TypingState, now: number): string[] {
  return [...state.values()]
    .filter((peer) => peer.until > now)
    .map((peer) => peer.name)
    .sort();
}

/** "Ana is typing…", "Ana and Bo are typing…", "3 friends are typing…" */
export function typingLine(names: readonly string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} friends are typing…`;
}
