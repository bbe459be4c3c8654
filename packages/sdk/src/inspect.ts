import type { ConnectionState } from './connection.js';
import type { PartylineError } from './errors.js';
import type { OutboxEntry } from './outbox-store.js';

/** One open room as this tab sees it (see {@link ClientInspection}). */
export interface RoomInspection {
  name: string;
  /** The log epoch of this tab's view; undefined until a relay answered for the room. */
  epoch: string | undefined;
  /** The last seq handed to the app. */
  lastSeq: number;
  /**
   * Seqs of live messages held beyond a gap, ascending: the ones missing between `lastSeq` and them
   * are the room's known gaps, read from the log soon (after `gapFillDelayMs`, or on the next join).
   */
  waiting: number[];
  /** What the room's sync is doing (`joining`, `live`, `retrying`, `failed`, …), and whether this connection joined it. */
  sync: { state: string; joined: boolean };
}

/** Who sends the outbox, and when next. */
export interface FlushInspection {
  /** The tabs of the profile share the outbox and take turns per room (Web Locks); false: this client flushes alone. */
  shared: boolean;
  /** Rooms this tab is flushing right now (it holds their lock for one pass). */
  leading: string[];
  /** Rooms another tab of the profile is flushing right now. */
  otherTabs: string[];
  /** Failed flush passes in a row. */
  failures: number;
  /** When the next pass is due after a failure or a busy room (epoch ms); undefined when none is scheduled. */
  retryAt: number | undefined;
}

/**
 * A read-only look inside a client, for devtools and "my message did not arrive" reports
 * (`client.inspect()`). Everything is a copy taken when it was asked for.
 */
export interface ClientInspection {
  state: ConnectionState;
  /** While `connecting`: why it is not online yet (e.g. `unauthorized`: the token was refused). */
  reason: PartylineError | undefined;
  /** While waiting to retry the connection: when the next attempt is due (epoch ms). */
  retryAt: number | undefined;
  /** The relay this client is connected to; undefined while it is not. */
  relay: string | undefined;
  relays: readonly string[];
  /** Whom this client sends for: the `user` option or the token's `sub`. Entries queued under another identity wait. */
  user: string | undefined;
  rooms: RoomInspection[];
  /** Every entry in the profile's outbox (any room, any tab), in publish order. */
  outbox: OutboxEntry[];
  /** How long an entry may wait before it leaves the outbox as `expired` (ms after `createdAt`). */
  retentionMs: number;
  flush: FlushInspection;
}
