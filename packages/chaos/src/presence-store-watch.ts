import { connect, type Socket } from 'node:net';

/** The members a room's presence held in Redis from `at` on (until the next entry of that room). */
export interface StoreMembers {
  at: number;
  room: string;
  members: string[];
}

export interface PresenceStoreWatch {
  /** Stops polling; answers every change seen, in time order. */
  stop(): StoreMembers[];
}

/**
 * Polls each room's presence members straight from Redis (`HKEYS pl:{room}:pr:members`, the relays'
 * key layout) every `everyMs`, keeping the changes: what the relays really made, against which a
 * leave an app saw can be told apart from one only its view made up. Reconnects after Redis crashes.
 */
export function watchPresenceStore(port: number, rooms: string[], everyMs = 100, prefix = 'pl:'): PresenceStoreWatch {
  const timeline: StoreMembers[] = [];
  const last = new Map<string, string>();
  let socket: Socket | undefined;
  let buffer = '';
  let waiting: ((replies: string[][]) => void) | undefined;
  let busy = false;

  /** Parses `count` RESP arrays of bulk strings from the buffer, or answers undefined until all are in. */
  const parse = (count: number): string[][] | undefined => {
    const replies: string[][] = [];
    let at = 0;
    const line = () => {
      const end = buffer.indexOf('\r\n', at);
      if (end < 0) return undefined;
      const text = buffer.slice(at, end);
      at = end + 2;
      return text;
    };
    while (replies.length < count) {
      const header = line();
      if (header === undefined) return undefined;
      if (!header.startsWith('*')) throw new Error(`unexpected reply ${header}`);
      const items: string[] = [];
      for (let n = Number(header.slice(1)); n > 0; n--) {
        const size = line();
        if (size === undefined) return undefined;
        const length = Number(size.slice(1));
        if (buffer.length < at + length + 2) return undefined;
        items.push(buffer.slice(at, at + length));
        at += length + 2;
      }
      replies.push(items);
    }
    buffer = buffer.slice(at);
    return replies;
  };

  const open = () => {
    const next = connect(port, '127.0.0.1');
    next.setEncoding('utf8');
    next.on('data', (chunk: string) => {
      buffer += chunk;
      const done = waiting;
      if (!done) return;
      try {
        const replies = parse(rooms.length);
        if (replies) {
          waiting = undefined;
          done(replies);
        }
      } catch {
        next.destroy();
      }
    });
    const drop = () => {
      if (socket === next) socket = undefined;
      waiting = undefined;
      buffer = '';
      busy = false;
    };
    next.on('error', drop).on('close', drop);
    socket = next;
  };

  const poll = () => {
    if (busy) return;
    if (!socket) open();
    const current = socket!;
    busy = true;
    const timeout = setTimeout(() => current.destroy(), 1000);
    waiting = (replies) => {
      clearTimeout(timeout);
      busy = false;
      const at = Date.now();
      replies.forEach((members, i) => {
        const room = rooms[i]!;
        const sorted = [...members].sort();
        const key = sorted.join('\n');
        if (last.get(room) === key) return;
        last.set(room, key);
        timeline.push({ at, room, members: sorted });
      });
    };
    current.write(rooms.map((room) => `HKEYS ${prefix}{${room}}:pr:members\r\n`).join(''));
  };
  const timer = setInterval(poll, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      socket?.destroy();
      return timeline;
    },
  };
}
