import type { WireError } from '@partyline/protocol';
import type { Clock, TimerHandle } from './clock.js';

/** What one tab tells the others about the shared outbox. */
export type TabMessage =
  | { type: 'outbox:added'; room: string; id: string }
  | { type: 'outbox:sent'; room: string; id: string; seq: number }
  | { type: 'outbox:failed'; room: string; id: string; error: WireError | { kind: string; message: string; retryable: boolean } }
  | { type: 'outbox:expired'; room: string; id: string };

/**
 * Coordinates the tabs of one browser profile: per room, at most one tab flushes that room's outbox
 * entries at a time (Web Locks), and outbox changes travel between tabs (BroadcastChannel) so every
 * tab shows the same pending state. The lock is taken per flush pass, only by a tab that is connected
 * and about to send, and released when the pass ends: a tab that cannot send (offline, no token,
 * frozen, its relay cut) never holds the others back. A pass stuck on an ack that never comes is
 * taken over (`steal`) once another tab has waited `stealAfterMs`. Leadership is per room because
 * tabs may hold tokens for different rooms: a tab only ever sends the rooms it opened.
 */
export interface TabCoordinator {
  /**
   * Runs `task` as the one flusher of `room` in this profile; answers false without running it when
   * another tab flushes `room` now (try again soon: after `stealAfterMs` of waiting it is taken over).
   */
  lead(room: string, task: () => Promise<void>): Promise<boolean>;
  /**
   * Tells the other tabs, soon: the first message after a quiet spell leaves at the end of this turn,
   * later ones within `POST_WINDOW_MS` of a post leave together when the window ends.
   */
  post(message: TabMessage): void;
  /** Sends what `post` holds back now (the page is going away). */
  flush(): void;
  /** Whether tabs take turns, the rooms this tab flushes now and those another tab flushes now (`client.inspect()`). */
  inspect(): Promise<{ shared: boolean; leading: string[]; otherTabs: string[] }>;
  close(): void;
}

/** What the tabs of a profile share: Web Locks and a broadcast channel (injected by the simulator). */
export interface TabEnvironment {
  locks: Pick<LockManager, 'request' | 'query'>;
  channel(name: string): Pick<BroadcastChannel, 'postMessage' | 'close' | 'onmessage'>;
}

export interface TabCoordinatorOptions {
  /** Names the lock and the channel; one per database. */
  name: string;
  /** Use the profile-wide lock and channel (false when the IndexedDB is private to this client). */
  shared: boolean;
  /** The profile's locks and channel. @default navigator.locks and BroadcastChannel of this page */
  environment?: TabEnvironment;
  /** How long a tab waits for a busy room before taking its flush over. */
  stealAfterMs: number;
  /** The client's clock: its time, and the timer that holds posts back (see `post`). */
  clock: Clock;
  onMessage(message: TabMessage): void;
}

/**
 * How long after a post the next one waits, gathering what comes meanwhile: other tabs hear of a
 * burst at once and of the rest of it at most this late, for tens of posts a second instead of
 * one per turn.
 */
const POST_WINDOW_MS = 20;

/**
 * Where Web Locks are missing (old browsers, Node, an injected IndexedDB) every client flushes the
 * rooms it opened: two flushers at once cost duplicate sends, never duplicate messages, because the
 * relay deduplicates by message id.
 */
export function createTabCoordinator(options: TabCoordinatorOptions): TabCoordinator {
  const environment = options.environment;
  const locks = environment ? environment.locks : options.shared && typeof navigator !== 'undefined' ? navigator.locks : undefined;
  const channelName = `partyline:${options.name}`;
  const channel = environment ? environment.channel(channelName) : options.shared && typeof BroadcastChannel === 'function' ? new BroadcastChannel(channelName) : undefined;
  /** Rooms another tab was flushing when this one wanted to: since when, and when last found so. */
  const busy = new Map<string, { since: number; last: number }>();
  /** Rooms whose flush pass runs in this tab now. */
  const leading = new Set<string>();
  const lockPrefix = `partyline:flusher:${options.name}:`;
  let closed = false;
  if (channel) {
    channel.onmessage = (event: MessageEvent<TabMessage[] | TabMessage>) => {
      if (closed || !event.data || typeof event.data !== 'object') return;
      // A batch from this SDK; a single message from an older one still open in another tab.
      for (const message of Array.isArray(event.data) ? event.data : [event.data]) {
        if (message && typeof message === 'object') options.onMessage(message);
      }
    };
  }
  // Messages leave in batches: each postMessage is a cross-process hop (~50-80 µs of this thread in
  // Chromium), and a burst of publishes (or a flush of thousands of acks) would otherwise pay it per
  // message, or per group commit (a thousand a second at 10,000 publishes/s).
  let outgoing: TabMessage[] = [];
  /** Holds posts back until `POST_WINDOW_MS` after the last batch left (see `post`). */
  let windowTimer: TimerHandle | undefined;
  const sendOutgoing = () => {
    if (outgoing.length === 0) return;
    options.clock.clearTimeout(windowTimer);
    channel?.postMessage(outgoing);
    outgoing = [];
    windowTimer = closed ? undefined : options.clock.setTimeout(endWindow, POST_WINDOW_MS);
  };
  const endWindow = () => {
    windowTimer = undefined;
    sendOutgoing();
  };

  return {
    async lead(room, task) {
      if (closed) return false;
      if (!locks) {
        leading.add(room);
        await task().finally(() => leading.delete(room));
        return true;
      }
      const now = options.clock.now();
      // Only an unbroken wait counts: a mark from an earlier, long-finished contention is stale.
      let waiting = busy.get(room);
      if (waiting && now - waiting.last > options.stealAfterMs) waiting = undefined;
      const steal = waiting !== undefined && now - waiting.since >= options.stealAfterMs;
      let running: Promise<void> | undefined;
      const request = locks.request(lockPrefix + room, steal ? { steal: true } : { ifAvailable: true }, (lock) => {
        if (!lock || closed) return undefined;
        leading.add(room);
        running = task().finally(() => leading.delete(room));
        return running;
      });
      // Taken over by another tab, the request rejects while the task still runs: wait for the task.
      await request.catch(() => {});
      if (!running) {
        busy.set(room, { since: waiting?.since ?? now, last: now });
        return false;
      }
      busy.delete(room);
      await running;
      return true;
    },
    post(message) {
      if (closed || !channel) return;
      if (outgoing.push(message) === 1 && windowTimer === undefined) queueMicrotask(sendOutgoing);
    },
    flush() {
      if (!closed) sendOutgoing();
    },
    async inspect() {
      const held = locks ? ((await locks.query()).held ?? []) : [];
      const rooms = held.flatMap(({ name = '' }) => (name.startsWith(lockPrefix) ? [name.slice(lockPrefix.length)] : []));
      const otherTabs = rooms.filter((room) => !leading.has(room));
      return { shared: locks !== undefined, leading: [...leading], otherTabs };
    },
    close() {
      if (closed) return;
      closed = true;
      sendOutgoing();
      options.clock.clearTimeout(windowTimer);
      if (channel) {
        channel.onmessage = null;
        channel.close();
      }
    },
  };
}
