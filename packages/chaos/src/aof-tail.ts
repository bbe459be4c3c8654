/** One room-log append a Redis crash lost: what the AOF held of it did not survive the cut. */
export interface LostAppend {
  room: string;
  seq: number;
  id: string;
}

/**
 * The room-log appends (XADD to `<prefix>{room}:log`, entry `<seq>-0`, field `i` = message id) that an
 * AOF cut back to `keptBytes` loses: every one that ends after the cut, and every one inside a
 * MULTI/EXEC block the cut splits (Redis reverts an incomplete transaction when it loads a truncated
 * AOF; a Lua script's writes are logged as one such block). Ground truth for "lost by the store".
 */
export function lostAppends(aof: Buffer, keptBytes: number, keyPrefix = 'pl:'): LostAppend[] {
  const lost: LostAppend[] = [];
  /** XADDs of the open MULTI block, with where the block started. */
  let block: { start: number; appends: (LostAppend & { end: number })[] } | undefined;
  for (let at = 0; at < aof.length; ) {
    const command = readCommand(aof, at);
    if (!command) break; // a torn last command
    const [name = '', ...args] = command.args;
    const verb = name.toUpperCase();
    if (verb === 'MULTI') block = { start: at, appends: [] };
    else if (verb === 'EXEC' && block) {
      // The whole block is lost if it does not end before the cut.
      if (command.end > keptBytes) lost.push(...block.appends.map(({ end: _end, ...append }) => append));
      block = undefined;
    } else if (verb === 'XADD') {
      const append = parseXadd(args, keyPrefix);
      if (append) {
        if (block) block.appends.push({ ...append, end: command.end });
        else if (command.end > keptBytes) lost.push(append);
      }
    }
    at = command.end;
  }
  // A block the file ends inside (never executed as a whole): lost.
  if (block) lost.push(...block.appends.map(({ end: _end, ...append }) => append));
  return lost;
}

function parseXadd(args: string[], keyPrefix: string): LostAppend | undefined {
  const [key = '', entryId = '', ...rest] = args;
  const room = new RegExp(`^${escape(keyPrefix)}\\{(.*)\\}:log$`).exec(key)?.[1];
  const seq = Number(/^(\d+)-\d+$/.exec(entryId)?.[1]);
  if (room === undefined || !Number.isSafeInteger(seq)) return undefined;
  for (let i = 0; i + 1 < rest.length; i += 2) if (rest[i] === 'i') return { room, seq, id: rest[i + 1]! };
  return undefined;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One RESP array of bulk strings at `at`; undefined when the buffer ends inside it. */
function readCommand(buffer: Buffer, at: number): { args: string[]; end: number } | undefined {
  const line = (from: number): { text: string; next: number } | undefined => {
    const eol = buffer.indexOf('\r\n', from, 'latin1');
    return eol < 0 ? undefined : { text: buffer.toString('latin1', from, eol), next: eol + 2 };
  };
  const header = line(at);
  if (!header || header.text[0] !== '*') return undefined;
  const count = Number(header.text.slice(1));
  const args: string[] = [];
  let next = header.next;
  for (let i = 0; i < count; i++) {
    const size = line(next);
    if (!size || size.text[0] !== '$') return undefined;
    const length = Number(size.text.slice(1));
    const end = size.next + length;
    if (end + 2 > buffer.length) return undefined;
    args.push(buffer.toString('utf8', size.next, end));
    next = end + 2;
  }
  return { args, end: next };
}
