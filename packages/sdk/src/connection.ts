import { PROTOCOL_VERSION, type ClientToServerEvents, type ServerToClientEvents } from '@partyline/protocol';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
import { Emitter } from './events.js';
import type { OnlineManager } from './online-manager.js';
import { retryDelayFor, type RetryDelay } from './retry-policy.js';
import { createSocket, type SocketClient } from './socket-client.js';

export type PartylineSocket = SocketClient<ServerToClientEvents, ClientToServerEvents>;

/** `connecting`: trying to reach a relay (or waiting to retry); `online`: connected; `offline`: the device is offline or the client closed. */
export type ConnectionState = 'connecting' | 'online' | 'offline';

/** Where the access token comes from: a fixed string, or an async function asked again whenever the token expired. */
export type TokenSource = string | (() => Promise<string>);

export interface ConnectionEvents {
  state: { state: ConnectionState; previous: ConnectionState };
  connect: { socket: PartylineSocket; relay: string };
  disconnect: { relay: string; reason: string };
  error: { error: PartylineError };
}

export interface ConnectionOptions {
  relays: readonly string[];
  token: TokenSource;
  retryDelay: RetryDelay;
  onlineManager: OnlineManager;
  connectTimeoutMs: number;
}

/**
 * One Socket.IO connection (WebSocket only, see socket-client.ts) to one relay at a time. The socket
 * does not reconnect by itself: after a connect error or a drop the next attempt goes to the next
 * relay in the list (failover), after a backoff delay, with a fresh token when the last one expired.
 */
export class Connection extends Emitter<ConnectionEvents> {
  readonly #options: ConnectionOptions;
  #state: ConnectionState = 'offline';
  #socket: PartylineSocket | undefined;
  #connected = false;
  #relayIndex = 0;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #token: string | undefined;
  #identity: string | undefined;
  #closed = false;
  #unsubscribeOnline: (() => void) | undefined;

  constructor(options: ConnectionOptions) {
    super();
    this.#options = options;
    if (typeof options.token === 'string') this.#useToken(options.token);
  }

  /** The `sub` of the latest token (kept after it expires): whom this client speaks for. */
  get identity(): string | undefined {
    return this.#identity;
  }

  #useToken(token: string): string {
    this.#token = token;
    this.#identity = tokenSubject(token) ?? this.#identity;
    return token;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The connected socket, if any. */
  get socket(): PartylineSocket | undefined {
    return this.#connected ? this.#socket : undefined;
  }

  start(): void {
    this.#unsubscribeOnline = this.#options.onlineManager.subscribe((online) => {
      if (online) this.reconnectNow();
      else this.#dropSocket('offline');
    });
    this.#connect();
  }

  /** Skips any backoff wait and connects now (the browser came back online, a token was refreshed). */
  reconnectNow(): void {
    if (this.#closed) return;
    this.#attempt = 0;
    if (this.#socket) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#connect();
  }

  /** Forgets the current token (it expired) and reconnects with a new one. */
  refreshToken(): void {
    if (typeof this.#options.token === 'function') this.#token = undefined;
    if (this.#socket) this.#dropSocket('token refresh');
    this.reconnectNow();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#drainTimer);
    this.#timer = undefined;
    this.#unsubscribeOnline?.();
    this.#dropSocket('client closed');
    this.#setState('offline');
    this.clear();
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    const previous = this.#state;
    this.#state = state;
    this.emit('state', { state, previous });
  }

  async #connect(): Promise<void> {
    if (this.#closed || this.#socket || this.#timer) return;
    if (!this.#options.onlineManager.isOnline()) return this.#setState('offline');
    this.#setState('connecting');
    const relays = this.#options.relays;
    const relay = relays[this.#relayIndex % relays.length]!;

    // A placeholder socket slot keeps concurrent calls out while the token is fetched.
    const pending = {} as PartylineSocket;
    this.#socket = pending;
    let token: string;
    try {
      token = this.#token ?? this.#useToken(await (this.#options.token as () => Promise<string>)());
    } catch (error) {
      if (this.#socket === pending) this.#socket = undefined;
      this.emit('error', { error: toPartylineError(error) });
      return this.#retry();
    }
    if (this.#socket !== pending || this.#closed) return;

    const socket: PartylineSocket = createSocket(relay, {
      timeout: this.#options.connectTimeoutMs,
      auth: { token, protocol: PROTOCOL_VERSION },
    });
    this.#socket = socket;
    socket.on('connect', () => {
      this.#connected = true;
      this.#attempt = 0;
      this.#setState('online');
      this.emit('connect', { socket, relay });
    });
    socket.on('connect_error', (raw) => {
      if (this.#socket !== socket) return;
      const error = toPartylineError(raw);
      const failure = error.kind === PartylineErrorKind.Internal && !(raw as { data?: unknown }).data
        ? new PartylineError(PartylineErrorKind.ConnectFailed, `cannot reach ${relay}: ${raw.message}`, { cause: raw })
        : error;
      this.#discard(socket);
      if (failure.kind === PartylineErrorKind.TokenExpired && typeof this.#options.token === 'function') this.#token = undefined;
      // A relay that answers rate_limited is up and said when to come back: going to the next relay
      // would spend the wait on one that may be down (a storm after a relay died) and grow the backoff.
      else if (failure.kind !== PartylineErrorKind.RateLimited) this.#relayIndex++;
      this.emit('error', { error: failure });
      this.#retry(failure.retryAfterMs);
    });
    socket.on('relay:drain', ({ reconnectAfterMs }) => {
      // The relay is shutting down: leave for the next relay after the delay it picked (its clients
      // are spread out so they do not all land on the next relay at once).
      if (this.#socket !== socket) return;
      this.#relayIndex++;
      clearTimeout(this.#drainTimer);
      this.#drainTimer = setTimeout(() => {
        this.#drainTimer = undefined;
        if (this.#socket === socket) this.#dropSocket('relay draining');
      }, reconnectAfterMs);
    });
    socket.on('relay:error', (error) => {
      if (error.kind === PartylineErrorKind.TokenExpired && typeof this.#options.token === 'function') this.#token = undefined;
    });
    socket.on('disconnect', (reason) => {
      if (this.#socket !== socket) return;
      this.#discard(socket);
      this.emit('disconnect', { relay, reason });
      // Any relay serves any room: try the next one rather than insisting on this one.
      if (reason !== 'io server disconnect') this.#relayIndex++;
      this.#retry();
    });
  }

  #retry(retryAfterMs?: number): void {
    if (this.#closed || this.#timer) return;
    if (!this.#options.onlineManager.isOnline()) return this.#setState('offline');
    this.#setState('connecting');
    const delay = retryDelayFor(this.#options.retryDelay, ++this.#attempt, retryAfterMs);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#connect();
    }, delay);
  }

  #discard(socket: PartylineSocket): void {
    if (this.#socket === socket) {
      this.#socket = undefined;
      this.#connected = false;
    }
    socket.off();
    socket.disconnect();
  }

  #dropSocket(reason: string): void {
    const socket = this.#socket;
    if (!socket) {
      if (reason === 'offline') this.#setState('offline');
      return;
    }
    const relay = this.#options.relays[this.#relayIndex % this.#options.relays.length]!;
    const wasConnected = this.#connected;
    if (typeof socket.off === 'function') this.#discard(socket);
    else this.#socket = undefined; // a placeholder while a token is being fetched
    if (wasConnected) this.emit('disconnect', { relay, reason });
    if (reason === 'offline') this.#setState('offline');
    else if (!this.#closed) this.#retry();
  }
}

/** The `sub` claim of a JWT, read without verifying it (the relay verifies; this only names the owner of queued messages). */
export function tokenSubject(token: string): string | undefined {
  try {
    const payload = token.split('.')[1];
    if (!payload) return undefined;
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}
