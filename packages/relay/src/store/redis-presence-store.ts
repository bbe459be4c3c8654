import { randomBytes } from 'node:crypto';
import type { PresenceChange, PresenceMember, PresenceSnapshot } from '@partyline/protocol';
import { StoreUnavailableError } from './room-log-store.js';
import type { PresenceChanges, PresenceStore, PresenceStoreOptions, RecordedPresenceChange } from './presence-store.js';
import { connectTurnCoalesced, type RedisTarget } from './redis-connection.js';

/**
 * Keys of a room `R` (prefix `pl:`), one hash tag, so each script runs on one node of a cluster:
 * - `pl:{R}:pr:members` hash: sub → JSON `{"d": data|null, "s": since}`
 * - `pl:{R}:pr:counts`  hash: sub → live leases of that member
 * - `pl:{R}:pr:leases`  sorted set: lease key (`<conn>|<sub>`) scored by expiry (ms)
 * - `pl:{R}:pr:meta`    hash: `epoch`, `version` (last change)
 * and one index for sweeping, `pl:{presence}:rooms`: room scored by its earliest lease expiry.
 * Every script refreshes the room's keys' TTL, so a room whose relays all vanished goes by itself.
 */
const PRELUDE = `
local members, counts, leases, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local changes = {}
local function epoch_of(candidate)
  local epoch = redis.call('HGET', meta, 'epoch')
  if not epoch then
    epoch = candidate
    redis.call('HSET', meta, 'epoch', epoch, 'version', 0)
  end
  return epoch
end
local function change(kind, sub, json)
  local version = redis.call('HINCRBY', meta, 'version', 1)
  changes[#changes + 1] = { kind, sub, json, version }
  -- Recorded for webhooks (a fifth key), in the same step as the change: no crash can split them.
  if KEYS[5] then redis.call('XADD', KEYS[5], 'MAXLEN', '~', 10000, '*', 'k', kind, 's', sub, 'j', json, 'n', redis.call('HLEN', members)) end
end
local function drop(lease)
  if redis.call('ZREM', leases, lease) == 0 then return end
  local sub = string.sub(lease, string.find(lease, '|', 1, true) + 1)
  if redis.call('HINCRBY', counts, sub, -1) > 0 then return end
  redis.call('HDEL', counts, sub)
  local json = redis.call('HGET', members, sub)
  redis.call('HDEL', members, sub)
  if json then change('left', sub, json) end
end
local function earliest()
  return redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')[2] or ''
end
-- index: the expiry the sweep index must cover now ('' = none).
local function finish(epoch, ttl, index)
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ttl) end
  -- Recorded changes wait for webhook delivery longer than the room's own keys.
  if KEYS[5] and redis.call('EXISTS', KEYS[5]) == 1 then redis.call('PEXPIRE', KEYS[5], 604800000) end
  return { epoch or (redis.call('HGET', meta, 'epoch') or ''), index, changes }
end
`;

// ARGV: epoch candidate, lease key, sub, has data (1/0), data, now, expiry, ttl
const ENTER = `${PRELUDE}
local epoch = epoch_of(ARGV[1])
local lease, sub, has_data, data, now = ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5], tonumber(ARGV[6])
if redis.call('ZADD', leases, ARGV[7], lease) == 1 then redis.call('HINCRBY', counts, sub, 1) end
local json = redis.call('HGET', members, sub)
if not json then
  json = cjson.encode({ d = has_data and data or cjson.null, s = now })
  redis.call('HSET', members, sub, json)
  change('joined', sub, json)
elseif has_data then
  local member = cjson.decode(json)
  if member.d ~= data then
    member.d = data
    json = cjson.encode(member)
    redis.call('HSET', members, sub, json)
    change('updated', sub, json)
  end
end
-- The index already covers every lease but this one (see indexed()): it moves only for the earliest.
local first = redis.call('ZRANGE', leases, 0, 0)[1]
return finish(epoch, ARGV[8], first == lease and ARGV[7] or '')`;

// ARGV: lease key, ttl
const LEAVE = `${PRELUDE}
drop(ARGV[1])
return finish(nil, ARGV[2], '')`;

// ARGV: expiry, ttl, lease keys... → keys it did not have
const EXTEND = `${PRELUDE}
local missing = {}
for i = 3, #ARGV do
  if redis.call('ZADD', leases, 'XX', 'CH', ARGV[1], ARGV[i]) == 0 and not redis.call('ZSCORE', leases, ARGV[i]) then missing[#missing + 1] = ARGV[i] end
end
-- Renewals re-index unconditionally: the round mends an index entry lost to a race or a restart.
local answer = finish(nil, ARGV[2], earliest())
answer[4] = missing
return answer`;

// ARGV: now, ttl
const SWEEP = `${PRELUDE}
for _, lease in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', ARGV[1], 'LIMIT', 0, 1000)) do drop(lease) end
return finish(nil, ARGV[2], earliest())`;

type ScriptReply = [epoch: string, indexAt: string, changes: [kind: PresenceChange['kind'], sub: string, json: string, version: number][], missing?: string[]];
interface PresenceScripts {
  plPresenceEnter(...args: (string | number)[]): Promise<ScriptReply>;
  plPresenceLeave(...args: (string | number)[]): Promise<ScriptReply>;
  plPresenceExtend(...args: (string | number)[]): Promise<ScriptReply>;
  plPresenceSweep(...args: (string | number)[]): Promise<ScriptReply>;
}

/** A room's keys live this long past their last change or renewal. */
const ROOM_TTL_MS = 3_600_000;

const toMember = (sub: string, json: string): PresenceMember => {
  const { d, s } = JSON.parse(json) as { d: string | null; s: number };
  return { sub, since: s, ...(typeof d === 'string' ? { data: d } : {}) };
};

export function createRedisPresenceStore(target: RedisTarget & PresenceStoreOptions & { keyPrefix?: string; onError?: (error: Error) => void }): PresenceStore {
  const prefix = target.keyPrefix ?? 'pl:';
  // A turn's scripts share one write (see connectTurnCoalesced).
  const client = connectTurnCoalesced(target, { commandTimeout: 5000 });
  client.on('error', (error: Error) => target.onError?.(error));
  const index = `${prefix}{presence}:rooms`;
  const recordChanges = target.recordChanges ?? false;
  // The fifth key, the recorded changes, only when recording.
  const names = recordChanges ? ['members', 'counts', 'leases', 'meta', 'changes'] : ['members', 'counts', 'leases', 'meta'];
  const keysOf = (room: string): string[] => names.map((name) => `${prefix}{${room}}:pr:${name}`);
  // A fixed key count, so a script's first argument is a key: a Cluster client routes (and
  // auto-pipelines) a command by its first argument, and a leading count sent every script to
  // the node of slot("4") — mixed into batches for other nodes, which then failed whole.
  const numberOfKeys = names.length;
  client.defineCommand('plPresenceEnter', { lua: ENTER, numberOfKeys });
  client.defineCommand('plPresenceLeave', { lua: LEAVE, numberOfKeys });
  client.defineCommand('plPresenceExtend', { lua: EXTEND, numberOfKeys });
  client.defineCommand('plPresenceSweep', { lua: SWEEP, numberOfKeys });
  const scripts = client as unknown as PresenceScripts;
  const epochNonce = randomBytes(9).toString('base64url');
  let epochCounter = 0;

  // Commands fail fast while Redis is away (no offline queue); only the first connection is waited for.
  let connectedOnce = false;
  const firstReady = new Promise<void>((resolve) => client.once('ready', resolve)).then(() => {
    connectedOnce = true;
  });

  async function call<T>(operation: () => Promise<T>): Promise<T> {
    if (!connectedOnce) await Promise.race([firstReady, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    try {
      return await operation();
    } catch (error) {
      throw new StoreUnavailableError(`redis: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Keeps the sweep index at or before the room's earliest lease (only ever earlier: LT). Only a new
   * earliest lease can move it: a leave, or an enter behind other leases, needs no round trip.
   */
  async function indexed(room: string, reply: ScriptReply): Promise<PresenceChanges> {
    const [epoch, indexAt, changes] = reply;
    if (indexAt !== '') await client.zadd(index, 'LT', indexAt, room);
    return { epoch, changes: changes.map(([kind, sub, json, version]) => ({ version, kind, member: toMember(sub, json) })) };
  }

  return {
    enter: (room, lease, data, expiresAt) =>
      call(async () => {
        await target.beforeChange?.(room);
        const candidate = `${epochNonce}.${(epochCounter++).toString(36)}`;
        const reply = await scripts.plPresenceEnter(...keysOf(room), candidate, lease.key, lease.sub, data === undefined ? 0 : 1, data ?? '', Date.now(), expiresAt, ROOM_TTL_MS);
        return indexed(room, reply);
      }),
    leave: (room, lease) =>
      call(async () => {
        await target.beforeChange?.(room);
        return indexed(room, await scripts.plPresenceLeave(...keysOf(room), lease.key, ROOM_TTL_MS));
      }),
    extend: (room, keys, expiresAt) =>
      call(async () => {
        if (keys.length === 0) return [];
        const reply = await scripts.plPresenceExtend(...keysOf(room), expiresAt, ROOM_TTL_MS, ...keys);
        await indexed(room, reply);
        return reply[3] ?? [];
      }),
    sweep: (now, maxRooms) =>
      call(async () => {
        const swept = new Map<string, PresenceChanges>();
        for (const room of await client.zrangebyscore(index, '-inf', now, 'LIMIT', 0, maxRooms)) {
          await target.beforeChange?.(room);
          const reply = await scripts.plPresenceSweep(...keysOf(room), now, ROOM_TTL_MS);
          if (reply[1] === '') {
            // No lease left: unindex, then look again — an enter that raced the removal re-indexes it.
            await client.zrem(index, room);
            const [, first] = await client.zrange(keysOf(room)[2]!, 0, 0, 'WITHSCORES');
            if (first !== undefined) await client.zadd(index, 'LT', first, room);
          } else {
            await client.zadd(index, reply[1], room);
          }
          const result = await indexed(room, [reply[0], '', reply[2]]);
          if (result.changes.length > 0) swept.set(room, result);
        }
        return swept;
      }),
    recorded: (room, after, limit) =>
      call(async (): Promise<RecordedPresenceChange[]> => {
        if (!recordChanges) return [];
        const entries = (await client.xrange(`${prefix}{${room}}:pr:changes`, after ? `(${after}` : '-', '+', 'COUNT', limit)) as [string, string[]][];
        return entries.map(([cursor, fields]) => {
          const value: Record<string, string> = {};
          for (let i = 0; i < fields.length; i += 2) value[fields[i]!] = fields[i + 1]!;
          return { cursor, kind: value.k as RecordedPresenceChange['kind'], member: toMember(value.s ?? '', value.j ?? '{}'), members: Number(value.n) };
        });
      }),
    snapshot: (room) =>
      call(async (): Promise<PresenceSnapshot> => {
        const [members, , , meta] = keysOf(room) as [string, string, string, string];
        const [[, entries], [, state]] = (await client.multi().hgetall(members!).hmget(meta!, 'epoch', 'version').exec()) as [[null, Record<string, string>], [null, (string | null)[]]];
        return {
          epoch: state[0] ?? '',
          version: Number(state[1] ?? 0),
          members: Object.entries(entries).map(([sub, json]) => toMember(sub, json)),
        };
      }),
    async close() {
      client.disconnect();
    },
  };
}
