import type { PresenceChange, PresenceSnapshot } from '@partyline/protocol';

/**
 * One connection's presence in a room: `key` is unique per connection and room (`<conn>|<sub>`),
 * and names the identity after its first `|`.
 */
export interface Lease {
  key: string;
  sub: string;
}

/** What a presence operation changed, numbered in the room's presence state (`epoch`). */
export interface PresenceChanges {
  epoch: string;
  changes: PresenceChange[];
}

/**
 * Presence per room, shared by every relay on the store. A member (`sub`) is present while at least
 * one of its leases is unexpired; each relay renews the leases of its own connections, so a relay
 * that dies stops renewing and its members leave when the leases run out (`sweep`, by any relay).
 * Every change gets the room's next version, atomically with the change.
 * Implementations: in-memory (one relay) and Redis; one contract suite tests both.
 */
export interface PresenceStore {
  /** Adds or renews a lease until `expiresAt`; the member joins (first lease) or its data changes (when given). */
  enter(room: string, lease: Lease, data: string | undefined, expiresAt: number): Promise<PresenceChanges>;
  /** Removes a lease now; the member leaves with its last lease. */
  leave(room: string, lease: Lease): Promise<PresenceChanges>;
  /** Moves existing leases' expiry (renewal, or a grace after a disconnect); answers the keys it no longer had. */
  extend(room: string, keys: string[], expiresAt: number): Promise<string[]>;
  /** Removes leases that expired before `now` in up to `maxRooms` rooms; answers the changes per room. */
  sweep(now: number, maxRooms: number): Promise<Map<string, PresenceChanges>>;
  /**
   * Changes recorded for webhooks (when the store records them) after `after` ('' = the oldest kept),
   * oldest first, each with the member count right after it and a cursor to continue from.
   */
  recorded(room: string, after: string, limit: number): Promise<RecordedPresenceChange[]>;
  /** The members now (an unknown room: epoch '' and no members). */
  snapshot(room: string): Promise<PresenceSnapshot>;
  close(): Promise<void>;
}

export interface RecordedPresenceChange {
  cursor: string;
  kind: PresenceChange['kind'];
  member: PresenceChange['member'];
  /** Members in the room right after this change (1 after a join: the room became occupied; 0 after a leave: vacated). */
  members: number;
}

/** Options of every presence store. */
export interface PresenceStoreOptions {
  /** Keep each change (for webhooks), up to 10,000 per room. @default false */
  recordChanges?: boolean;
  /** Awaited before any change may happen in a room (webhooks mark it, so a crash right after loses no event). */
  beforeChange?: (room: string) => Promise<void>;
}

export const subOfLease = (key: string): string => key.slice(key.indexOf('|') + 1);
