import { MAX_LABEL } from './party-state.js';

/**
 * "Here now": the friends in the party room as the relays keep its presence (`room.presence`),
 * one entry per identity however many tabs or devices it is in with. Each friend enters with
 * `{ name }` (see `use-party.ts`).
 */

/** What the planner enters the room's presence with. */
export interface HereData {
  name: string;
}

/** A member of the room's presence, as the SDK hands it (`room.presence.members()`). */
export interface PresentMember {
  sub: string;
  data: unknown;
}

export interface FriendHere {
  /** The friend's user id (the `sub` of their tokens). */
  sub: string;
  name: string;
}

/** The name a member entered with, if it is a usable one (the data is any JSON another client sent), capped like a joined name. */
export function enteredName(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const name = (data as Record<string, unknown>).name;
  return typeof name === 'string' && name.trim() ? name.trim().slice(0, MAX_LABEL) : undefined;
}

/**
 * Everyone here but me, by name: the name they entered with, else `fallbackName` (e.g. the name they
 * joined the party with).
 */
export function friendsHere(members: readonly PresentMember[], me: string, fallbackName: (sub: string) => string): FriendHere[] {
  const friends = new Map<string, FriendHere>();
  for (const member of members) {
    if (member.sub === me || friends.has(member.sub)) continue;
    friends.set(member.sub, { sub: member.sub, name: enteredName(member.data) ?? fallbackName(member.sub) });
  }
  return [...friends.values()].sort((a, b) => a.name.localeCompare(b.name) || (a.sub < b.sub ? -1 : a.sub > b.sub ? 1 : 0));
}
