/** A listener map: event name → the one context object its listeners receive. */
export type EventMap = Record<string, object>;

/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;

/**
 * A tiny typed emitter. A throwing listener is reported (`reportError` when present) and
 * never stops the others or the SDK's own work.
 */
export class Emitter<Events extends { [K in keyof Events]: object }> {
  readonly #listeners = new Map<keyof Events, Set<(context: never) => void>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: (context: Events[K]) => void): Unsubscribe {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as (context: never) => void);
    return () => this.off(event, listener);
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof Events>(event: K, listener: (context: Events[K]) => void): void {
    this.#listeners.get(event)?.delete(listener as (context: never) => void);
  }

  /** Whether anyone listens to `event`. */
  has(event: keyof Events): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  emit<K extends keyof Events>(event: K, context: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (context: Events[K]) => void)(context);
      } catch (error) {
        const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
        if (report) report(error);
        else setTimeout(() => { throw error; });
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
