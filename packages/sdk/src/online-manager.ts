/**
 * Tells the SDK whether the device believes it is online, and when that changes
 * (TanStack Query's `onlineManager` idea). Inject your own for tests, React Native or Node.
 */
export interface OnlineManager {
  isOnline(): boolean;
  /** Calls `listener` on every change; returns a function that stops it. */
  subscribe(listener: (online: boolean) => void): () => void;
}

/**
 * The default: the browser's `navigator.onLine` and `online`/`offline` events — on `window` in a
 * page, on `self` in a worker (the global scope, whichever it is). Where there is no such thing
 * (Node), it always says online and never changes.
 */
export function createBrowserOnlineManager(): OnlineManager {
  // Not `window`: a Worker has none, and would never hear that the network came back.
  const scope = globalThis as Partial<Pick<EventTarget, 'addEventListener' | 'removeEventListener'>>;
  const target = typeof scope.addEventListener === 'function' && typeof scope.removeEventListener === 'function' ? (scope as EventTarget) : undefined;
  return {
    isOnline: () => (typeof navigator !== 'undefined' && typeof navigator.onLine === 'boolean' ? navigator.onLine : true),
    subscribe(listener) {
      if (!target) return () => {};
      const online = () => listener(true);
      const offline = () => listener(false);
      target.addEventListener('online', online);
      target.addEventListener('offline', offline);
      return () => {
        target.removeEventListener('online', online);
        target.removeEventListener('offline', offline);
      };
    },
  };
}

/**
 * An online manager you switch by hand (tests, or apps with their own reachability check).
 *
 * @example
 * const online = createManualOnlineManager(true);
 * const client = createClient({ relays, token, onlineManager: online });
 * online.setOnline(false);
 */
export function createManualOnlineManager(initial = true): OnlineManager & { setOnline(online: boolean): void } {
  let online = initial;
  const listeners = new Set<(online: boolean) => void>();
  return {
    isOnline: () => online,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    setOnline(next) {
      if (next === online) return;
      online = next;
      for (const listener of [...listeners]) listener(next);
    },
  };
}
