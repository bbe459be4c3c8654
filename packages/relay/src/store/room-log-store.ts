import { utf8ByteLength, type LogMessage, type RoomPage } from '@partyline/protocol';

/** A message on its way into a room log; the store assigns `seq` and `ts`. */
export interface AppendInput {
  id: string;
  type: string;
  body: string;
  sender: string;
}

/**
 * What became of one appended message:
 * - `appended`: new, here is its log entry (broadcast it);
 * - `duplicate`: the id was seen before with the same content; `seq` is the first result;
 * - `conflict`: the id was seen before with a different type or body; `seq` is the first message's.
 */
export type AppendOutcome =
  | { status: 'appended'; message: LogMessage }
  | { status: 'duplicate'; id: string; seq: number }
  | { status: 'conflict'; id: string; seq: number };

export interface AppendBatchResult {
  epoch: string;
  outcomes: AppendOutcome[];
  /** Id of the head message before this batch, when the log still holds it (a link for live members). */
  previousId?: string;
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
  /** Appends a batch to one room, deduplicating by message id; the first append to a room creates it (see `AppendOptions`). */
  append(room: string, messages: readonly AppendInput[], options?: AppendOptions): Promise<AppendBatchResult>;
  /**
   * Up to `limit` messages with seq > `since`, with the room's epoch and bounds, and the id at `since`.
   * Never creates a room: one never appended to (or expired while idle) answers epoch ''.
   */
  read(room: string, since: number, limit: number): Promise<StoredPage>;
  /**
   * Up to `limit` of the newest messages with seq < `before` (any `before` past the head: the newest
   * of all), in ascending order, with `hasOlder` when the log holds messages before them. Its cost
   * does not depend on the log's length.
   */
  readBefore(room: string, before: number, limit: number): Promise<StoredPage>;
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
