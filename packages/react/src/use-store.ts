import { useCallback, useSyncExternalStore } from './react.js';

/**
 * `useSyncExternalStore` over an SDK object's events: `subscribe` is kept while `source` stays the
 * same (a new one would resubscribe on every render), `get` answers on the server too.
 * `get` must answer the same value until the store changes.
 */
export function useStore<T>(source: object, subscribe: (onChange: () => void) => () => void, get: () => T): T {
  return useSyncExternalStore(useCallback(subscribe, [source]), get, get);
}

/** Listeners of a store that follows its source only while anyone listens. */
export interface Followers {
  subscribe(listener: () => void): () => void;
  notify(): void;
  /** Whether the store follows its source now. */
  readonly attached: boolean;
}

/**
 * Starts following (`attach`, which answers how to stop) with the first listener and stops a
 * microtask after the last one leaves: a StrictMode unmount + remount subscribes again in the same
 * task and keeps what was followed.
 */
export function followWhileListened(attach: () => () => void): Followers {
  const listeners = new Set<() => void>();
  let stop: (() => void) | undefined;
  return {
    subscribe(listener) {
      listeners.add(listener);
      stop ??= attach();
      return () => {
        listeners.delete(listener);
        queueMicrotask(() => {
          if (listeners.size > 0 || !stop) return;
          stop();
          stop = undefined;
        });
      };
    },
    notify: () => listeners.forEach((listener) => listener()),
    get attached() {
      return stop !== undefined;
    },
  };
}
