import type { WireError } from '@partyline/protocol';

/** What one tab tells the others about the shared outbox. */
export type TabMessage =
  | { type: 'outbox:added'; room: string; id: string }
  | { type: 'outbox:sent'; room: string; id: string; seq: number }
  | { type: 'outbox:failed'; room: string; id: string; error: WireError | { kind: string; message: string; retryable: boolean } }
  | { type: 'outbox:expired'; room: string; id: string };

/**
 * Coordinates the tabs of one browser profile: elects the one tab that flushes the outbox
 * (Web Locks; the lock passes on when that tab closes or crashes) and relays outbox changes
 * between tabs (BroadcastChannel) so every tab shows the same pending state.
 */
export interface TabCoordinator {
  /** Whether this tab flushes the outbox now. */
  isLeader(): boolean;
  post(message: TabMessage): void;
  close(): void;
}

export interface TabCoordinatorOptions {
  /** Names the lock and the channel; one per database. */
  name: string;
  /** Use the profile-wide lock and channel (false when the IndexedDB is private to this client). */
  shared: boolean;
  onLeader(): void;
  onMessage(message: TabMessage): void;
}

/**
 * Where Web Locks are missing (old browsers, Node, an injected IndexedDB) every client flushes:
 * two flushers at once cost duplicate sends, never duplicate messages, because the relay
 * deduplicates by message id.
 */
export function createTabCoordinator(options: TabCoordinatorOptions): TabCoordinator {
  const locks = options.shared && typeof navigator !== 'undefined' ? navigator.locks : undefined;
  const channel = options.shared && typeof BroadcastChannel === 'function' ? new BroadcastChannel(`partyline:${options.name}`) : undefined;
  let leader = !locks;
  let closed = false;
  let release: (() => void) | undefined;
  const abort = new AbortController();

  if (locks) {
    locks
      .request(`partyline:flusher:${options.name}`, { signal: abort.signal }, () => {
        if (closed) return undefined;
        leader = true;
        options.onLeader();
        return new Promise<void>((resolve) => (release = resolve));
      })
      .catch(() => {}); // aborted on close
  }
  if (channel) {
    channel.onmessage = (event: MessageEvent<TabMessage>) => {
      if (!closed && event.data && typeof event.data === 'object') options.onMessage(event.data);
    };
  }

  return {
    isLeader: () => leader && !closed,
    post(message) {
      if (!closed) channel?.postMessage(message);
    },
    close() {
      if (closed) return;
      closed = true;
      leader = false;
      abort.abort();
      release?.();
      if (channel) {
        channel.onmessage = null;
        channel.close();
      }
    },
  };
}
