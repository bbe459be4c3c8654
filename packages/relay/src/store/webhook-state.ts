import type { Cluster, Redis } from 'ioredis';

/** How far a room's webhooks have been delivered: through `seq` of the log's `epoch`, and through the presence change `changes`. */
export interface WebhookCursor {
  epoch: string;
  seq: number;
  changes?: string;
}

/**
 * Where webhook delivery stands, shared by the relays: rooms that may have undelivered messages
 * (marked before each append, so a crash right after an append still leaves the mark), a per-room
 * cursor of what was delivered, and a per-room lease so one relay at a time delivers a room's events
 * (in order). The events themselves are the room logs: nothing is queued twice.
 */
export interface WebhookState {
  markDirty(room: string): Promise<void>;
  dirtyRooms(count: number): Promise<string[]>;
  /** Forgets the mark (the room is caught up); the caller re-marks if an append raced it. */
  clean(room: string): Promise<void>;
  /** Takes or renews the room's delivery lease for `holder`; false if another relay holds it. */
  lease(room: string, holder: string, ttlMs: number): Promise<boolean>;
  release(room: string, holder: string): Promise<void>;
  cursor(room: string): Promise<WebhookCursor | undefined>;
  advance(room: string, cursor: Partial<WebhookCursor>): Promise<void>;
}

export function createMemoryWebhookState(): WebhookState {
  const dirty = new Set<string>();
  const leases = new Map<string, { holder: string; until: number }>();
  const cursors = new Map<string, WebhookCursor>();
  return {
    async markDirty(room) {
      dirty.add(room);
    },
    async dirtyRooms(count) {
      return [...dirty].slice(0, count);
    },
    async clean(room) {
      dirty.delete(room);
    },
    async lease(room, holder, ttlMs) {
      const current = leases.get(room);
      if (current && current.holder !== holder && current.until > Date.now()) return false;
      leases.set(room, { holder, until: Date.now() + ttlMs });
      return true;
    },
    async release(room, holder) {
      if (leases.get(room)?.holder === holder) leases.delete(room);
    },
    async cursor(room) {
      return cursors.get(room);
    },
    async advance(room, cursor) {
      cursors.set(room, { epoch: '', seq: 0, ...cursors.get(room), ...cursor });
    },
  };
}

// Take the lease if free or ours (renewing it); release only our own.
const LEASE = `local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1`;

/** Keys: `pl:{webhooks}:dirty` (set of rooms), per room `pl:{R}:wh` (hash: epoch, seq) and `pl:{R}:wh:lease`. */
export function createRedisWebhookState(redis: Redis | Cluster, prefix: string): WebhookState {
  const dirty = `${prefix}{webhooks}:dirty`;
  const key = (room: string, suffix: string) => `${prefix}{${room}}:${suffix}`;
  return {
    async markDirty(room) {
      await redis.sadd(dirty, room);
    },
    async dirtyRooms(count) {
      return (await redis.srandmember(dirty, count)) as string[];
    },
    async clean(room) {
      await redis.srem(dirty, room);
    },
    async lease(room, holder, ttlMs) {
      return (await redis.eval(LEASE, 1, key(room, 'wh:lease'), holder, Math.ceil(ttlMs))) === 1;
    },
    async release(room, holder) {
      await redis.eval(RELEASE, 1, key(room, 'wh:lease'), holder);
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
  };
}

const CURSOR_TTL_MS = 30 * 24 * 3_600_000;
