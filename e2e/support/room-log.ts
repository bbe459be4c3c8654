import { signAccessToken } from '@partyline/relay';
import { io } from 'socket.io-client';
import type { LogMessage } from '@partyline/protocol';

interface Page {
  ok: boolean;
  messages?: LogMessage[];
  hasMore?: boolean;
  headSeq?: number;
  error?: { kind: string; message: string };
}

/**
 * Reads a room's whole log straight from a relay (no SDK, no browser): the ground truth that the
 * specs compare what friends see against.
 */
export async function readRoomLog(relayUrl: string, room: string, tokenSecret: string): Promise<LogMessage[]> {
  const token = await signAccessToken({ sub: 'e2e-auditor', rooms: [room], ttlSeconds: 300 }, tokenSecret);
  const socket = io(relayUrl, { transports: ['websocket'], auth: { token, protocol: 1 }, reconnection: false, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const messages: LogMessage[] = [];
    let page = (await socket.timeout(10_000).emitWithAck('room:join', { room, since: 0 })) as Page;
    for (;;) {
      if (!page.ok) throw new Error(`reading ${room}: ${page.error?.kind} ${page.error?.message}`);
      messages.push(...(page.messages ?? []));
      if (!page.hasMore) break;
      page = (await socket.timeout(10_000).emitWithAck('room:read', { room, since: messages.at(-1)?.seq ?? 0 })) as Page;
    }
    return messages;
  } finally {
    socket.close();
  }
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
