import type { Cluster, Redis } from 'ioredis';
import type { AttemptRecord } from '../webhook-retry.js';

/** How far a room's webhooks have been delivered: through `seq` of the log's `epoch`, and through the presence change `changes`. */
export interface WebhookCursor {
  epoch: string;
  seq: number;
  changes?: string;
}

/** An event given up on: everything needed to send exactly it again (same `webhook-id`), and how it failed. */
export interface DeadLetter extends AttemptRecord {
  type: string;
  room: string;
  data: unknown;
}

/** A dead letter taken for a replay, with the attempts of this replay so far. */
export interface ClaimedReplay {
  letter: DeadLetter;
  round?: AttemptRecord;
}

/** Dead letters kept; past this the oldest are dropped (the metric and the warn log still counted them). */
export const MAX_DEAD_LETTERS = 10_000;

/**
 * Events given up on, newest `MAX_DEAD_LETTERS` kept, listed oldest first. A replay takes letters
 * off the list into a replay queue (any relay sends them, each claimed for a while so a crashed
 * relay's claims come back); delivered, they are gone; failed again, they are listed again.
 */
export interface DeadLetterList {
  /** Lists (or lists again, at the end) a letter; idempotent by id. */
  add(letter: DeadLetter): Promise<void>;
  /** A page of listed letters after `cursor` (opaque; undefined = from the start), and the cursor of the next page. */
  list(cursor: string | undefined, limit: number): Promise<{ letters: DeadLetter[]; next: string | null }>;
  /** Moves these listed letters (or all) to the replay queue, due now; returns the ids moved. */
  requestReplay(ids: readonly string[] | 'all'): Promise<string[]>;
  /** Takes up to `count` due replays, each hidden from other claims until `until`. */
  claimReplays(count: number, now: number, until: number): Promise<ClaimedReplay[]>;
  /** A replay failed but may pass later: try again at `at`. */
  retryReplay(id: string, round: AttemptRecord, at: number): Promise<void>;
  /** A replay was delivered: the letter is gone (unless it was listed again meanwhile). */
  replayed(id: string): Promise<void>;
}

/**
 * Where webhook delivery stands, shared by the relays: a queue of rooms that may have undelivered
 * events, each due at a time (marked due before each append, so a crash right after an append still
 * leaves the mark; pushed to the future while a relay delivers it or while its head event waits for
 * a retry), a per-room cursor of what was delivered, the head event's failed attempts, a per-room
 * lease so one relay at a time delivers a room's events (in order), and the dead letters. The
 * events themselves are the room logs: nothing is queued twice.
 */
export interface WebhookState {
  /** The room is due now, unless it is queued already (then it keeps its time). */
  markDirty(room: string): Promise<void>;
  /** Up to `count` rooms due by `now`, the longest waiting first. */
  dueRooms(count: number, now: number): Promise<string[]>;
  /** Forgets the mark (the room is caught up); the caller re-marks if an append raced it. */
  clean(room: string): Promise<void>;
  /**
   * Takes or renews the room's delivery lease for `holder`; false if another relay holds it. Either
   * way the room leaves `dueRooms` for a while: for `ttlMs` when taken, a second when held elsewhere.
   */
  lease(room: string, holder: string, ttlMs: number): Promise<boolean>;
  release(room: string, holder: string): Promise<void>;
  /** The room is due again at `at` (its head event waits for a retry). */
  defer(room: string, at: number): Promise<void>;
  cursor(room: string): Promise<WebhookCursor | undefined>;
  advance(room: string, cursor: Partial<WebhookCursor>): Promise<void>;
  /** The failed attempts of the room's head event, if any. */
  failing(room: string): Promise<AttemptRecord | undefined>;
  setFailing(room: string, record: AttemptRecord | undefined): Promise<void>;
  readonly deadLetters: DeadLetterList;
}

/** How long a room held by another relay stays out of `dueRooms` before it is tried again. */
const BUSY_RETRY_MS = 1_000;

export function createMemoryWebhookState(): WebhookState {
  const due = new Map<string, number>();
  const leases = new Map<string, { holder: string; until: number }>();
  const cursors = new Map<string, WebhookCursor>();
  const failing = new Map<string, AttemptRecord>();
  return {
    async markDirty(room) {
      if (!due.has(room)) due.set(room, Date.now());
    },
    async dueRooms(count, now) {
      return [...due].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]).slice(0, count).map(([room]) => room);
    },
    async clean(room) {
      due.delete(room);
    },
    async lease(room, holder, ttlMs) {
      const current = leases.get(room);
      const taken = !(current && current.holder !== holder && current.until > Date.now());
      if (taken) leases.set(room, { holder, until: Date.now() + ttlMs });
      const at = due.get(room);
      if (at !== undefined) due.set(room, Math.max(at, Date.now() + (taken ? ttlMs : BUSY_RETRY_MS)));
      return taken;
    },
    async release(room, holder) {
      if (leases.get(room)?.holder === holder) leases.delete(room);
    },
    async defer(room, at) {
      due.set(room, at);
    },
    async cursor(room) {
      return cursors.get(room);
    },
    async advance(room, cursor) {
      cursors.set(room, { epoch: '', seq: 0, ...cursors.get(room), ...cursor });
    },
    async failing(room) {
      return failing.get(room);
    },
    async setFailing(room, record) {
      if (record) failing.set(room, record);
      else failing.delete(room);
    },
    deadLetters: createMemoryDeadLetters(),
  };
}

function createMemoryDeadLetters(): DeadLetterList {
  const letters = new Map<string, DeadLetter>();
  const listed = new Map<string, number>(); // id → position, in insertion (= position) order
  const replays = new Map<string, { due: number; round?: AttemptRecord }>();
  let position = 0;
  return {
    async add(letter) {
      letters.set(letter.id, letter);
      replays.delete(letter.id);
      listed.delete(letter.id);
      listed.set(letter.id, ++position);
      for (const id of listed.keys()) {
        if (listed.size <= MAX_DEAD_LETTERS) break;
        listed.delete(id);
        letters.delete(id);
      }
    },
    async list(cursor, limit) {
      const after = Number(cursor ?? 0);
      const page = [...listed].filter(([, at]) => at > after).slice(0, limit + 1);
      const more = page.length > limit;
      if (more) page.pop();
      return { letters: page.map(([id]) => letters.get(id)!), next: more ? String(page.at(-1)![1]) : null };
    },
    async requestReplay(ids) {
      const moved = (ids === 'all' ? [...listed.keys()] : ids).filter((id) => listed.delete(id));
      for (const id of moved) replays.set(id, { due: 0 });
      return moved;
    },
    async claimReplays(count, now, until) {
      const claimed = [...replays].filter(([, replay]) => replay.due <= now).slice(0, count);
      for (const [, replay] of claimed) replay.due = until;
      return claimed.map(([id, { round }]) => ({ letter: letters.get(id)!, ...(round ? { round } : {}) }));
    },
    async retryReplay(id, round, at) {
      if (replays.has(id)) replays.set(id, { due: at, round });
    },
    async replayed(id) {
      if (!replays.delete(id) || listed.has(id)) return;
      letters.delete(id);
    },
  };
}

// Take the lease if free or ours (renewing it); release only our own.
const LEASE = `local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1`;
// Rooms marked by relays of an earlier version (a plain set) join the queue, due now.
const DUE = `local marked = redis.call('SPOP', KEYS[2], 100)
for _, room in ipairs(marked) do redis.call('ZADD', KEYS[1], 'NX', 0, room) end
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])`;
// KEYS: letters, listed, position, rounds, replays. Lists the letter at the end; drops the oldest past ARGV[3].
const ADD_DEAD = `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do redis.call('HDEL', KEYS[1], id) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
end
return 1`;
// KEYS: listed, rounds, replays; ARGV = the ids, or '*' for all (never an id: ids are base64url).
const REQUEST_REPLAY = `local ids = ARGV
if ARGV[1] == '*' then ids = redis.call('ZRANGE', KEYS[1], 0, -1) end
local moved = {}
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZADD', KEYS[3], 0, id)
    table.insert(moved, id)
  end
end
return moved`;
// KEYS: replays, letters, rounds; ARGV: now, count, until. Returns id, letter, round ('' if none) triples.
const CLAIM_REPLAYS = `local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])) do
  local letter = redis.call('HGET', KEYS[2], id)
  if letter then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    table.insert(out, letter)
    table.insert(out, redis.call('HGET', KEYS[3], id) or '')
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out`;
// KEYS: replays, rounds, listed, letters. The letter stays if it was listed again meanwhile.
const REPLAYED = `redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then redis.call('HDEL', KEYS[4], ARGV[1]) end
return 1`;

/**
 * Keys: `pl:{webhooks}:due` (sorted set: room → due time in ms), per room `pl:{R}:wh` (hash: epoch,
 * seq, changes, failing) and `pl:{R}:wh:lease`; the dead letters under `pl:{webhooks}:dead…` (one
 * hash slot, so each step is one script on Redis Cluster too).
 */
export function createRedisWebhookState(redis: Redis | Cluster, prefix: string): WebhookState {
  const due = `${prefix}{webhooks}:due`;
  const legacyDirty = `${prefix}{webhooks}:dirty`;
  const key = (room: string, suffix: string) => `${prefix}{${room}}:${suffix}`;
  return {
    async markDirty(room) {
      await redis.zadd(due, 'NX', Date.now(), room);
    },
    async dueRooms(count, now) {
      return (await redis.eval(DUE, 2, due, legacyDirty, now, count)) as string[];
    },
    async clean(room) {
      await redis.zrem(due, room);
    },
    async lease(room, holder, ttlMs) {
      const taken = (await redis.eval(LEASE, 1, key(room, 'wh:lease'), holder, Math.ceil(ttlMs))) === 1;
      await redis.zadd(due, 'XX', 'GT', Date.now() + (taken ? ttlMs : BUSY_RETRY_MS), room);
      return taken;
    },
    async release(room, holder) {
      await redis.eval(RELEASE, 1, key(room, 'wh:lease'), holder);
    },
    async defer(room, at) {
      await redis.zadd(due, at, room);
    },
    async cursor(room) {
      const [epoch, seq, changes] = await redis.hmget(key(room, 'wh'), 'epoch', 'seq', 'changes');
      if (epoch === null && changes === null) return undefined;
      return { epoch: epoch ?? '', seq: Number(seq ?? 0), ...(changes ? { changes } : {}) };
    },
    async advance(room, cursor) {
      // Lives as long as an idle room's log may (the default retention); a lost cursor starts the epoch over.
      const fields = Object.entries(cursor).flatMap(([field, value]) => [field, String(value)]);
      await redis.multi().hset(key(room, 'wh'), ...fields).pexpire(key(room, 'wh'), CURSOR_TTL_MS).exec();
    },
    async failing(room) {
      const record = await redis.hget(key(room, 'wh'), 'failing');
      return record ? (JSON.parse(record) as AttemptRecord) : undefined;
    },
    async setFailing(room, record) {
      if (!record) return void (await redis.hdel(key(room, 'wh'), 'failing'));
      await redis.multi().hset(key(room, 'wh'), 'failing', JSON.stringify(record)).pexpire(key(room, 'wh'), CURSOR_TTL_MS).exec();
    },
    deadLetters: createRedisDeadLetters(redis, `${prefix}{webhooks}:dead`),
  };
}

function createRedisDeadLetters(redis: Redis | Cluster, base: string): DeadLetterList {
  const letters = base; // hash: id → letter (JSON)
  const listed = `${base}:listed`; // sorted set: id → position
  const position = `${base}:position`;
  const rounds = `${base}:rounds`; // hash: id → attempts of its replay (JSON)
  const replays = `${base}:replays`; // sorted set: id → due time in ms
  return {
    async add(letter) {
      await redis.eval(ADD_DEAD, 5, letters, listed, position, rounds, replays, letter.id, JSON.stringify(letter), MAX_DEAD_LETTERS);
    },
    async list(cursor, limit) {
      const page = await redis.zrangebyscore(listed, `(${Number(cursor ?? 0)}`, '+inf', 'WITHSCORES', 'LIMIT', 0, limit + 1);
      const entries: [string, string][] = [];
      for (let i = 0; i < page.length; i += 2) entries.push([page[i]!, page[i + 1]!]);
      const more = entries.length > limit;
      if (more) entries.pop();
      const found = entries.length ? await redis.hmget(letters, ...entries.map(([id]) => id)) : [];
      return {
        letters: found.filter((letter): letter is string => letter !== null).map((letter) => JSON.parse(letter) as DeadLetter),
        next: more ? entries.at(-1)![1] : null,
      };
    },
    async requestReplay(ids) {
      if (ids !== 'all' && ids.length === 0) return [];
      return (await redis.eval(REQUEST_REPLAY, 3, listed, rounds, replays, ...(ids === 'all' ? ['*'] : ids))) as string[];
    },
    async claimReplays(count, now, until) {
      const out = (await redis.eval(CLAIM_REPLAYS, 3, replays, letters, rounds, now, count, until)) as string[];
      const claimed: ClaimedReplay[] = [];
      for (let i = 0; i < out.length; i += 2) {
        const round = out[i + 1];
        claimed.push({ letter: JSON.parse(out[i]!) as DeadLetter, ...(round ? { round: JSON.parse(round) as AttemptRecord } : {}) });
      }
      return claimed;
    },
    async retryReplay(id, round, at) {
      await redis.multi().hset(rounds, id, JSON.stringify(round)).zadd(replays, 'XX', at, id).exec();
    },
    async replayed(id) {
      await redis.eval(REPLAYED, 4, replays, rounds, listed, letters, id);
    },
  };
}

const CURSOR_TTL_MS = 30 * 24 * 3_600_000;
