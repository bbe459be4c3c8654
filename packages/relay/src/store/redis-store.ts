import { createHash, randomBytes } from 'node:crypto';
import { DEFAULT_DEDUP_RETENTION_MS, DEFAULT_LIMITS, type LogMessage, type MessageSummary, type ReadPosition } from '@partyline/protocol';
import { Cluster, ReplyError } from 'ioredis';
import { connectTurnCoalesced, type RedisTarget } from './redis-connection.js';
import { APPEND_SCRIPT, READ_BEFORE_SCRIPT, READ_SCRIPT, READ_STATE_SCRIPT } from './redis-scripts.js';
import {
  StoreUnavailableError,
  USER_ROOMS_MAX,
  USER_ROOMS_RETENTION_MS,
  refusal,
  type RefusalKind,
  type AppendBatchResult,
  type AppendInput,
  type AppendOutcome,
  type RoomLogStore,
  type RoomLogStoreOptions,
  type StoredPage,
} from './room-log-store.js';

export type RedisStoreOptions = RoomLogStoreOptions &
  RedisTarget & {
  /** Prefix of every key. @default 'pl:' */
  keyPrefix?: string;
  /** A command not answered within this time fails with `unavailable` (e.g. Redis paused). @default 5000 */
  commandTimeoutMs?: number;
  /** Called with connection errors (the store keeps reconnecting on its own). */
  onError?: (error: Error) => void;
  /**
   * Ack a publish only once this many replicas confirm it (Redis `WAIT`), so an acked message
   * survives a master failover. @default 0 (AOF on the master is the durability)
   */
  ackReplicas?: number;
  /** How long to wait for replicas before answering `unavailable` (the client retries). @default 1000 */
  ackReplicasTimeoutMs?: number;
  /**
   * Publish every append's new messages on this channel from inside the append step (see
   * {@link APPEND_SCRIPT} and room-feed.ts), tagged with `origin`. Standalone Redis only: a Redis
   * Cluster would carry every room's PUBLISH to every node.
   */
  feed?: { channel: string; origin: string };
};

/** Dedup records live in this many time buckets per retention period. */
const DEDUP_BUCKETS_PER_RETENTION = 7;
/**
 * Dedup keys every append passes: the write bucket, the one after it (clock skew), and at most one
 * per retention bucket before it. Always this many (the last repeated): a script's key count is
 * fixed, so its first argument is a key, which is how a Cluster client routes and auto-pipelines it.
 */
const DEDUP_KEYS = DEDUP_BUCKETS_PER_RETENTION + 2;
const APPEND_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');

/** Redis replies that mean "not now" rather than "never": the relay answers them with `unavailable`. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|NOREPLICAS|MISCONF|MOVED|ASK)/;
/** Cluster redirections that ioredis does not follow inside a pipeline: refresh the slot map, then let the client retry. */
const REDIRECTION = /^(MOVED|ASK) /;

interface ScriptCommands {
  plAppend(...args: (string | number)[]): Promise<unknown[]>;
  plRead(...args: (string | number)[]): Promise<[string, number, number, RawEntry[], string, string, RawSummaries]>;
  plReadBefore(...args: (string | number)[]): Promise<[string, number, number, RawEntry[], string, RawSummaries]>;
  plReadState(...args: (string | number)[]): Promise<[number, number]>;
}
type RawEntry = [string, string[]];
/** Flat (seq, summary JSON, keys the caller holds) triples; see page_summaries in redis-scripts.ts. */
type RawSummaries = (string | string[])[];
/** A summary as the scripts keep it (see redis-scripts.ts). */
interface StoredSummary {
  b?: string;
  e?: number;
  d?: 1;
  r?: Record<string, number>;
}


/**
 * Room log on Redis: a stream per room, a sequence in the room's meta hash and dedup hashes,
 * all changed by one Lua script per batch. With AOF (`appendfsync everysec` or `always`), acked
 * messages survive a Redis restart; without it a restart loses the log and starts a new epoch.
 */
export function createRedisStore(options: RedisStoreOptions): RoomLogStore {
  const prefix = options.keyPrefix ?? 'pl:';
  const dedupRetentionMs = options.dedupRetentionMs ?? DEFAULT_DEDUP_RETENTION_MS;
  const bucketMs = Math.max(1000, Math.ceil(dedupRetentionMs / DEDUP_BUCKETS_PER_RETENTION));
  const { maxMessages = 0, maxAgeMs = 0, maxBytes = 0 } = options.retention ?? {};
  // Idle rooms go once their messages would all have aged out, never before their dedup records.
  const idleExpiryMs = maxAgeMs > 0 ? Math.max(maxAgeMs, dedupRetentionMs + bucketMs) : 0;
  const now = options.now ?? Date.now;
  const { channel: feedChannel = '', origin: feedOrigin = '' } = options.feed ?? {};

  const client = connectTurnCoalesced(options, { commandTimeout: options.commandTimeoutMs ?? 5000 });
  const ackReplicas = options.ackReplicas ?? 0;
  const ackReplicasTimeoutMs = options.ackReplicasTimeoutMs ?? 1000;
  client.on('error', (error: Error) => options.onError?.(error));
  // Fixed key counts (see DEDUP_KEYS): a leading count argument would route every script by slot("2").
  client.defineCommand('plAppend', { lua: APPEND_SCRIPT, numberOfKeys: 6 + DEDUP_KEYS });
  client.defineCommand('plRead', { lua: READ_SCRIPT, numberOfKeys: 4 });
  client.defineCommand('plReadBefore', { lua: READ_BEFORE_SCRIPT, numberOfKeys: 4 });
  client.defineCommand('plReadState', { lua: READ_STATE_SCRIPT, numberOfKeys: 3 });
  const maxPageBytes = options.maxPageBytes ?? DEFAULT_LIMITS.maxPageBytes;
  const scripts = client as unknown as ScriptCommands;
  const commandTimeoutMs = options.commandTimeoutMs ?? 5000;
  // Only the very first connection is waited for; after that a lost connection fails fast.
  let connectedOnce = false;
  const firstReady = new Promise<void>((resolve) => client.once('ready', resolve)).then(() => {
    connectedOnce = true;
  });

  const key = (room: string, suffix: string) => `${prefix}{${room}}:${suffix}`;
  /** Cross-slot on purpose: one key per user, whatever rooms they are in. */
  const userRoomsKey = (sub: string) => `${prefix}{u:${sub}}:rooms`;
  // A room's epoch is created by whichever call first finds none; a random per-store nonce plus a
  // counter names it uniquely without a random UUID on every call.
  const epochNonce = randomBytes(9).toString('base64url');
  let epochCounter = 0;
  const epochCandidate = () => `${epochNonce}.${(epochCounter++).toString(36)}`;

  /** The write bucket first, then every bucket a record younger than the retention can be in (one ahead, for clock skew between relays). */
  function dedupKeys(room: string, at: number): { keys: string[]; writeExpiresAt: number } {
    const current = Math.floor(at / bucketMs);
    const oldest = Math.floor((at - dedupRetentionMs) / bucketMs);
    const keys = [key(room, `dd:${current}`), key(room, `dd:${current + 1}`)];
    for (let bucket = current - 1; bucket >= oldest; bucket--) keys.push(key(room, `dd:${bucket}`));
    while (keys.length < DEDUP_KEYS) keys.push(keys.at(-1)!);
    return { keys, writeExpiresAt: (current + 1) * bucketMs + dedupRetentionMs };
  }

  async function call<T>(operation: () => Promise<T>): Promise<T> {
    if (!connectedOnce) await Promise.race([firstReady, new Promise((resolve) => setTimeout(resolve, commandTimeoutMs).unref())]);
    try {
      return await operation();
    } catch (error) {
      const message = (error as Error).message;
      if (error instanceof ReplyError && !TRANSIENT_REPLY.test(message)) throw error;
      if (REDIRECTION.test(message) && client instanceof Cluster) client.refreshSlotsCache();
      throw new StoreUnavailableError(`redis: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * The script and WAIT in one pipeline, so WAIT runs on the master that ran the script (also on
   * Cluster), right after it. Raw EVALSHA: ioredis answers a NOSCRIPT (a master just promoted or
   * restarted has no scripts) by sending the script again as EVAL after the rest of the pipeline — the
   * WAIT would then have counted replicas before the append ran, and acked it unconfirmed.
   */
  async function appendAndWait(args: (string | number)[]): Promise<unknown[]> {
    const numberOfKeys = 6 + DEDUP_KEYS;
    const run = async (command: 'EVALSHA' | 'EVAL', script: string) => {
      const pipeline = client.pipeline() as unknown as { call(...a: (string | number)[]): unknown; wait(n: number, ms: number): unknown; exec(): Promise<[Error | null, unknown][]> };
      pipeline.call(command, script, numberOfKeys, ...args);
      pipeline.wait(ackReplicas, ackReplicasTimeoutMs);
      return (await pipeline.exec()) as [[Error | null, unknown[]], [Error | null, number]];
    };
    let results = await run('EVALSHA', APPEND_SHA);
    if (results[0][0]?.message.startsWith('NOSCRIPT')) results = await run('EVAL', APPEND_SCRIPT);
    const [[appendError, reply], [waitError, replicas]] = results;
    if (appendError) throw appendError;
    if (waitError) throw waitError;
    if (replicas < ackReplicas) {
      throw new StoreUnavailableError(`only ${replicas} of ${ackReplicas} replicas confirmed the write in ${ackReplicasTimeoutMs} ms`);
    }
    return reply;
  }

  return {
    kind: 'redis',

    async append(room: string, messages: readonly AppendInput[], { create = true, moderate = false } = {}): Promise<AppendBatchResult> {
      const at = now();
      const { keys, writeExpiresAt } = dedupKeys(room, at);
      const sender = messages[0]?.sender ?? '';
      const args: (string | number)[] = [key(room, 'meta'), key(room, 'log'), key(room, 'sum'), key(room, 'rx'), key(room, 'an'), key(room, 'reads'), ...keys];
      args.push(at, epochCandidate(), writeExpiresAt, maxMessages, maxAgeMs > 0 ? at - maxAgeMs : 0, sender, messages.length, idleExpiryMs);
      args.push(feedChannel, feedOrigin, room, maxBytes, create ? '1' : '0', moderate ? '1' : '0');
      for (const message of messages) {
        if (message.sender !== sender) throw new Error('one append batch has one sender');
        args.push(message.id, message.type, message.body);
      }
      const reply = await call(() => (ackReplicas > 0 ? appendAndWait(args) : scripts.plAppend(...args)));
      // No such room, and this append was not to create it.
      if (reply[0] === '') return { epoch: '', outcomes: [] };
      const outcomes: AppendOutcome[] = messages.map((message, i) => {
        const status = reply[3 + i * 2] as number;
        const value = reply[4 + i * 2] as number | string;
        switch (status) {
          case 0:
            return { status: 'appended', message: { seq: value as number, id: message.id, type: message.type, body: message.body, sender, ts: at } };
          case 1:
            return { status: 'duplicate', id: message.id, seq: value as number };
          case 2:
            return { status: 'conflict', id: message.id, seq: value as number };
          case 3:
            return { status: 'noop', id: message.id, seq: value as number };
          case 4:
            return { status: 'duplicate', id: message.id, seq: value as number, noop: true };
          default:
            return refusal(message.id, value as RefusalKind, targetIdOf(message.body));
        }
      });
      const previousId = reply[1] as string;
      const readSeq = reply[2] as number;
      const reads: ReadPosition[] = readSeq > 0 ? [{ sub: sender, seq: readSeq }] : [];
      return { epoch: reply[0] as string, outcomes, ...(previousId ? { previousId } : {}), ...(reads.length > 0 ? { reads } : {}) };
    },

    async read(room: string, since: number, limit: number, caller?: string): Promise<StoredPage> {
      const [epoch, firstSeq, headSeq, entries, sinceId, headId, summaries] = await call(() =>
        scripts.plRead(key(room, 'meta'), key(room, 'log'), key(room, 'sum'), key(room, 'rx'), since, limit, maxPageBytes, caller ?? ''),
      );
      const messages = entries.map(toLogMessage);
      const lastSeq = messages.at(-1)?.seq ?? since;
      return {
        room,
        epoch,
        firstSeq,
        headSeq,
        messages,
        hasMore: lastSeq < headSeq,
        ...(sinceId ? { sinceId } : {}),
        ...(headId ? { headId } : {}),
        ...toSummaries(summaries),
      };
    },

    async readBefore(room: string, before: number, limit: number, caller?: string): Promise<StoredPage> {
      const [epoch, firstSeq, headSeq, entries, headId, summaries] = await call(() =>
        scripts.plReadBefore(key(room, 'meta'), key(room, 'log'), key(room, 'sum'), key(room, 'rx'), Math.min(before, Number.MAX_SAFE_INTEGER), limit, maxPageBytes, caller ?? ''),
      );
      const messages = entries.map(toLogMessage).reverse();
      const oldest = messages[0]?.seq ?? Math.min(before, headSeq + 1);
      return {
        room,
        epoch,
        firstSeq,
        headSeq,
        messages,
        hasMore: (messages.at(-1)?.seq ?? headSeq) < headSeq,
        hasOlder: oldest > firstSeq,
        ...(headId ? { headId } : {}),
        ...toSummaries(summaries),
      };
    },

    async readState(room: string, sub: string) {
      const [seq, unread] = await call(() => scripts.plReadState(key(room, 'meta'), key(room, 'an'), key(room, 'reads'), sub));
      return { seq, unread };
    },

    async receipts(room: string, limit: number) {
      if (limit <= 0) return [];
      const flat = await call(() => client.zrevrange(key(room, 'reads'), 0, limit - 1, 'WITHSCORES'));
      const positions: ReadPosition[] = [];
      for (let i = 0; i < flat.length; i += 2) positions.push({ sub: flat[i]!, seq: Number(flat[i + 1]) });
      return positions;
    },

    async noteUserRoom(sub: string, room: string) {
      const at = now();
      const userKey = userRoomsKey(sub);
      await call(() =>
        client
          .multi()
          .zadd(userKey, at, room)
          .zremrangebyscore(userKey, '-inf', `(${at - USER_ROOMS_RETENTION_MS}`)
          .zremrangebyrank(userKey, 0, -USER_ROOMS_MAX - 1)
          .pexpire(userKey, USER_ROOMS_RETENTION_MS)
          .exec(),
      );
    },

    async userRooms(sub: string) {
      return call(() => client.zrevrangebyscore(userRoomsKey(sub), '+inf', now() - USER_ROOMS_RETENTION_MS, 'LIMIT', 0, USER_ROOMS_MAX));
    },

    async ping() {
      await call(() => client.ping());
    },

    async close() {
      client.disconnect();
    },
  };
}

function toLogMessage([entryId, fields]: RawEntry): LogMessage {
  const value: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) value[fields[i]!] = fields[i + 1]!;
  return {
    seq: Number.parseInt(entryId, 10),
    id: value.i ?? '',
    type: value.t ?? '',
    body: value.b ?? '',
    sender: value.s ?? '',
    ts: Number(value.ts),
  };
}

/** The id an annotation names (its body was validated before the append). */
function targetIdOf(body: string): string {
  return (JSON.parse(body) as { id: string }).id;
}

/** The scripts' summaries as the wire has them, `mine` on the caller's reactions. */
function toSummaries(raw: RawSummaries): Pick<StoredPage, 'summaries'> {
  if (raw.length === 0) return {};
  const summaries: Record<string, MessageSummary> = {};
  for (let i = 0; i < raw.length; i += 3) {
    const stored = JSON.parse(raw[i + 1] as string) as StoredSummary;
    const mine = new Set(raw[i + 2] as string[]);
    const summary: MessageSummary = {};
    if (stored.b !== undefined) summary.body = stored.b;
    if (stored.e !== undefined) summary.editedAt = stored.e;
    if (stored.d) summary.deleted = true;
    // fromEntries: a key such as `__proto__` stays an own property.
    if (stored.r) summary.reactions = Object.fromEntries(Object.entries(stored.r).map(([reaction, count]) => [reaction, { count, ...(mine.has(reaction) ? { mine: true as const } : {}) }]));
    summaries[raw[i] as string] = summary;
  }
  return { summaries };
}
