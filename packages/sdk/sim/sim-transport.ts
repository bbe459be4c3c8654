import type { Clock, TimerHandle } from '../src/clock.js';
import type { Transport, TransportFactory } from '../src/transport.js';
import { MAX_FRAME_BYTES, PING_TOTAL_MS, type ModelRelays, type RelaySide } from './model-relay.js';

/**
 * A tab's network: `up`; `cut` (offline: sockets close, nothing connects); `silent` (Wi‑Fi gone
 * without a FIN: frames vanish both ways, an open link is noticed dead only by the heartbeat).
 */
export class TabNetwork {
  state: 'up' | 'cut' | 'silent' = 'up';
  readonly links = new Set<SimLink>();

  set(state: 'up' | 'cut' | 'silent'): void {
    if (state === this.state) return;
    this.state = state;
    for (const link of [...this.links]) link.networkChanged();
  }
}

export interface SimEnv {
  relays: ModelRelays;
  /** One-way network latency for the next frame. */
  latency(): number;
  /** Runs `run` later on the simulation's clock (network and relays; never a tab's). */
  later(run: () => void, delayMs: number): void;
  /** Probability that a request frame reaches the relay twice. */
  repeatedFrame(): boolean;
}

let nextLinkId = 0;

/** One transport: the client's end and the relay's end of one connection, with the network between. */
class SimLink implements Transport {
  readonly side: RelaySide;
  #client: 'opening' | 'open' | 'closed' = 'opening';
  #relaySide: 'none' | 'open' | 'closed' = 'none';
  #sub = '';
  #nextRequest = 0;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; timer: TimerHandle }>();
  #openTimer: TimerHandle | undefined;
  #heartbeat: TimerHandle | undefined;
  /** Increases whenever the network changes, so a heartbeat timer of an earlier silence is ignored. */
  #silence = 0;
  /** Frames held while the network is silent: TCP delivers them late, in order, if the connection survives. */
  #held: (() => void)[] = [];

  constructor(
    readonly env: SimEnv,
    readonly network: TabNetwork,
    readonly clock: Clock,
    readonly relay: number,
    readonly callbacks: Parameters<TransportFactory>[2],
    connectTimeoutMs: number,
    token: unknown,
  ) {
    const link = this;
    this.side = {
      id: ++nextLinkId,
      relay,
      get sub() {
        return link.#sub;
      },
      joined: new Set(),
      watching: new Set(),
      push: (event, payload) => this.#toClient(() => this.callbacks.onEvent(event as never, clone(payload))),
      drop: (reason) => this.#relayDrops(reason),
    };
    network.links.add(this);
    this.#openTimer = clock.setTimeout(() => this.#failOpening(new Error('timeout')), connectTimeoutMs);
    env.later(() => {
      if (this.#client !== 'opening') return;
      if (this.network.state === 'cut' || !env.relays.up[relay]) return this.#failOpening(new Error('websocket error'));
      if (this.network.state === 'silent') return; // the SYN vanishes: the opening times out
      const answer = env.relays.handshake(token);
      if (!answer.ok) return this.#failOpening(Object.assign(new Error(answer.error.message), { data: answer.error }));
      this.#sub = answer.sub;
      this.#relaySide = 'open';
      env.relays.connected(this.side);
      env.later(() => {
        if (this.#client !== 'opening') return this.#relayNotices();
        if (this.network.state !== 'up') return; // the answer vanished; the opening times out
        // The relay went down between accepting and its answer arriving: the socket closes under the client.
        if (this.#relaySide !== 'open') return this.#failOpening(new Error('websocket closed before the handshake'));
        this.#client = 'open';
        clock.clearTimeout(this.#openTimer);
        this.callbacks.onOpen();
      }, env.latency());
    }, env.latency());
  }

  request(event: string, payload: object, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.#client !== 'open') return reject(new Error('socket has been disconnected'));
      const id = ++this.#nextRequest;
      const timer = this.clock.setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error('operation has timed out'));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      const frame = JSON.stringify([event, payload]);
      const deliver = () =>
        this.#toRelay(() => {
          // The relay's frame limit: it closes the connection on a bigger frame (Engine.IO maxHttpBufferSize).
          if (Buffer.byteLength(frame) > MAX_FRAME_BYTES) return this.#relayDrops('transport close');
          const answer = this.env.relays.handle(this.side, event, JSON.parse(frame)[1] as Record<string, unknown>);
          if (answer === undefined) return;
          this.#toClient(() => {
            const waiting = this.#pending.get(id);
            if (!waiting) return;
            this.#pending.delete(id);
            this.clock.clearTimeout(waiting.timer);
            waiting.resolve(clone(answer));
          });
        });
      deliver();
      // A publish sent twice (the SDK resends after a lost ack): the relay must deduplicate it.
      if (event === 'room:publish' && this.env.repeatedFrame()) deliver();
    });
  }

  send(event: string, payload: object): void {
    if (this.#client !== 'open') return;
    const frame = JSON.stringify([event, payload]);
    this.#toRelay(() => void this.env.relays.handle(this.side, event, JSON.parse(frame)[1] as Record<string, unknown>));
  }

  close(): void {
    if (this.#client === 'closed') return;
    this.#client = 'closed';
    this.#teardown();
    this.#rejectAll();
    // A FIN reaches the relay unless the network swallows it (then its heartbeat notices).
    if (this.network.state === 'up') this.env.later(() => this.#relayNotices(), this.env.latency());
    else this.env.later(() => this.#relayNotices(), PING_TOTAL_MS);
  }

  /** The tab crashed: its end vanishes without a callback; the OS closes the socket, so the relay sees a FIN. */
  kill(): void {
    this.#client = 'closed';
    this.#teardown();
    this.#pending.clear();
    this.env.later(() => this.#relayNotices(), this.env.latency());
  }

  networkChanged(): void {
    this.#silence++;
    if (this.network.state === 'cut') {
      // Offline: the browser closes its sockets at once; the relay hears nothing and times out.
      if (this.#client === 'open') this.#clientCloses('transport close');
      else if (this.#client === 'opening') this.#failOpening(new Error('network connection lost'));
      this.env.later(() => this.#relayNotices(), PING_TOTAL_MS);
    } else if (this.network.state === 'silent') {
      const silence = this.#silence;
      this.clock.clearTimeout(this.#heartbeat);
      this.#heartbeat = this.clock.setTimeout(() => {
        if (silence === this.#silence && this.#client === 'open') this.#clientCloses('ping timeout');
      }, PING_TOTAL_MS);
      this.env.later(() => {
        if (silence === this.#silence) this.#relayNotices();
      }, PING_TOTAL_MS);
    } else {
      this.clock.clearTimeout(this.#heartbeat);
      for (const frame of this.#held.splice(0)) frame();
      // Back on the network: if the relay dropped this connection meanwhile, the next frame meets a reset.
      if (this.#relaySide === 'closed' && this.#client === 'open') this.env.later(() => this.#clientCloses('transport close'), this.env.latency());
    }
  }

  #toRelay(run: () => void): void {
    this.#send(this.#up, () => {
      if (this.#relaySide === 'open' && this.env.relays.up[this.relay]) run();
    });
  }

  #toClient(run: () => void): void {
    this.#send(this.#down, () => {
      if (this.#client === 'open') run();
    });
  }

  /** Frames on their way, per direction: one connection is one TCP stream, so they arrive in order. */
  readonly #up: { ready: boolean; arrive(): void }[] = [];
  readonly #down: { ready: boolean; arrive(): void }[] = [];

  /** One frame over the network: after its latency and after the frames before it; held while it is silent, lost if it is cut. */
  #send(direction: { ready: boolean; arrive(): void }[], arrive: () => void): void {
    if (this.network.state === 'cut') return;
    const frame = { ready: false, arrive };
    direction.push(frame);
    this.#travel(direction, frame);
  }

  /** Starts a frame's latency, or holds it until the network is back (it stays in its place in the stream). */
  #travel(direction: { ready: boolean; arrive(): void }[], frame: { ready: boolean; arrive(): void }): void {
    const start = () =>
      this.env.later(() => {
        frame.ready = true;
        while (direction[0]?.ready) {
          if (this.network.state === 'silent') {
            const head = direction[0];
            head.ready = false;
            return this.#travel(direction, head);
          }
          const next = direction.shift()!;
          if (this.network.state === 'up') next.arrive();
        }
      }, this.env.latency());
    if (this.network.state === 'silent') this.#held.push(start);
    else start();
  }

  #failOpening(error: Error): void {
    if (this.#client !== 'opening') return;
    this.#client = 'closed';
    this.#teardown();
    this.callbacks.onConnectError(error);
  }

  #clientCloses(reason: string): void {
    if (this.#client !== 'open') return;
    this.#client = 'closed';
    this.#teardown();
    this.#rejectAll();
    this.callbacks.onClose(reason);
  }

  /** The relay closes the connection: the client hears it after the latency (or by its heartbeat). */
  #relayDrops(reason: string): void {
    this.#relayNotices(reason);
  }

  /** The relay's end closes; a client still open hears it when the network lets the close through. */
  #relayNotices(reason = 'transport close'): void {
    const wasOpen = this.#relaySide === 'open';
    this.#relaySide = 'closed';
    if (!wasOpen) return;
    this.env.relays.disconnected(this.side);
    if (this.#client === 'open' && this.network.state === 'up') this.env.later(() => this.#clientCloses(reason), this.env.latency());
  }

  #teardown(): void {
    this.#held = [];
    this.clock.clearTimeout(this.#openTimer);
    this.clock.clearTimeout(this.#heartbeat);
    this.network.links.delete(this);
  }

  #rejectAll(): void {
    for (const waiting of this.#pending.values()) {
      this.clock.clearTimeout(waiting.timer);
      waiting.reject(new Error('socket has been disconnected'));
    }
    this.#pending.clear();
  }
}

/** The transport factory of one tab, wired to the model relays (`sim://relay-N`). */
export function simTransport(env: SimEnv, network: TabNetwork, clock: Clock): TransportFactory & { kill(): void } {
  const links = new Set<SimLink>();
  const factory = (url: string, options: Parameters<TransportFactory>[1], callbacks: Parameters<TransportFactory>[2]) => {
    const relay = Number(url.slice(url.lastIndexOf('-') + 1));
    const link = new SimLink(env, network, clock, relay, callbacks, options.connectTimeoutMs, (options.auth as { token?: unknown }).token);
    links.add(link);
    return link;
  };
  return Object.assign(factory, {
    kill() {
      for (const link of links) link.kill();
      links.clear();
    },
  });
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
