/**
 * Lua scripts that make each room-log operation one atomic Redis step. Every key a script touches
 * is passed in KEYS and shares the room's hash tag, so they also run on Redis Cluster.
 *
 * Keys of a room `R` (prefix `pl:`):
 * - `pl:{R}:meta`      hash: `epoch` (random id of this log's lifetime), `seq` (last sequence),
 *                      `head` (id of message `seq`), `bytes` (what the retained messages weigh:
 *                      bytes of id, type, body and sender; for a log older than this field, only
 *                      those from seq `bytes_from` on), `ann` ('1' once the room holds an
 *                      annotation: only then do appends and reads touch the summary keys, so
 *                      plain rooms pay nothing for them), `repeat_at` (time of the last resend
 *                      answered without another write)
 * - `pl:{R}:log`       stream: entry id `<seq>-0`, fields i (id), t (type), b (body), s (sender), ts
 * - `pl:{R}:dd:<n>`    hash: `<message id>|<sender>` → seq, for dedup; one per time bucket n, expiring
 *                      after the dedup retention, so a record costs one hash field instead of one key.
 *                      Keyed by sender too: one member can never claim (or answer for) another's id.
 *                      A noop annotation (not appended) records `n<target seq>:<sha1 of type\nbody>`.
 * - `pl:{R}:sum`       hash: `<seq>` → JSON summary of an annotated message `{ b?: body, e?: edited
 *                      at (ms), d?: 1 (deleted), r?: { key: count } }`, as of the head
 * - `pl:{R}:rx`        sorted set: who holds which reaction, member `<seq>|<key>|<sub>`, score the seq
 * - `pl:{R}:an`        sorted set: the seqs of the annotations (score = member), for unread counts
 * - `pl:{R}:reads`     sorted set: read positions, member sub, score the last seq read
 * Summaries, reactors and the annotation index are trimmed with the log entries they are about,
 * and expire with the room.
 *
 * Outside any room: `pl:{u:<sub>}:rooms`, sorted set of the rooms a user was last active in
 * (member room, score ms), for unread counts across rooms.
 */

import { MAX_REACTION_KEYS } from '@partyline/protocol';

/** Shared helper: read a field of a flat stream entry. */
const PRELUDE = `
local function field(entry, name)
  for i = 1, #entry, 2 do
    if entry[i] == name then return entry[i + 1] end
  end
  return nil
end
`;

/**
 * KEYS: meta, log, sum, rx, an, reads, write bucket, then every dedup bucket to look in (a fixed
 *       count: the last may repeat).
 * ARGV: now, epoch candidate, write-bucket expiry (ms), max messages (0 = none),
 *       oldest ts to keep (0 = none), sender, n, idle expiry ms (0 = never),
 *       feed channel ('' = none), origin, room, max bytes (0 = none), create ('1', or '0': a room
 *       that does not exist is left so, and the answer is { '', '' }), moderate ('1': the sender
 *       may edit and delete others' messages), then n × (id, type, body).
 * A room's keys expire together once no message was appended for the idle expiry: an idle
 * room leaves nothing behind, and comes back (if ever) as a new epoch.
 * Annotations (pl:edit, pl:delete, pl:react, pl:unreact; bodies already validated by the caller)
 * are ruled here, against the summaries, in the same step as their append: see the contract in
 * room-log-store.ts. `pl:read` moves the sender's read position (capped at the head) and is never
 * appended; every appended message (not annotation) moves its sender's position to its seq.
 * Retention trims oldest first, in this step: past the count, past the bytes (never the newest
 * message), older than the age. Count and bytes are back within bounds when the step ends (each
 * append pays for what it pushes out); age is amortised (at most 100 entries a step). The weight of
 * what is trimmed leaves the `bytes` total in the same step, so it never drifts from the log.
 * With a feed channel, the new entries are PUBLISHed there as three lines: origin, room (room
 * names have no newline) and JSON `{ e: epoch, p: previous id, m: [[seq, id, type, body, sender, ts], ...] }`:
 * other relays get them straight from this step, in seq order — not after another round trip
 * through this relay. (Redis sends a subscriber what a script published with the script's other
 * output, normally after the AOF write of that loop iteration; a subscriber connection that is
 * behind on its output may get it in the same iteration, before the fsync: see the README's
 * failure model.)
 * Returns: { epoch, previous id, read seq, status1, value1, status2, value2, ... } with status
 * 0 new (value: seq), 1 duplicate (seq), 2 conflict (seq), 3 noop (seq of the target, or of the
 * read position for pl:read), 4 duplicate of a noop (target seq), 5 refused (value: the error
 * kind); previous id is the id of the head message before the batch ('' when none is retained);
 * read seq is the sender's read position when this batch moved it, else 0.
 */
export const APPEND_SCRIPT = `${PRELUDE}
local meta, log, sum, rx, an, reads, write_bucket = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local now, sender, n, moderate = ARGV[1], ARGV[6], tonumber(ARGV[7]), ARGV[14] == '1'
if n == 0 then return { redis.call('HGET', meta, 'epoch') or '', '' } end
-- One read of the meta hash: epoch, last seq, the id of the last message (kept there, so no stream read), bytes.
local state = redis.call('HMGET', meta, 'epoch', 'seq', 'head', 'bytes', 'bytes_from', 'ann')
local epoch, seq, previous, bytes, bytes_from = state[1], tonumber(state[2]), state[3], tonumber(state[4]), tonumber(state[5]) or 0
local annotated = state[6] == '1'
if not epoch then
  if ARGV[13] == '0' then return { '', '' } end
  epoch, seq, previous, bytes = ARGV[2], 0, '', 0
  redis.call('HSET', meta, 'epoch', epoch, 'seq', 0, 'bytes', 0)
  -- Left over from a log that is gone (data lost): they describe another epoch.
  redis.call('DEL', sum, rx, an, reads)
else
  if not previous then
    -- A log written before the head id was kept in meta: read it from the stream once.
    previous = ''
    local head = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
    if head and tonumber(string.match(head[1], '^(%d+)')) == seq then previous = field(head[2], 'i') or '' end
  end
  if not bytes then
    -- A log written before its bytes were counted: count from the next message on (weighing the
    -- whole log here could block Redis); its older messages go by count and age, and first by bytes.
    bytes, bytes_from = 0, seq + 1
    redis.call('HSET', meta, 'bytes', 0, 'bytes_from', string.format('%d', bytes_from))
  end
end

-- The dedup record of id|sender in any bucket, or false.
local function recorded(id_sender)
  for k = 7, #KEYS do
    if k == 7 or KEYS[k] ~= KEYS[k - 1] then
      local value = redis.call('HGET', KEYS[k], id_sender)
      if value then return value end
    end
  end
  return false
end

-- The seq of the message an annotation names, when the log holds it (by seq when given, else by
-- the dedup record of id|from), and that message's sender.
local function target_of(a)
  local from = a['from'] or sender
  local target = a['seq']
  if target == nil then
    local value = recorded(a['id'] .. '|' .. from)
    if not value or string.sub(value, 1, 1) == 'n' then return nil end
    target = tonumber(value)
  end
  local at = string.format('%d', target) .. '-0'
  local entry = redis.call('XRANGE', log, at, at)[1]
  if not entry then return nil end
  local f = entry[2]
  if string.sub(field(f, 't') or '', 1, 3) == 'pl:' or field(f, 'i') ~= a['id'] or field(f, 's') ~= from then return nil end
  return target, from
end

-- Rules one annotation and changes the summary: 0 (append it) or 3 (noop) with the target's seq,
-- or 5 with the refusal's kind.
local function annotate(typ, body)
  -- Checked by the caller; still never an error here: a failed step would leave this batch's
  -- earlier entries in the stream without the meta hash knowing them.
  local decoded, a = pcall(cjson.decode, body)
  if not decoded or type(a) ~= 'table' then return 5, 'bad_request' end
  local target, from = target_of(a)
  if not target then return 5, 'not_found' end
  local field_name = string.format('%d', target)
  local summary = {}
  if annotated then
    local raw = redis.call('HGET', sum, field_name)
    if raw then summary = cjson.decode(raw) end
  end
  if summary['d'] then
    if typ == 'pl:delete' then return 3, target end
    return 5, 'message_deleted'
  end
  if typ == 'pl:edit' or typ == 'pl:delete' then
    if from ~= sender and not moderate then return 5, 'forbidden' end
    if typ == 'pl:edit' then
      summary['b'], summary['e'] = a['body'], tonumber(now)
    else
      summary['b'], summary['r'], summary['d'] = nil, nil, 1
      redis.call('ZREMRANGEBYSCORE', rx, target, target)
    end
  else
    local key = a['key']
    local member = field_name .. '|' .. key .. '|' .. sender
    local holds = redis.call('ZSCORE', rx, member)
    local counts = summary['r'] or {}
    if typ == 'pl:react' then
      if holds then return 3, target end
      if not counts[key] then
        local keys = 0
        for _ in pairs(counts) do keys = keys + 1 end
        if keys >= ${MAX_REACTION_KEYS} then return 5, 'bad_request' end
      end
      redis.call('ZADD', rx, target, member)
      counts[key] = (counts[key] or 0) + 1
    else
      if not holds then return 3, target end
      redis.call('ZREM', rx, member)
      counts[key] = counts[key] - 1
      if counts[key] <= 0 then counts[key] = nil end
    end
    if next(counts) then summary['r'] = counts else summary['r'] = nil end
  end
  redis.call('HSET', sum, field_name, cjson.encode(summary))
  return 0, target
end

local out = { epoch, previous, 0 }
local added, noops, repeats = 0, 0, 0
local head_id = previous
local fresh = {}
-- The sender's read position: loaded on first need, written once at the end when it moved.
local read_at, read_moved = nil, false
for i = 0, n - 1 do
  local id, typ, body = ARGV[15 + i * 3], ARGV[16 + i * 3], ARGV[17 + i * 3]
  local first = recorded(id .. '|' .. sender)
  local reserved = string.sub(typ, 1, 3) == 'pl:'
  local status, value = 0, nil
  if first then
    repeats = repeats + 1
    if string.sub(first, 1, 1) == 'n' then
      local target, digest = string.match(first, '^n(%d+):(%x+)$')
      status, value = 4, tonumber(target)
      if digest ~= redis.sha1hex(typ .. '\\n' .. body) then status = 2 end
    else
      status, value = 1, tonumber(first)
      local entry = redis.call('XRANGE', log, first .. '-0', first .. '-0')[1]
      if entry and (field(entry[2], 't') ~= typ or field(entry[2], 'b') ~= body) then status = 2 end
    end
  elseif typ == 'pl:read' then
    if read_at == nil then read_at = tonumber(redis.call('ZSCORE', reads, sender)) or 0 end
    local decoded, mark = pcall(cjson.decode, body)
    if decoded and type(mark) == 'table' and type(mark['seq']) == 'number' then
      local wanted = math.min(mark['seq'], seq)
      if wanted > read_at then read_at, read_moved = wanted, true end
      status, value = 3, read_at
    else
      status, value = 5, 'bad_request'
    end
  elseif reserved then
    status, value = annotate(typ, body)
    if status == 3 then
      redis.call('HSET', write_bucket, id .. '|' .. sender, 'n' .. string.format('%d', value) .. ':' .. redis.sha1hex(typ .. '\\n' .. body))
      noops = noops + 1
    end
  end
  if status == 0 then
    seq = seq + 1
    local s = string.format('%d', seq)
    redis.call('XADD', log, s .. '-0', 'i', id, 't', typ, 'b', body, 's', sender, 'ts', now)
    redis.call('HSET', write_bucket, id .. '|' .. sender, s)
    if reserved then
      redis.call('ZADD', an, seq, s)
      annotated = true
    else
      -- Posting reads the room (the position is at most the old head, so this always moves it).
      read_at, read_moved = seq, true
    end
    added = added + 1
    head_id = id
    bytes = bytes + #id + #typ + #body + #sender
    fresh[added] = { seq, id, typ, body, sender, tonumber(now) }
    value = seq
  end
  out[#out + 1] = status
  out[#out + 1] = value
end
local idle = tonumber(ARGV[8])
if read_moved then
  redis.call('ZADD', reads, 'GT', read_at, sender)
  if idle > 0 then redis.call('PEXPIRE', reads, idle) end
  out[3] = read_at
end
if noops > 0 then redis.call('PEXPIREAT', write_bucket, ARGV[3]) end
if repeats > 0 and added == 0 and noops == 0 and not read_moved then
  -- A resend answered from the record of an earlier append, perhaps another connection's that a
  -- replica has not confirmed yet (its WAIT timed out). This write puts the answer behind it in the
  -- replication stream, so the WAIT after this script confirms the earlier append too.
  redis.call('HSET', meta, 'repeat_at', now)
end
if added > 0 then
  if idle > 0 then
    redis.call('PEXPIRE', meta, idle)
    redis.call('PEXPIRE', log, idle)
    if annotated then
      redis.call('PEXPIRE', sum, idle)
      redis.call('PEXPIRE', rx, idle)
      redis.call('PEXPIRE', an, idle)
    end
  end
  redis.call('PEXPIREAT', write_bucket, ARGV[3])
  local max_len, oldest_kept, max_bytes = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[12])
  -- The length only matters under a count bound, or when the bytes bound must keep the newest message.
  local len = (max_len > 0 or max_bytes > 0) and redis.call('XLEN', log) or 0
  local excess = 0
  if max_len > 0 then excess = len - max_len end
  if excess > 0 or (max_bytes > 0 and bytes > max_bytes) or oldest_kept > 0 then
    -- Oldest first, in chunks that start at what the count needs (the common case: one entry, or
    -- none due) and grow; everything read up to the first entry that may stay is trimmed.
    local cut, looked, start, want, more = nil, 0, '-', math.max(1, math.min(excess, 100)), true
    -- Summaries to drop with their messages (annotated rooms only), in HDELs of at most 100.
    local unsummarised = {}
    while more do
      local chunk = redis.call('XRANGE', log, start, '+', 'COUNT', want)
      more = #chunk == want
      for _, entry in ipairs(chunk) do
        local f = entry[2]
        local aged = oldest_kept > 0 and looked < 100 and tonumber(field(f, 'ts')) < oldest_kept
        if not (excess > 0 or (max_bytes > 0 and bytes > max_bytes and len > 1) or aged) then
          more = false
          break
        end
        local entry_seq = tonumber(string.match(entry[1], '^(%d+)'))
        if entry_seq >= bytes_from then
          bytes = bytes - #(field(f, 'i') or '') - #(field(f, 't') or '') - #(field(f, 'b') or '') - #(field(f, 's') or '')
        end
        if annotated then
          unsummarised[#unsummarised + 1] = string.format('%d', entry_seq)
          if #unsummarised == 100 then
            redis.call('HDEL', sum, unpack(unsummarised))
            unsummarised = {}
          end
        end
        cut, len, excess, looked = entry_seq, len - 1, excess - 1, looked + 1
      end
      if more then start, want = '(' .. chunk[#chunk][1], math.min(want * 2, 100) end
    end
    if cut then
      redis.call('XTRIM', log, 'MINID', string.format('%d', cut + 1) .. '-0')
      if annotated then
        if #unsummarised > 0 then redis.call('HDEL', sum, unpack(unsummarised)) end
        redis.call('ZREMRANGEBYSCORE', rx, '-inf', cut)
        redis.call('ZREMRANGEBYSCORE', an, '-inf', cut)
      end
    end
  end
  if annotated then
    redis.call('HSET', meta, 'seq', string.format('%d', seq), 'head', head_id, 'bytes', string.format('%d', bytes), 'ann', '1')
  else
    redis.call('HSET', meta, 'seq', string.format('%d', seq), 'head', head_id, 'bytes', string.format('%d', bytes))
  end
  if ARGV[9] ~= '' then
    redis.call('PUBLISH', ARGV[9], ARGV[10] .. '\\n' .. ARGV[11] .. '\\n' .. cjson.encode({ e = epoch, p = previous, m = fresh }))
  end
end
return out
`;

/**
 * KEYS: meta, log, sum, rx. ARGV: since, limit, max bytes, caller ('' = none). Reading never
 * creates a room: one never written to answers epoch '' and an empty window (so joins and reads
 * of unused rooms leave no keys).
 * Returns: { epoch, firstSeq, headSeq, entries, sinceId, headId, summaries } where entries are raw
 * XRANGE results, sinceId is the id of message \`since\` and headId that of message headSeq ('' when
 * not retained); summaries: see page_summaries.
 */
/** Bytes a log entry takes as JSON on the wire (conservative: cjson escapes at least as much as JSON.stringify). */
const PAGE_HELPERS = `
local function wire_bytes(entry)
  local f = entry[2]
  return #cjson.encode({ field(f, 'i') or '', field(f, 't') or '', field(f, 'b') or '', field(f, 's') or '' }) + 64
end
-- An entry's weight in a page with its summary (an edited body travels in it; 448 covers the key,
-- the wrapping and a mine flag on each of up to 32 reaction keys).
local function page_bytes(entry, sum, annotated)
  local bytes = wire_bytes(entry)
  if annotated and string.sub(field(entry[2], 't') or '', 1, 3) ~= 'pl:' then
    local raw = redis.call('HGET', sum, string.match(entry[1], '^(%d+)'))
    if raw then bytes = bytes + #raw + 448 end
  end
  return bytes
end
local function bounds(meta, log)
  local state = redis.call('HMGET', meta, 'seq', 'ann')
  local head = tonumber(state[1])
  local first_seq = head + 1
  local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
  if oldest then first_seq = tonumber(string.match(oldest[1], '^(%d+)')) end
  local head_id = ''
  local newest = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
  if newest and tonumber(string.match(newest[1], '^(%d+)')) == head then head_id = field(newest[2], 'i') or '' end
  return head, first_seq, head_id, state[2] == '1'
end
-- The summaries of the page's messages that have one, as of now: a flat list of (seq, summary JSON,
-- the keys the caller holds), only read in annotated rooms.
local function page_summaries(sum, rx, entries, caller)
  local seqs = {}
  for _, entry in ipairs(entries) do
    if string.sub(field(entry[2], 't') or '', 1, 3) ~= 'pl:' then seqs[#seqs + 1] = string.match(entry[1], '^(%d+)') end
  end
  local out = {}
  if #seqs == 0 then return out end
  local raw = redis.call('HMGET', sum, unpack(seqs))
  for i, summary in ipairs(seqs) do
    if raw[i] then
      local mine = {}
      if caller ~= '' then
        local counts = cjson.decode(raw[i])['r']
        if counts then
          for key in pairs(counts) do
            if redis.call('ZSCORE', rx, summary .. '|' .. key .. '|' .. caller) then mine[#mine + 1] = key end
          end
        end
      end
      out[#out + 1] = summary
      out[#out + 1] = raw[i]
      out[#out + 1] = mine
    end
  end
  return out
end
`;

/**
 * A forward page: up to `limit` entries after `since` and at most `max_bytes` of them (always at
 * least one), read in small chunks so a page of big messages never loads more than it returns.
 */
export const READ_SCRIPT = `${PRELUDE}${PAGE_HELPERS}
local meta, log, sum, rx = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local since, limit, max_bytes, caller = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then return { '', 1, 0, {}, '', '', {} } end
local head, first_seq, head_id, annotated = bounds(meta, log)
local entries, bytes, full, next_id = {}, 0, false, string.format('%d', since + 1) .. '-0'
while not full and #entries < limit and since < head do
  local chunk = redis.call('XRANGE', log, next_id, '+', 'COUNT', math.min(limit - #entries, 50))
  if #chunk == 0 then break end
  for _, entry in ipairs(chunk) do
    bytes = bytes + page_bytes(entry, sum, annotated)
    if bytes > max_bytes and #entries > 0 then full = true break end
    entries[#entries + 1] = entry
  end
  next_id = '(' .. chunk[#chunk][1]
end
local since_id = ''
if since > 0 then
  local at = string.format('%d', since) .. '-0'
  local entry = redis.call('XRANGE', log, at, at)[1]
  if entry then since_id = field(entry[2], 'i') or '' end
end
local summaries = {}
if annotated then summaries = page_summaries(sum, rx, entries, caller) end
return { epoch, first_seq, head, entries, since_id, head_id, summaries }
`;

/**
 * A backward page, newest first: the entries before seq `before` back to the `limit`-th message
 * (annotations between come along, uncounted), at most `max_bytes` of them from the newest.
 * KEYS: meta, log, sum, rx. ARGV: before, limit, max bytes, caller.
 * Returns: { epoch, firstSeq, headSeq, entries, headId, summaries }.
 */
export const READ_BEFORE_SCRIPT = `${PRELUDE}${PAGE_HELPERS}
local meta, log, sum, rx = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local before, limit, max_bytes, caller = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then return { '', 1, 0, {}, '', {} } end
local head, first_seq, head_id, annotated = bounds(meta, log)
local entries, bytes, counted, full = {}, 0, 0, before <= 1
local next_id = '+'
if before <= head then next_id = '(' .. string.format('%d', before) .. '-0' end
while not full and counted < limit do
  local chunk = redis.call('XREVRANGE', log, next_id, '-', 'COUNT', math.min(limit - counted, 50))
  if #chunk == 0 then break end
  for _, entry in ipairs(chunk) do
    bytes = bytes + page_bytes(entry, sum, annotated)
    if bytes > max_bytes and #entries > 0 then full = true break end
    entries[#entries + 1] = entry
    if string.sub(field(entry[2], 't') or '', 1, 3) ~= 'pl:' then
      counted = counted + 1
      if counted == limit then break end
    end
  end
  next_id = '(' .. chunk[#chunk][1]
end
local summaries = {}
if annotated then summaries = page_summaries(sum, rx, entries, caller) end
return { epoch, first_seq, head, entries, head_id, summaries }
`;

/**
 * A member's read position (capped at the head; 0 when none) and the messages after it: the
 * entries after it less the annotations among them. KEYS: meta, an, reads. ARGV: sub.
 * Returns: { seq, unread }.
 */
export const READ_STATE_SCRIPT = `
local meta, an, reads = KEYS[1], KEYS[2], KEYS[3]
local head = tonumber(redis.call('HGET', meta, 'seq'))
if not head then return { 0, 0 } end
local at = math.min(tonumber(redis.call('ZSCORE', reads, ARGV[1])) or 0, head)
return { at, head - at - redis.call('ZCOUNT', an, '(' .. string.format('%d', at), head) }
`;
