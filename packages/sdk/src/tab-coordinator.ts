import type { WireError } from '@partyline/protocol';

/** What one tab tells the others about the shared outbox. */
export type TabMessage =
  | { type: 'outbox:added'; room: string; id: string }
  | { type: 'outbox:sent'; room: string; id: string; seq: number }
  | { type: 'outbox:failed'; room: string; id: string; error: WireError | { kind: string; message: string; retryable: boolean } }
  | { type: 'outbox:expired'; room: string; id: string };

/**
 * Coordinates the tabs of one browser profile: per room, elects the one tab that flushes that room's
 * outbox entries (Web Locks; the lock passes on when that tab closes or crashes), and relays outbox
 * changes between tabs (BroadcastChannel) so every tab shows the same pending state. Leadership is
 * per room because tabs may hold tokens for different rooms: a tab only ever sends the rooms it opened.
 */
export interface TabCoordinator {
  /** Competes, with the other tabs that opened `room`, to flush it. */
  claim(room: string): void;
  /** Whether this tab flushes `room` now. */
  isLeader(room: string): boolean;
  post(message: TabMessage): void;
  close(): void;
}

export interface TabCoordinatorOptions {
  /** Names the lock and the channel; one per database. */
  name: string;
  /** Use the profile-wide lock and channel (false when the IndexedDB is private to this client). */
  shared: boolean;
  onLeader(room: string): void;
  onMessage(message: TabMessage): void;
}

/**
 * Where Web Locks are missing (old browsers, Node, an injected IndexedDB) every client flushes the
 * rooms it opened: two flushers at once cost duplicate sends, never duplicate messages, because the
 * relay deduplicates by message id.
 */
export function createTabCoordinator(options: TabCoordinatorOptions): TabCoordinator {
  const locks = options.shared && typeof navigator !== 'undefined' ? navigator.locks : undefined;
  const channel = options.shared && typeof BroadcastChannel === 'function' ? new BroadcastChannel(`partyline:${options.name}`) : undefined;
  const claimed = new Set<string>();
  const leading = new Set<string>();
  const releases: (() => void)[] = [];
  let closed = false;
  const abort = new AbortController();
  if (channel) {
    channel.onmessage = (event: MessageEvent<TabMessage[] | TabMessage>) => {
      if (closed || !event.data || typeof event.data !== 'object') return;
      // A batch from this SDK; a single message from an older one still open in another tab.
      for (const message of Array.isArray(event.data) ? event.data : [event.data]) {
        if (message && typeof message === 'object') options.onMessage(message);
      }
    };
  }
  // Messages of one turn leave as one postMessage: each is a cross-process hop, and a burst of
  // publishes (or a flush of thousands of acks) would otherwise pay it per message.
  let outgoing: TabMessage[] = [];
  const sendOutgoing = () => {
    const batch = outgoing;
    outgoing = [];
    if (batch.length > 0) channel?.postMessage(batch);
  };

  return {
    claim(room) {
      if (closed || claimed.has(room)) return;
      claimed.add(room);
      if (!locks) {
        leading.add(room);
        options.onLeader(room);
        return;
      }
      locks
        .request(`partyline:flusher:${options.name}:${room}`, { signal: abort.signal }, () => {
          if (closed) return undefined;
          leading.add(room);
          options.onLeader(room);
          return new Promise<void>((resolve) => releases.push(resolve));
        })
        .catch(() => {}); // aborted on close
    },
    isLeader: (room) => !closed && leading.has(room),
    post(message) {
      if (closed || !channel) return;
      if (outgoing.push(message) === 1) queueMicrotask(sendOutgoing);
    },
    close() {
      if (closed) return;
      sendOutgoing();
      closed = true;
      leading.clear();
      abort.abort();
      for (const release of releases) release();
      if (channel) {
        channel.onmessage = null;
        channel.close();
      }
    },
  };
}
