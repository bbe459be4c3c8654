import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { WebSocketClass } from './web-socket.node.js';

/**
 * A Socket.IO client over one WebSocket: Engine.IO protocol 4 and Socket.IO protocol 5, text packets,
 * one namespace, no reconnection of its own (the Connection reconnects, to the next relay).
 *
 * Why not socket.io-client: its Manager always builds the full Engine.IO socket, whose transport
 * table imports HTTP long-polling and WebTransport, the upgrade machinery and binary packets — about
 * 13 KB of the SDK's 28 KB gzipped bundle, for a client that only ever speaks WebSocket with
 * reconnection off. What the SDK used of it behaves the same here, down to the messages:
 * `connect`; `connect_error` with the relay's `data`, or "timeout" when the opening (the Engine.IO
 * handshake and the relay's answer to CONNECT) takes longer than `timeout`, or "parse error" for a
 * handshake that is not one; `disconnect` with socket.io-client's reasons; acks;
 * `timeout(ms).emitWithAck` rejecting with "operation has timed out" or, as soon as the socket
 * closes, "socket has been disconnected"; the heartbeat (the relay pings, a silence of pingInterval + pingTimeout closes
 * with "ping timeout", also checked before each send for timers a sleeping laptop held back);
 * and the browser's `offline` event closing the socket. One difference: where socket.io-client
 * waited out the connect timeout (the WebSocket closed, or the browser went offline, before the
 * handshake; a malformed URL), this reports `connect_error` at once, so failover starts sooner.
 *
 * @see https://socket.io/docs/v4/engine-io-protocol/
 * @see https://socket.io/docs/v4/socket-io-protocol/
 */
export function createSocket<Listen extends EventMap<Listen>, Emit extends EventMap<Emit>>(url: string, options: SocketOptions): SocketClient<Listen, Emit> {
  return new SocketClient<Listen, Emit>(url, options);
}

export interface SocketOptions {
  /** Sent in the Socket.IO CONNECT packet: the relay's handshake `auth`. */
  auth: object;
  /** How long the opening — the Engine.IO handshake and the relay's answer to CONNECT — may take before `connect_error` ("timeout"). */
  timeout: number;
  /** Timers and time of the heartbeat, the opening and acks. @default systemClock */
  clock?: Clock;
}

/** Why a connected (or Engine.IO-open) socket closed, as socket.io-client names it. */
export type DisconnectReason = 'io server disconnect' | 'io client disconnect' | 'ping timeout' | 'transport close' | 'transport error' | 'parse error';

/** Events every socket has, whatever the protocol's event maps say. */
export interface ReservedEvents {
  connect: () => void;
  /** The relay refused the connection (its error in `data`), or could not be reached. */
  connect_error: (error: Error & { data?: unknown }) => void;
  disconnect: (reason: DisconnectReason) => void;
}

type Handler = (...args: never[]) => void;
type EventMap<T> = { [K in keyof T]: Handler };
type Args<F> = F extends (...args: infer A) => void ? A : never;
/** What an event's ack callback receives: the parameter of the callback that ends the event's parameters. */
type AnswerOf<F> = Args<NonNullable<Args<F>[1]>>[0];
type Ack = ((...args: unknown[]) => void) & { withError?: boolean };
type Listener = (...args: unknown[]) => void;

// Engine.IO packet types: the first character of every WebSocket frame.
const OPEN = '0';
const CLOSE = '1';
const PING = '2';
const PONG = '3';
const MESSAGE = '4';
// Socket.IO packet types: the first character of an Engine.IO MESSAGE.
const CONNECT = 0;
const DISCONNECT = 1;
const EVENT = 2;
const ACK = 3;
const CONNECT_ERROR = 4;

/** Event names a relay cannot send: the socket's own. */
const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);
const noop = () => {};

export class SocketClient<Listen extends EventMap<Listen>, Emit extends EventMap<Emit>> {
  readonly #ws: WebSocket | undefined;
  readonly #nsp: string;
  readonly #auth: object;
  readonly #listeners = new Map<string, Listener[]>();
  readonly #acks = new Map<number, Ack>();
  #nextAckId = 0;
  /** Engine.IO: `opening` until the relay's OPEN packet (the handshake), `closed` for good. */
  #engine: 'opening' | 'open' | 'closed' = 'opening';
  /** Socket.IO: the relay accepted the CONNECT. */
  #connected = false;
  /** Frames emitted before the connect (and acks they wait for), sent when it comes. */
  #sendBuffer: { frame: string; id: number | undefined }[] = [];
  /** Events that arrived before the connect, handed out when it comes. */
  #receiveBuffer: unknown[][] = [];
  readonly #clock: Clock;
  #connectTimer: TimerHandle | undefined;
  #pingTimer: TimerHandle | undefined;
  #pingInterval = 0;
  #pingTimeout = 0;
  #pingDeadline = Infinity;
  readonly #onOffline: (() => void) | undefined;

  constructor(url: string, options: SocketOptions) {
    this.#auth = options.auth;
    this.#clock = options.clock ?? systemClock;
    // Covers the whole opening: a relay whose auth hangs after the Engine.IO handshake must not leave
    // the client connecting for good.
    this.#connectTimer = this.#clock.setTimeout(() => this.#abort(new Error('timeout')), options.timeout);
    let target: URL;
    let ws: WebSocket;
    try {
      target = absoluteUrl(url);
      const engine = new URL('/socket.io/', target);
      engine.protocol = target.protocol === 'https:' || target.protocol === 'wss:' ? 'wss:' : 'ws:';
      engine.search = target.search;
      engine.searchParams.set('EIO', '4');
      engine.searchParams.set('transport', 'websocket');
      ws = new WebSocketClass(engine.href);
    } catch (error) {
      // A malformed URL, a blocked scheme: reported like any failed attempt, once the caller listens.
      this.#nsp = '/';
      queueMicrotask(() => this.#abort(error instanceof Error ? error : new Error(String(error))));
      return;
    }
    this.#nsp = target.pathname || '/';
    // Like Engine.IO: a browser that says it went offline closes the socket (connections to
    // `localhost` need no network and stay).
    if (typeof addEventListener === 'function' && target.hostname !== 'localhost') {
      this.#onOffline = () => (this.#engine === 'opening' ? this.#abort(new Error('network connection lost')) : this.#close('transport close'));
      addEventListener('offline', this.#onOffline);
    }
    this.#ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (event) => this.#onFrame(event.data);
    ws.onerror = () => this.#onTransportError(new Error('websocket error'));
    ws.onclose = () => (this.#engine === 'opening' ? this.#abort(new Error('websocket closed before the handshake')) : this.#close('transport close'));
  }

  /** Adds a listener for a relay event or a reserved one (`connect`, `connect_error`, `disconnect`). */
  on<E extends keyof (Listen & ReservedEvents) & string>(event: E, listener: (Listen & ReservedEvents)[E]): void {
    const listeners = this.#listeners.get(event);
    if (listeners) listeners.push(listener as Listener);
    else this.#listeners.set(event, [listener as Listener]);
  }

  /** Removes every listener. */
  off(): void {
    this.#listeners.clear();
  }

  /** Sends an event; a function as the last argument gets the relay's ack (not called if the socket closes first). */
  emit<E extends keyof Emit & string>(event: E, ...args: Args<Emit[E]>): void {
    const list = [...args] as unknown[];
    const ack = typeof list.at(-1) === 'function' ? (list.pop() as Ack) : undefined;
    this.#send(event, list, ack);
  }

  /** Requests with an ack that reject after `ms` (or when the socket closes first). */
  timeout(ms: number): { emitWithAck<E extends keyof Emit & string>(event: E, request: Args<Emit[E]>[0]): Promise<AnswerOf<Emit[E]>> } {
    return {
      emitWithAck: (event, request) =>
        new Promise((resolve, reject) => {
          const ack: Ack = (error, answer) => (error ? reject(error) : resolve(answer as never));
          ack.withError = true;
          this.#send(event, [request], ack, ms);
        }),
    };
  }

  /** Leaves the relay (a DISCONNECT when connected) and closes the WebSocket. */
  disconnect(): void {
    const wasConnected = this.#connected;
    if (wasConnected) this.#write(MESSAGE + DISCONNECT + this.#nspPrefix());
    this.#shutDown();
    if (wasConnected) this.#onDisconnect('io client disconnect');
  }

  #nspPrefix(): string {
    return this.#nsp === '/' ? '' : `${this.#nsp},`;
  }

  #send(event: string, args: unknown[], ack?: Ack, timeoutMs?: number): void {
    let id: number | undefined;
    if (ack) {
      id = this.#nextAckId++;
      this.#registerAck(id, ack, timeoutMs);
    }
    const frame = MESSAGE + EVENT + this.#nspPrefix() + (id ?? '') + JSON.stringify([event, ...args]);
    if (this.#connected && !this.#pingExpired()) this.#write(frame);
    else this.#sendBuffer.push({ frame, id });
  }

  #registerAck(id: number, ack: Ack, timeoutMs: number | undefined): void {
    if (timeoutMs === undefined) {
      this.#acks.set(id, ack);
      return;
    }
    const timer = this.#clock.setTimeout(() => {
      this.#acks.delete(id);
      this.#sendBuffer = this.#sendBuffer.filter((packet) => packet.id !== id);
      ack(new Error('operation has timed out'));
    }, timeoutMs);
    const withTimeout: Ack = (...args) => {
      this.#clock.clearTimeout(timer);
      ack(...args);
    };
    withTimeout.withError = true;
    this.#acks.set(id, withTimeout);
  }

  #write(frame: string): void {
    if (this.#engine === 'open') this.#ws?.send(frame);
  }

  #emit(event: string, ...args: unknown[]): void {
    const listeners = this.#listeners.get(event);
    if (listeners) for (const listener of [...listeners]) listener(...args);
  }

  #onFrame(data: unknown): void {
    if (typeof data !== 'string') return this.#onBroken(); // the relay's protocol is text only
    if (data[0] === OPEN) return this.#onOpen(data.slice(1));
    if (this.#engine !== 'open') return; // nothing counts before the handshake
    switch (data[0]) {
      case PING:
        this.#write(PONG);
        return this.#resetPing();
      case MESSAGE:
        return this.#onPacket(data.slice(1));
      case CLOSE:
        return this.#close('transport close');
    }
  }

  #onOpen(json: string): void {
    if (this.#engine !== 'opening') return;
    let handshake: unknown;
    try {
      handshake = JSON.parse(json);
    } catch {
      return this.#onBroken();
    }
    const { pingInterval, pingTimeout } = (handshake ?? {}) as { pingInterval?: unknown; pingTimeout?: unknown };
    // `0null`, `0[]`, a missing or absurd heartbeat: not an Engine.IO server we can keep alive.
    if (typeof handshake !== 'object' || handshake === null || !validHeartbeat(pingInterval) || !validHeartbeat(pingTimeout)) return this.#onBroken();
    this.#engine = 'open';
    this.#pingInterval = pingInterval;
    this.#pingTimeout = pingTimeout;
    this.#resetPing();
    this.#write(MESSAGE + CONNECT + this.#nspPrefix() + JSON.stringify(this.#auth));
  }

  #resetPing(): void {
    this.#clock.clearTimeout(this.#pingTimer);
    const delay = this.#pingInterval + this.#pingTimeout;
    this.#pingDeadline = this.#clock.now() + delay;
    this.#pingTimer = this.#clock.setTimeout(() => this.#close('ping timeout'), delay);
  }

  /** Whether the relay has been silent too long although the timer has not fired yet (a throttled or suspended page). */
  #pingExpired(): boolean {
    if (this.#clock.now() <= this.#pingDeadline) return false;
    queueMicrotask(() => this.#close('ping timeout'));
    return true;
  }

  #onPacket(text: string): void {
    const packet = decodePacket(text);
    if (!packet) return this.#onBroken();
    if (packet.nsp !== this.#nsp) return;
    switch (packet.type) {
      case CONNECT: {
        const sid = (packet.data as { sid?: unknown } | undefined)?.sid;
        if (!sid) return this.#abortOpen(new Error('CONNECT answer without sid (not Socket.IO v3+?)'));
        if (this.#connected) return;
        this.#connected = true;
        this.#clock.clearTimeout(this.#connectTimer);
        for (const args of this.#receiveBuffer) this.#emit(...(args as [string, ...unknown[]]));
        this.#receiveBuffer = [];
        for (const { frame } of this.#sendBuffer) this.#write(frame);
        this.#sendBuffer = [];
        return this.#emit('connect');
      }
      case EVENT: {
        const args = packet.data as unknown[];
        if (packet.id !== undefined) args.push(this.#answer(packet.id));
        if (this.#connected) this.#emit(...(args as [string, ...unknown[]]));
        else this.#receiveBuffer.push(args);
        return;
      }
      case ACK: {
        const ack = packet.id === undefined ? undefined : this.#acks.get(packet.id);
        if (!ack) return;
        this.#acks.delete(packet.id!);
        const args = packet.data as unknown[];
        return ack.withError ? ack(null, ...args) : ack(...args);
      }
      case DISCONNECT:
        return this.#close('io server disconnect');
      case CONNECT_ERROR: {
        const refusal = packet.data as string | { message?: unknown; data?: unknown };
        const error: Error & { data?: unknown } = new Error(typeof refusal === 'string' ? refusal : String(refusal.message ?? ''));
        if (typeof refusal === 'object') error.data = refusal.data;
        return this.#abortOpen(error);
      }
    }
  }

  /** The ack the relay asked for with an event (sent once). */
  #answer(id: number): (...args: unknown[]) => void {
    let sent = false;
    return (...args) => {
      if (sent) return;
      sent = true;
      this.#write(MESSAGE + ACK + this.#nspPrefix() + id + JSON.stringify(args));
    };
  }

  /** A frame or packet that does not parse. */
  #onBroken(): void {
    if (this.#engine === 'opening') this.#abort(new Error('parse error'));
    else this.#close('parse error');
  }

  #onTransportError(error: Error): void {
    if (this.#engine === 'opening') return this.#abort(error);
    if (!this.#connected) this.#emit('connect_error', error);
    this.#close('transport error');
  }

  /** The opening failed (Engine.IO handshake, or the CONNECT unanswered in time): `connect_error`, no `disconnect`. */
  #abort(error: Error): void {
    if (this.#engine === 'opening' || (this.#engine === 'open' && !this.#connected)) this.#abortOpen(error);
  }

  #abortOpen(error: Error): void {
    if (this.#engine === 'closed' || this.#connected) return;
    this.#shutDown();
    this.#emit('connect_error', error);
  }

  /** The open engine closed: `disconnect` with the reason, even when the relay had not accepted the CONNECT yet. */
  #close(reason: DisconnectReason): void {
    if (this.#engine !== 'open') return;
    this.#shutDown();
    this.#onDisconnect(reason);
  }

  #onDisconnect(reason: DisconnectReason): void {
    this.#connected = false;
    this.#emit('disconnect', reason);
    // This socket never reconnects (the connection opens a new one), so every waiting request
    // fails now — also one held back because the heartbeat had lapsed (a laptop waking up), which
    // would otherwise wait out its whole timeout.
    this.#sendBuffer = [];
    for (const [id, ack] of this.#acks) {
      this.#acks.delete(id);
      if (ack.withError) ack(new Error('socket has been disconnected'));
    }
  }

  /** Stops timers and listeners and closes the WebSocket; idempotent. */
  #shutDown(): void {
    if (this.#engine === 'closed') return;
    this.#engine = 'closed';
    this.#clock.clearTimeout(this.#connectTimer);
    this.#clock.clearTimeout(this.#pingTimer);
    if (this.#onOffline) removeEventListener('offline', this.#onOffline);
    const ws = this.#ws;
    if (!ws) return;
    ws.onmessage = null;
    ws.onclose = null;
    // `ws` (Node) throws an `error` nobody listens to, e.g. when closed before the upgrade finished.
    ws.onerror = noop;
    ws.close();
  }
}

/** A heartbeat period in ms that a timer can hold. */
function validHeartbeat(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= 2 ** 30;
}

/** Relay URLs as socket.io-client reads them: `//host` and `/path` against the page, `host` alone as https (or the page's scheme). */
function absoluteUrl(uri: string): URL {
  const page = typeof location === 'undefined' ? undefined : location;
  if (!uri.startsWith('/') && !/^(https?|wss?):\/\//.test(uri)) uri = `${page?.protocol ?? 'https:'}//${uri}`;
  return new URL(uri, page?.href);
}

interface Packet {
  type: number;
  nsp: string;
  id: number | undefined;
  data: unknown;
}

/** Decodes a Socket.IO text packet (`<type>[<nsp>,][<ack id>][<JSON>]`); undefined when it is malformed. */
export function decodePacket(text: string): Packet | undefined {
  const type = Number(text[0]);
  let at = 1;
  let nsp = '/';
  if (text[at] === '/') {
    const comma = text.indexOf(',', at);
    const end = comma === -1 ? text.length : comma;
    nsp = text.slice(at, end);
    at = end + 1;
  }
  const idStart = at;
  while (at < text.length && text[at]! >= '0' && text[at]! <= '9') at++;
  const id = at > idStart ? Number(text.slice(idStart, at)) : undefined;
  let data: unknown;
  if (at < text.length) {
    try {
      data = JSON.parse(text.slice(at));
    } catch {
      return undefined;
    }
  }
  const isObject = typeof data === 'object' && data !== null;
  const valid =
    type === CONNECT ? isObject
    : type === DISCONNECT ? data === undefined
    : type === CONNECT_ERROR ? isObject || typeof data === 'string'
    : type === EVENT ? Array.isArray(data) && (typeof data[0] === 'number' || (typeof data[0] === 'string' && !RESERVED.has(data[0])))
    : type === ACK ? Array.isArray(data)
    : false; // binary packets (5, 6) and anything else: the relay sends text only
  return valid ? { type, nsp, id, data } : undefined;
}
