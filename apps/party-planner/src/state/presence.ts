/**
 * Who is here and who is typing, from ephemeral signals. Signals may drop, so presence is a lease:
 * a friend is here while their last ping is younger than `ttlMs`; typing fades after `typingMs`.
 */
export interface PresenceState {
  /** sender → { name, last seen (ms), typing until (ms) } */
  peers: Record<string, { name: string; seenAt: number; typingUntil: number }>;
}

export const PRESENCE_PING_MS = 10_000;
export const PRESENCE_TTL_MS = 25_000;
export const TYPING_MS = 4_000;

export type PresenceSignal =
  | { type: 'presence'; sender: string; name: string; here: boolean }
  | { type: 'typing'; sender: string; name: string };

export function emptyPresence(): PresenceState {
  return { peers: {} };
}

export function applySignal(state: PresenceState, signal: PresenceSignal, now: number): PresenceState {
  const peers = { ...state.peers };
  const previous = peers[signal.sender];
  if (signal.type === 'presence' && !signal.here) {
    delete peers[signal.sender];
    return { peers };
  }
  peers[signal.sender] = {
    name: signal.name,
    seenAt: now,
    typingUntil: signal.type === 'typing' ? now + TYPING_MS : (previous?.typingUntil ?? 0),
  };
  return { peers };
}

/** Turns a raw signal (sender, type, parsed body) into a presence signal, or undefined if it is not one. */
export function parseSignal(sender: string, type: string, body: unknown): PresenceSignal | undefined {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const name = typeof fields.name === 'string' && fields.name.trim() ? fields.name.trim().slice(0, 120) : 'Guest';
  if (type === 'typing') return { type: 'typing', sender, name };
  if (type === 'presence') return { type: 'presence', sender, name, here: fields.here !== false };
  return undefined;
}

export function presentPeers(state: PresenceState, now: number, ttlMs = PRESENCE_TTL_MS): { sender: string; name: string }[] {
  return Object.entries(state.peers)
    .filter(([, peer]) => now - peer.seenAt < ttlMs)
    .map(([sender, peer]) => ({ sender, name: peer.name }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function typingPeers(state: PresenceState, now: number): string[] {
  return Object.values(state.peers)
    .filter((peer) => peer.typingUntil > now)
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
