import { useCallback, useSyncExternalStore } from './react.js';

/**
 * `useSyncExternalStore` over an SDK object's events: `subscribe` is kept while `source` stays the
 * same (a new one would resubscribe on every render), `get` answers on the server too.
 * `get` must answer the same value until the store changes.
 */
export function useStore<T>(source: object, subscribe: (onChange: () => void) => () => void, get: () => T): T {
  return useSyncExternalStore(useCallback(subscribe, [source]), get, get);
}
