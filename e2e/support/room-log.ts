import { signAccessToken } from '@partyline/relay';
import { io, type Socket } from 'socket.io-client';
import type { LogMessage, MessageSummary } from '@partyline/protocol';

interface Page {
  ok: boolean;
  messages?: LogMessage[];
  hasMore?: boolean;
  headSeq?: number;
  summaries?: Record<string, MessageSummary>;
  error?: { kind: string; message: string };
}

/** A socket to a relay as `sub`, member of `room`, for the length of `use`. */
async function asMember<T>(relayUrl: string, room: string, tokenSecret: string, sub: string, use: (socket: Socket) => Promise<T>): Promise<T> {
  const token = await signAccessToken({ sub, rooms: [room], ttlSeconds: 300 }, tokenSecret);
  const socket = io(relayUrl, { transports: ['websocket'], auth: { token, protocol: 1 }, reconnection: false, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return await use(socket);
  } finally {
    socket.close();
  }
}

/**
 * Reads a room's whole log straight from a relay (no SDK, no browser): the ground truth that the
 * specs compare what friends see against.
 */
export async function readRoomLog(relayUrl: string, room: string, tokenSecret: string): Promise<LogMessage[]> {
  return asMember(relayUrl, room, tokenSecret, 'e2e-auditor', async (socket) => {
    const messages: LogMessage[] = [];
    let page = (await socket.timeout(10_000).emitWithAck('room:join', { room, since: 0 })) as Page;
    for (;;) {
      if (!page.ok) throw new Error(`reading ${room}: ${page.error?.kind} ${page.error?.message}`);
      messages.push(...(page.messages ?? []));
      if (!page.hasMore) break;
      page = (await socket.timeout(10_000).emitWithAck('room:read', { room, since: messages.at(-1)?.seq ?? 0 })) as Page;
    }
    return messages;
  });
}

/** What a member's `{ last: N }` join answers: the newest entries and the relay's summaries of their messages as of `headSeq`. */
export interface RoomWindow {
  messages: LogMessage[];
  summaries: Record<string, MessageSummary>;
  headSeq: number;
}

/** Joins a room as `sub` with `{ last }`, straight at a relay: its summaries say `mine` for `sub`'s reactions. */
export async function readRoomWindow(relayUrl: string, room: string, tokenSecret: string, sub: string, last: number): Promise<RoomWindow> {
  return asMember(relayUrl, room, tokenSecret, sub, async (socket) => {
    const page = (await socket.timeout(10_000).emitWithAck('room:join', { room, last })) as Page;
    if (!page.ok) throw new Error(`joining ${room} as ${sub}: ${page.error?.kind} ${page.error?.message}`);
    return { messages: page.messages ?? [], summaries: page.summaries ?? {}, headSeq: page.headSeq ?? 0 };
  });
}

/** The chat texts of a log, in log order. */
export function chatTexts(log: readonly LogMessage[]): string[] {
  return log.filter((message) => message.type === 'chat').map((message) => (JSON.parse(message.body) as { text: string }).text);
}

/** Values that occur more than once. */
export function duplicates(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const value of values) (seen.has(value) ? twice : seen).add(value);
  return [...twice];
}

/** Reads a relay's `partyline_connections` gauge. */
export async function relayConnections(relayUrl: string): Promise<number> {
  const text = await (await fetch(`${relayUrl}/metrics`)).text();
  const match = /^partyline_connections(?:\{[^}]*\})? (\d+(?:\.\d+)?)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}
