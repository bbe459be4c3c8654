import { MAX_REACTION_KEYS, utf8ByteLength, type LogMessage, type ReadPosition, type RoomPage } from '@partyline/protocol';

/** A message on its way into a room log; the store assigns `seq` and `ts`. */
export interface AppendInput {
  id: string;
  type: string;
  body: string;
  sender: string;
}

/** Why the store refused an annotation (the relay answers the publish with this error kind). */
export type RefusalKind = 'not_found' | 'message_deleted' | 'forbidden' | 'bad_request';

/** The refusal of an annotation of message `target`, the same from every store. */
export function refusal(id: string, kind: RefusalKind, target: string): Extract<AppendOutcome, { status: 'refused' }> {
  const messages: Record<RefusalKind, string> = {
    not_found: `the room's log holds no message ${target} (never sent, or trimmed)`,
    message_deleted: `message ${target} was deleted`,
    forbidden: `only the sender of message ${target} (or a moderator) may change it`,
    bad_request: `message ${target} holds the most reaction keys already (${MAX_REACTION_KEYS})`,
  };
  return { status: 'refused', id, kind, message: messages[kind] };
}

/**
 * What became of one appended message or annotation:
 * - `appended`: new, here is its log entry (broadcast it);
 * - `duplicate`: the id was seen before with the same content; `seq` is the first result (`noop`
 *   when that first result was a noop: `seq` is then the target's);
 * - `conflict`: the id was seen before with a different type or body; `seq` is the first message's;
 * - `noop`: an annotation that changes nothing (react held, unreact not held, delete of a deleted
 *   message): not appended, `seq` is the target's, remembered for dedup like an append;
 * - `refused`: an annotation the rules refuse (not appended, not remembered).
 */
export type AppendOutcome =
  | { status: 'appended'; message: LogMessage }
  | { status: 'duplicate'; id: string; seq: number; noop?: true }
  | { status: 'conflict'; id: string; seq: number }
  | { status: 'noop'; id: string; seq: number }
  | { status: 'refused'; id: string; kind: RefusalKind; message: string };

export interface AppendBatchResult {
  epoch: string;
  outcomes: AppendOutcome[];
  /** Id of the head message before this batch, when the log still holds it (a link for live members). */
  previousId?: string;
  /** Read positions this batch moved (a plain message moves its sender's to its seq). */
  reads?: ReadPosition[];
}

/** A page as the store reads it: the wire page plus the id of message `since`, when retained. */
export type StoredPage = RoomPage & { sinceId?: string };

/**
 * How long a room log keeps messages; unset or 0 fields mean no limit of that kind. Every kind trims
 * the same way: oldest first, and `firstSeq` then names the oldest message kept (a reader behind it
 * learns that the log no longer holds what it missed).
 */
export interface LogRetention {
  /** Keep at most this many messages per room. */
  maxMessages?: number;
  /** Drop messages older than this many milliseconds. */
  maxAgeMs?: number;
  /**
   * Keep at most this many bytes of messages per room, counted as {@link messageBytes}. The newest
   * message always stays, so a log holds more only while that one message alone is larger.
   */
  maxBytes?: number;
}

/** What a message weighs against `LogRetention.maxBytes`: the UTF-8 bytes of its id, type, body and sender. */
export function messageBytes(message: { id: string; type: string; body: string; sender: string }): number {
  return utf8ByteLength(message.id) + utf8ByteLength(message.type) + utf8ByteLength(message.body) + utf8ByteLength(message.sender);
}

export interface AppendOptions {
  /**
   * Whether an append may create the room. With false, an append to a room that does not exist (never
   * written to, or expired while idle) appends nothing and answers epoch '' with no outcomes, in the same
   * atomic step: the caller decides whether this sender may create it, then appends again. @default true
   */
  create?: boolean;
  /** The sender may edit and delete others' messages (the `moderate` grant). @default false */
  moderate?: boolean;
}

/** `userRooms` keeps this many of a user's newest rooms… */
export const USER_ROOMS_MAX = 1000;
/** …each for this long after the user was last active there. */
export const USER_ROOMS_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** A member's read position in a room and how many messages (not annotations) follow it. */
export interface ReadState {
  /** The last seq the member read; 0 when none. */
  seq: number;
  unread: number;
}

export interface RoomLogStoreOptions {
  /** How long a message id is remembered for dedup. @default 7 days (the SDK's outbox retention) */
  dedupRetentionMs?: number;
  /** Room log retention. @default no limit */
  retention?: LogRetention;
  /** Most bytes of messages (as JSON) in one page; a page always holds at least one message. @default 1 MiB */
  maxPageBytes?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/**
 * The room log: per room an epoch, a gap-free sequence and the messages, plus dedup records.
 * `append` is atomic per call: dedup, sequence allocation and append of the whole batch happen as
 * one step, so concurrent relays can never hand out a sequence twice or append an id twice.
 * Implementations: in-memory (embedded default) and Redis; one contract suite tests both.
 */
export interface RoomLogStore {
  readonly kind: 'memory' | 'redis';
  /**
   * Appends a batch to one room, deduplicating by message id; the first append to a room creates it
   * (see `AppendOptions`). In the same step: annotations (pl:edit, pl:delete, pl:react, pl:unreact,
   * bodies validated by the caller) are ruled against their target and change its summary, or
   * answer `noop`/`refused`; `pl:read` moves the sender's read position (at most to the head) and
   * answers `noop` with the position, never appended; each appended message moves its sender's.
   */
  append(room: string, messages: readonly AppendInput[], options?: AppendOptions): Promise<AppendBatchResult>;
  /**
   * Up to `limit` entries with seq > `since`, with the room's epoch and bounds, and the id at `since`,
   * and the summaries of the page's annotated messages as of its `headSeq` (`mine` for `caller`).
   * Never creates a room: one never appended to (or expired while idle) answers epoch ''.
   */
  read(room: string, since: number, limit: number, caller?: string): Promise<StoredPage>;
  /**
   * The entries with seq < `before` (any `before` past the head: the newest of all) from the
   * `limit`-th newest message (annotations do not count) on, contiguous and in ascending order,
   * byte-bounded from the newest end, with `hasOlder` when the log holds entries before them, and
   * summaries as in `read`. Its cost does not depend on the log's length.
   */
  readBefore(room: string, before: number, limit: number, caller?: string): Promise<StoredPage>;
  /** The member's read position in the room (seq 0 when none) and the messages after it. */
  readState(room: string, sub: string): Promise<ReadState>;
  /** The furthest read positions of the room's members, furthest first, at most `limit`. */
  receipts(room: string, limit: number): Promise<ReadPosition[]>;
  /** Remembers that the user is active in the room (marked it read or posted), for `userRooms`. */
  noteUserRoom(sub: string, room: string): Promise<void>;
  /** The rooms the user was last active in, newest first (at most 1000, each for 30 days). */
  userRooms(sub: string): Promise<string[]>;
  /** Resolves when the store is reachable, rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Thrown by a store when its backend cannot be reached; the relay answers `unavailable`. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
