/**
 * Lua scripts that make each room-log operation one atomic Redis step. Every key a script touches
 * is passed in KEYS and shares the room's hash tag, so they also run on Redis Cluster.
 *
 * Keys of a room `R` (prefix `pl:`):
 * - `pl:{R}:meta`      hash: `epoch` (random id of this log's lifetime), `seq` (last sequence),
 *                      `head` (id of message `seq`), `bytes` (what the retained messages weigh:
 *                      bytes of id, type, body and sender; for a log older than this field, only
 *                      those from seq `bytes_from` on)
 * - `pl:{R}:log`       stream: entry id `<seq>-0`, fields i (id), t (type), b (body), s (sender), ts
 * - `pl:{R}:dd:<n>`    hash: `<message id>|<sender>` → seq, for dedup; one per time bucket n, expiring
 *                      after the dedup retention, so a record costs one hash field instead of one key.
 *                      Keyed by sender too: one member can never claim (or answer for) another's id.
 */

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
 * KEYS: meta, log, write bucket, then every dedup bucket to look in (a fixed count: the last may repeat).
 * ARGV: now, epoch candidate, write-bucket expiry (ms), max messages (0 = none),
 *       oldest ts to keep (0 = none), sender, n, idle expiry ms (0 = never),
 *       feed channel ('' = none), origin, room, max bytes (0 = none), create ('1', or '0': a room
 *       that does not exist is left so, and the answer is { '', '' }), then n × (id, type, body).
 * A room's meta and log expire together once no message was appended for the idle expiry: an idle
 * room leaves nothing behind, and comes back (if ever) as a new epoch.
 * Retention trims oldest first, in this step: past the count, past the bytes (never the newest
 * message), older than the age. Count and bytes are back within bounds when the step ends (each
 * append pays for what it pushes out); age is amortised (at most 100 entries a step). The weight of
 * what is trimmed leaves the `bytes` total in the same step, so it never drifts from the log.
 * With a feed channel, the new messages are PUBLISHed there as three lines: origin, room (room
 * names have no newline) and JSON `{ e: epoch, p: previous id, m: [[seq, id, type, body, sender, ts], ...] }`:
 * other relays get them straight from this step, in seq order — not after another round trip
 * through this relay. (Redis sends a subscriber what a script published with the script's other
 * output, normally after the AOF write of that loop iteration; a subscriber connection that is
 * behind on its output may get it in the same iteration, before the fsync: see the README's
 * failure model.)
 * Returns: { epoch, previous id, status1, seq1, status2, seq2, ... } with status 0 new, 1 duplicate,
 * 2 conflict; previous id is the id of the head message before the batch ('' when none is retained).
 */
export const APPEND_SCRIPT = `${PRELUDE}
local meta, log, write_bucket = KEYS[1], KEYS[2], KEYS[3]
local now, sender, n = ARGV[1], ARGV[6], tonumber(ARGV[7])
if n == 0 then return { redis.call('HGET', meta, 'epoch') or '', '' } end
-- One read of the meta hash: epoch, last seq, the id of the last message (kept there, so no stream read), bytes.
local state = redis.call('HMGET', meta, 'epoch', 'seq', 'head', 'bytes', 'bytes_from')
local epoch, seq, previous, bytes, bytes_from = state[1], tonumber(state[2]), state[3], tonumber(state[4]), tonumber(state[5]) or 0
if not epoch then
  if ARGV[13] == '0' then return { '', '' } end
  epoch, seq, previous, bytes = ARGV[2], 0, '', 0
  redis.call('HSET', meta, 'epoch', epoch, 'seq', 0, 'bytes', 0)
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
local out = { epoch, previous }
local added = 0
local head_id = previous
local fresh = {}
for i = 0, n - 1 do
  local id, typ, body = ARGV[14 + i * 3], ARGV[15 + i * 3], ARGV[16 + i * 3]
  local first = false
  for k = 3, #KEYS do
    if k == 3 or KEYS[k] ~= KEYS[k - 1] then
      first = redis.call('HGET', KEYS[k], id .. '|' .. sender)
      if first then break end
    end
  end
  if first then
    local status = 1
    local entry = redis.call('XRANGE', log, first .. '-0', first .. '-0')[1]
    if entry and (field(entry[2], 't') ~= typ or field(entry[2], 'b') ~= body) then status = 2 end
    out[#out + 1] = status
    out[#out + 1] = tonumber(first)
  else
    seq = seq + 1
    local s = string.format('%d', seq)
    redis.call('XADD', log, s .. '-0', 'i', id, 't', typ, 'b', body, 's', sender, 'ts', now)
    redis.call('HSET', write_bucket, id .. '|' .. sender, s)
    added = added + 1
    head_id = id
    bytes = bytes + #id + #typ + #body + #sender
    fresh[added] = { seq, id, typ, body, sender, tonumber(now) }
    out[#out + 1] = 0
    out[#out + 1] = seq
  end
end
if added > 0 then
  if tonumber(ARGV[8]) > 0 then
    redis.call('PEXPIRE', meta, ARGV[8])
    redis.call('PEXPIRE', log, ARGV[8])
  end
  redis.call('PEXPIREAT', write_bucket, ARGV[3])
  local max_len, oldest_kept, max_bytes = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[12])
  local len = redis.call('XLEN', log)
  local excess = 0
  if max_len > 0 then excess = len - max_len end
  if excess > 0 or (max_bytes > 0 and bytes > max_bytes) or oldest_kept > 0 then
    -- Oldest first, in chunks that start at what the count needs (the common case: one entry, or
    -- none due) and grow; everything read up to the first entry that may stay is trimmed.
    local cut, looked, start, want, more = nil, 0, '-', math.max(1, math.min(excess, 100)), true
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
        cut, len, excess, looked = entry_seq, len - 1, excess - 1, looked + 1
      end
      if more then start, want = '(' .. chunk[#chunk][1], math.min(want * 2, 100) end
    end
    if cut then redis.call('XTRIM', log, 'MINID', string.format('%d', cut + 1) .. '-0') end
  end
  redis.call('HSET', meta, 'seq', string.format('%d', seq), 'head', head_id, 'bytes', string.format('%d', bytes))
  if ARGV[9] ~= '' then
    redis.call('PUBLISH', ARGV[9], ARGV[10] .. '\\n' .. ARGV[11] .. '\\n' .. cjson.encode({ e = epoch, p = previous, m = fresh }))
  end
end
return out
`;

/**
 * KEYS: meta, log. ARGV: since, limit. Reading never creates a room: one never written to answers
 * epoch '' and an empty window (so joins and reads of unused rooms leave no keys).
 * Returns: { epoch, firstSeq, headSeq, entries, sinceId, headId } where entries are raw XRANGE results,
 * sinceId is the id of message \`since\` and headId that of message headSeq ('' when not retained).
 */
/** Bytes a log entry takes as JSON on the wire (conservative: cjson escapes at least as much as JSON.stringify). */
const PAGE_HELPERS = `
local function wire_bytes(entry)
  local f = entry[2]
  return #cjson.encode({ field(f, 'i') or '', field(f, 't') or '', field(f, 'b') or '', field(f, 's') or '' }) + 64
end
local function bounds(meta, log)
  local head = tonumber(redis.call('HGET', meta, 'seq'))
  local first_seq = head + 1
  local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
  if oldest then first_seq = tonumber(string.match(oldest[1], '^(%d+)')) end
  local head_id = ''
  local newest = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
  if newest and tonumber(string.match(newest[1], '^(%d+)')) == head then head_id = field(newest[2], 'i') or '' end
  return head, first_seq, head_id
end
`;

/**
 * A forward page: up to `limit` messages after `since` and at most `max_bytes` of them (always at
 * least one), read in small chunks so a page of big messages never loads more than it returns.
 */
export const READ_SCRIPT = `${PRELUDE}${PAGE_HELPERS}
local meta, log = KEYS[1], KEYS[2]
local since, limit, max_bytes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then return { '', 1, 0, {}, '', '' } end
local head, first_seq, head_id = bounds(meta, log)
local entries, bytes, full, next_id = {}, 0, false, string.format('%d', since + 1) .. '-0'
while not full and #entries < limit and since < head do
  local chunk = redis.call('XRANGE', log, next_id, '+', 'COUNT', math.min(limit - #entries, 50))
  if #chunk == 0 then break end
  for _, entry in ipairs(chunk) do
    bytes = bytes + wire_bytes(entry)
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
return { epoch, first_seq, head, entries, since_id, head_id }
`;

/** A backward page: the newest messages before seq `before` (up to `limit` and `max_bytes`), newest first. */
export const READ_BEFORE_SCRIPT = `${PRELUDE}${PAGE_HELPERS}
local meta, log = KEYS[1], KEYS[2]
local before, limit, max_bytes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then return { '', 1, 0, {}, '' } end
local head, first_seq, head_id = bounds(meta, log)
local entries, bytes, full = {}, 0, before <= 1
local next_id = '+'
if before <= head then next_id = '(' .. string.format('%d', before) .. '-0' end
while not full and #entries < limit do
  local chunk = redis.call('XREVRANGE', log, next_id, '-', 'COUNT', math.min(limit - #entries, 50))
  if #chunk == 0 then break end
  for _, entry in ipairs(chunk) do
    bytes = bytes + wire_bytes(entry)
    if bytes > max_bytes and #entries > 0 then full = true break end
    entries[#entries + 1] = entry
  end
  next_id = '(' .. chunk[#chunk][1]
end
return { epoch, first_seq, head, entries, head_id }
`;
