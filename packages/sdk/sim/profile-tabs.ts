import type { TabEnvironment } from '../src/index.js';

interface Held {
  owner: number;
  /** Rejects the holder's request when another tab steals the lock. */
  stolen(): void;
}

/**
 * What the tabs of one browser profile share besides IndexedDB: Web Locks (exclusive, `ifAvailable`,
 * `steal`) and a BroadcastChannel, in memory on the simulation's clock. A tab that crashes loses its
 * locks and its channel, as a closed browsing context does.
 */
export class ProfileTabs {
  readonly #held = new Map<string, Held>();
  readonly #channels = new Set<{ owner: number; name: string; port: { onmessage: ((event: MessageEvent) => void) | null } }>();
  #next = 0;

  /** The environment of one tab; `release()` drops what it held (a crash). */
  forTab(): { environment: TabEnvironment; release(): void } {
    const owner = ++this.#next;
    const locks = {
      request: (async (name: string, options: LockOptions, callback: (lock: Lock | null) => Promise<unknown> | unknown) => {
        const current = this.#held.get(name);
        if (current && !options.steal) {
          if (options.ifAvailable) return callback(null);
          throw new Error('the simulation only asks for locks ifAvailable or steal');
        }
        current?.stolen();
        let rejectOwn!: (error: Error) => void;
        const own = new Promise<never>((_, reject) => (rejectOwn = reject));
        own.catch(() => {});
        const held: Held = { owner, stolen: () => rejectOwn(Object.assign(new Error('lock stolen'), { name: 'AbortError' })) };
        this.#held.set(name, held);
        const run = Promise.resolve().then(() => callback({ name, mode: 'exclusive' } as Lock));
        const done = run.finally(() => {
          if (this.#held.get(name) === held) this.#held.delete(name);
        });
        return Promise.race([done, own]);
      }) as unknown as LockManager['request'],
      query: async () => ({ held: [...this.#held.keys()].map((name) => ({ name, mode: 'exclusive' as const, clientId: '' })), pending: [] }),
    };
    const channel = (name: string) => {
      const port = { onmessage: null as ((event: MessageEvent) => void) | null };
      const entry = { owner, name, port };
      this.#channels.add(entry);
      return {
        get onmessage() {
          return port.onmessage;
        },
        set onmessage(listener) {
          port.onmessage = listener as ((event: MessageEvent) => void) | null;
        },
        postMessage: (data: unknown) => {
          const copy = JSON.stringify(data);
          for (const other of this.#channels) {
            if (other === entry || other.name !== name) continue;
            setTimeout(() => other.port.onmessage?.({ data: JSON.parse(copy) } as MessageEvent), 0);
          }
        },
        close: () => void this.#channels.delete(entry),
      } as unknown as BroadcastChannel;
    };
    return {
      environment: { locks, channel },
      release: () => {
        for (const [name, held] of this.#held) if (held.owner === owner) this.#held.delete(name);
        for (const entry of this.#channels) if (entry.owner === owner) this.#channels.delete(entry);
      },
    };
  }
}
