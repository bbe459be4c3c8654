import { PROTOCOL_VERSION, ServerEvent } from '@partyline/protocol';
import {
  connectionTransition,
  initialConnectionState,
  isTokenRefusal,
  publicState,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionMachineConfig,
  type ConnectionMachineState,
} from './connection-machine.js';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
import { Emitter } from './events.js';
import { MachineRunner } from './machine-runner.js';
import type { OnlineManager } from './online-manager.js';
import type { Scheduler } from './scheduler.js';
import type { Transport, TransportFactory } from './transport.js';

/** `connecting`: trying to reach a relay (or waiting to retry); `online`: connected; `offline`: the device is offline or the client closed. */
export type ConnectionState = 'connecting' | 'online' | 'offline';

/** Where the access token comes from: a fixed string, or an async function asked again whenever a relay refused the last token. */
export type TokenSource = string | (() => Promise<string>);

export interface ConnectionEvents {
  /** `reason`: why it is not online (the last failure), while connecting. */
  state: { state: ConnectionState; previous: ConnectionState; reason?: PartylineError };
  connect: { transport: Transport; relay: string };
  disconnect: { relay: string; reason: string };
  /** A relay event on the open transport, undecoded. */
  event: { event: ServerEvent; payload: unknown };
  error: { error: PartylineError };
}

export interface ConnectionOptions {
  relays: readonly string[];
  token: TokenSource;
  scheduler: Scheduler;
  onlineManager: OnlineManager;
  connectTimeoutMs: number;
  transport: TransportFactory;
}

const SLOT = 'connection';

/**
 * The IO shell of the connection machine (connection-machine.ts): one transport to one relay at a
 * time, opened, closed and timed as the machine commands; token function calls; the online
 * manager. Nothing here decides anything.
 */
export class Connection extends Emitter<ConnectionEvents> {
  readonly #options: ConnectionOptions;
  readonly #runner: MachineRunner<ConnectionMachineState, ConnectionEvent, ConnectionCommand>;
  #state: ConnectionState = 'offline';
  /** The transport of the current attempt or connection, with its ticket. */
  #transport: { ticket: number; transport: Transport } | undefined;
  #identity: string | undefined;
  /** The last failure told with a `state` event (a new one is told even when the state stays `connecting`). */
  #lastReported: PartylineError | undefined;
  #unsubscribeOnline: (() => void) | undefined;

  constructor(options: ConnectionOptions) {
    super();
    this.#options = options;
    const fixed = typeof options.token === 'string' ? options.token : undefined;
    if (fixed !== undefined) this.#identity = tokenSubject(fixed);
    const { scheduler } = options;
    const config: ConnectionMachineConfig = {
      relayCount: options.relays.length,
      tokenIsFunction: typeof options.token === 'function',
      connectTimeoutMs: options.connectTimeoutMs,
      now: () => scheduler.clock.now(),
      backoff: (attempt, retryAfterMs) => scheduler.backoff(attempt, retryAfterMs),
    };
    this.#runner = new MachineRunner('connection', initialConnectionState(fixed), (state, event) => connectionTransition(state, event, config), (command) => this.#run(command), scheduler);
  }

  get #machine(): ConnectionMachineState {
    return this.#runner.state;
  }

  /** The `sub` of the latest token (kept after it expires): whom this client speaks for. */
  get identity(): string | undefined {
    return this.#identity;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Why the client is not online, while it is connecting (a refused token, an unreachable relay, a lost connection): the `reason` of the last `state` event. */
  get reason(): PartylineError | undefined {
    return this.#lastReported;
  }

  /** When the next attempt is due, while waiting to retry. */
  get retryAt(): number | undefined {
    return this.#machine.phase.kind === 'waiting' ? this.#machine.phase.retryAt : undefined;
  }

  /** The machine's state (devtools, the simulator). */
  get machine(): Readonly<ConnectionMachineState> {
    return this.#machine;
  }

  /** The open transport, if connected. */
  get transport(): Transport | undefined {
    return this.#machine.phase.kind === 'online' ? this.#transport?.transport : undefined;
  }

  /** The relay connected to now. */
  get relay(): string | undefined {
    return this.#machine.phase.kind === 'online' ? this.#relayUrl(this.#machine.relay) : undefined;
  }

  start(): void {
    this.#unsubscribeOnline = this.#options.onlineManager.subscribe((online) => this.#dispatch({ type: online ? 'online' : 'offline' }));
    this.#dispatch({ type: 'start', online: this.#options.onlineManager.isOnline() });
  }

  /** Skips a backoff wait and connects now. */
  reconnectNow(): void {
    this.#dispatch({ type: 'reconnect' });
  }

  /**
   * A relay refused the token on `transport` (`token_expired`, `unauthorized`): drop it, ask the token
   * function again and reconnect. Ignored for a transport that is no longer the current one.
   */
  tokenRefused(transport: Transport | undefined, error: PartylineError): void {
    const current = this.#transport;
    if (!current || current.transport !== transport) return;
    this.#dispatch({ type: 'token_refused', ticket: current.ticket, error });
  }

  close(): void {
    this.#dispatch({ type: 'close' });
    this.#unsubscribeOnline?.();
    this.clear();
  }

  #relayUrl(index: number): string {
    const relays = this.#options.relays;
    return relays[index % relays.length]!;
  }

  #dispatch(event: ConnectionEvent): void {
    this.#runner.dispatch(event);
  }

  #run(command: ConnectionCommand): void {
    const { scheduler } = this.#options;
    switch (command.type) {
      case 'set_timer':
        return scheduler.schedule(SLOT, command.delayMs, () => this.#dispatch({ type: 'timer' }), 'replace');
      case 'clear_timer':
        return scheduler.cancel(SLOT);
      case 'ask_token':
        return this.#askToken(command.ticket);
      case 'open':
        return this.#open(command.ticket, this.#relayUrl(command.relay), command.token);
      case 'close_transport': {
        const current = this.#transport;
        if (current?.ticket !== command.ticket) return;
        this.#transport = undefined;
        current.transport.close();
        return;
      }
      case 'connected': {
        const transport = this.#transport;
        if (transport?.ticket === command.ticket) this.emit('connect', { transport: transport.transport, relay: this.#relayUrl(command.relay) });
        return;
      }
      case 'disconnected':
        return this.emit('disconnect', { relay: this.#relayUrl(command.relay), reason: command.reason });
      case 'error':
        return this.emit('error', { error: command.error });
      case 'state': {
        const next = publicState(this.#machine.phase);
        const previous = this.#state;
        if (next === previous && next !== 'connecting') return;
        const reason = next === 'connecting' ? this.#machine.lastError : undefined;
        if (next === previous && reason === this.#lastReported) return;
        this.#state = next;
        this.#lastReported = reason;
        this.emit('state', { state: next, previous, ...(reason ? { reason } : {}) });
        return;
      }
    }
  }

  #askToken(ticket: number): void {
    const source = this.#options.token as () => Promise<string>;
    let answer: Promise<string>;
    try {
      answer = Promise.resolve(source());
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (token) => {
        if (typeof token === 'string') this.#identity = tokenSubject(token) ?? this.#identity;
        this.#dispatch({ type: 'token', ticket, token });
      },
      (error: unknown) => this.#dispatch({ type: 'token_failed', ticket, error }),
    );
  }

  #open(ticket: number, relay: string, token: string): void {
    const live = () => this.#transport?.ticket === ticket;
    const transport = this.#options.transport(
      relay,
      { auth: { token, protocol: PROTOCOL_VERSION }, connectTimeoutMs: this.#options.connectTimeoutMs, clock: this.#options.scheduler.clock },
      {
        onOpen: () => {
          if (live()) this.#dispatch({ type: 'opened', ticket });
        },
        onConnectError: (raw) => {
          if (!live()) return;
          const error = toPartylineError(raw);
          // No relay error attached: the relay was not reached at all.
          const failure = error.kind === PartylineErrorKind.Internal && !raw.data ? new PartylineError(PartylineErrorKind.ConnectFailed, `cannot reach ${relay}: ${raw.message}`, { cause: raw }) : error;
          this.#dispatch({ type: 'connect_error', ticket, error: failure });
        },
        onClose: (reason) => {
          if (!live()) return;
          this.#transport = undefined;
          this.#dispatch({ type: 'transport_closed', ticket, reason });
        },
        onEvent: (event, payload) => {
          if (!live()) return;
          if (event === ServerEvent.Drain) {
            const after = (payload as { reconnectAfterMs?: unknown } | undefined)?.reconnectAfterMs;
            return this.#dispatch({ type: 'drain', ticket, reconnectAfterMs: typeof after === 'number' && Number.isFinite(after) ? after : 0 });
          }
          if (event === ServerEvent.Error) {
            const error = toPartylineError(payload);
            if (isTokenRefusal(error)) return this.#dispatch({ type: 'token_refused', ticket, error });
            return;
          }
          this.emit('event', { event, payload });
        },
      },
    );
    this.#transport = { ticket, transport };
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
