import { PROTOCOL_VERSION, type LogMessage } from '@partyline/protocol';
import { io } from 'socket.io-client';
import { tokenFor } from './relays.js';

export interface Entry {
  seq: number;
  id: string;
}

/** A room's whole log (or its messages after `since`), read straight from a relay (no SDK), page by page. */
export async function readLog(relayUrl: string, room: string, options: { since?: number } = {}): Promise<Entry[]> {
  const socket = io(relayUrl, { transports: ['websocket'], auth: { token: await tokenFor('log-reader'), protocol: PROTOCOL_VERSION }, reconnection: false, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
    const log: Entry[] = [];
    for (let since = options.since ?? 0; ; ) {
      const page = (await socket.timeout(10_000).emitWithAck('room:read', { room, since })) as { ok: boolean; messages: LogMessage[]; hasMore: boolean };
      if (!page.ok) throw new Error(`reading ${room}: ${JSON.stringify(page)}`);
      log.push(...page.messages.map(({ seq, id }) => ({ seq, id })));
      if (!page.hasMore || page.messages.length === 0) return log;
      since = page.messages.at(-1)!.seq;
    }
  } finally {
    socket.close();
  }
}

/**
 * Judges one tab's app view (history() at open, then its message events) against the room log:
 * answers every way it is not exactly the log from seq 1 — a missing message, a duplicate, a
 * message out of order or not the log's. With `upTo`, the view may end early (a page about to be
 * reloaded): it must then be exactly the log's first messages.
 */
export function viewProblems(view: { history: Entry[]; events: Entry[] }, log: Entry[], options: { partial?: boolean } = {}): string[] {
  const seen = [...view.history, ...view.events];
  const problems: string[] = [];
  const length = options.partial ? seen.length : Math.max(seen.length, log.length);
  for (let i = 0; i < length && problems.length < 5; i++) {
    const got = seen[i];
    const want = log[i];
    if (!got) problems.push(`missing seq ${want!.seq} and ${log.length - i - 1} after it`);
    else if (!want) problems.push(`extra seq ${got.seq} beyond the log head ${log.at(-1)?.seq ?? 0}`);
    else if (got.seq !== want.seq || got.id !== want.id) {
      problems.push(`position ${i + 1}: got seq ${got.seq} (${got.id.slice(-6)}), the log has seq ${want.seq} (${want.id.slice(-6)})${seen.slice(0, i).some((e) => e.seq === got.seq) ? ' — a duplicate' : ''}`);
    }
  }
  return problems;
}
