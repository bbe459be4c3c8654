import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';

/**
 * The connection's decisions, sans IO: which relay, when, with which token, and what the app is told.
 *
 * ```
 *            start/online                token ok               relay accepts
 *  offline ───────────────► token ─────────────────► opening ─────────────────► online
 *     ▲                      │  junk/throw/hang         │  refused/unreachable/     │ closed, ping timeout,
 *     │ offline (any state)  ▼                          ▼  CONNECT timeout          │ drain, token refused
 *     └──────────────────  waiting ◄────────────────────┴───────────────────────────┘
 *                     (backoff; retryAfterMs wins)         closed: from any state, for good
 * ```
 *
 * Every state carries its own data; `transition` takes one event and answers the next state and
 * the commands the shell runs (open a transport, ask the token function, set the one timer, tell
 * the app). Stale events — a token answer, a transport callback or a timer of an earlier attempt —
 * carry the attempt's `ticket` and are ignored when it is not the current one.
 */
export type ConnectionPhase =
  | { kind: 'idle' }
  | { kind: 'offline' }
  | { kind: 'token'; ticket: number }
  | { kind: 'opening'; ticket: number; token: string }
  | { kind: 'online'; ticket: number; token: string; draining: boolean }
  | { kind: 'waiting'; reason: PartylineError; retryAt: number }
  | { kind: 'closed' };

/** Every phase kind, for coverage counts (the simulator counts the (phase, event) pairs it drove). */
export const CONNECTION_PHASES = ['idle', 'offline', 'token', 'opening', 'online', 'waiting', 'closed'] as const satisfies readonly ConnectionPhase['kind'][];

export interface ConnectionMachineState {
  phase: ConnectionPhase;
  /** Index into the relay list of the relay to try next, or connected to now. */
  relay: number;
  /** Failed attempts in a row (the backoff's exponent); 0 after a connection came up or the device came online. */
  attempt: number;
  /** The token to use next; undefined when the token function must be asked. */
  token: string | undefined;
  /** Why the last attempt failed, while no connection is up (the app shows it). */
  lastError: PartylineError | undefined;
  /** Source of tickets. */
  tickets: number;
}

export type ConnectionEvent =
  | { type: 'start'; online: boolean }
  | { type: 'online' }
  | { type: 'offline' }
  | { type: 'close' }
  /** Connect now, skipping a backoff wait (`client.flush()`, a refreshed token). */
  | { type: 'reconnect' }
  | { type: 'token'; ticket: number; token: unknown }
  | { type: 'token_failed'; ticket: number; error: unknown }
  | { type: 'opened'; ticket: number }
  | { type: 'connect_error'; ticket: number; error: PartylineError }
  | { type: 'transport_closed'; ticket: number; reason: string }
  | { type: 'drain'; ticket: number; reconnectAfterMs: number }
  /** The one timer fired: a backoff ended, an opening or token request took too long, a drain's delay passed. */
  | { type: 'timer' }
  /** A relay refused the token on an open connection (a request answered `token_expired` or `unauthorized`). */
  | { type: 'token_refused'; ticket: number; error: PartylineError };

/** Every event type (see {@link CONNECTION_PHASES}). */
export const CONNECTION_EVENTS = [
  'start',
  'online',
  'offline',
  'close',
  'reconnect',
  'token',
  'token_failed',
  'opened',
  'connect_error',
  'transport_closed',
  'drain',
  'timer',
  'token_refused',
] as const satisfies readonly ConnectionEvent['type'][];

export type ConnectionCommand =
  | { type: 'ask_token'; ticket: number }
  | { type: 'open'; ticket: number; relay: number; token: string }
  | { type: 'close_transport'; ticket: number }
  | { type: 'set_timer'; delayMs: number }
  | { type: 'clear_timer' }
  | { type: 'connected'; ticket: number; relay: number }
  | { type: 'disconnected'; ticket: number; relay: number; reason: string }
  | { type: 'error'; error: PartylineError }
  /** The public state may have changed: the shell compares and emits. */
  | { type: 'state' };

export interface ConnectionMachineConfig {
  relayCount: number;
  /** The token is a function (asked again when refused) rather than a fixed string. */
  tokenIsFunction: boolean;
  /** How long an opening or a token request may take. */
  connectTimeoutMs: number;
  now(): number;
  /** The client's backoff for retry number `attempt`, at least `retryAfterMs`. */
  backoff(attempt: number, retryAfterMs?: number): number;
}

export function initialConnectionState(token: string | undefined): ConnectionMachineState {
  return { phase: { kind: 'idle' }, relay: 0, attempt: 0, token, lastError: undefined, tickets: 0 };
}

type Result = { state: ConnectionMachineState; commands: ConnectionCommand[] };

/** One transition: the state after `event`, and what to do. Never throws, never does IO. */
export function connectionTransition(state: ConnectionMachineState, event: ConnectionEvent, config: ConnectionMachineConfig): Result {
  const phase = state.phase;
  if (phase.kind === 'closed') return { state, commands: [] };
  switch (event.type) {
    case 'close':
      return { state: { ...state, phase: { kind: 'closed' } }, commands: [...leave(state, 'client closed'), { type: 'clear_timer' }, { type: 'state' }] };
    case 'start':
      if (phase.kind !== 'idle') return same(state);
      return event.online ? begin({ ...state, attempt: 0 }, config) : toOffline(state);
    case 'offline':
      if (phase.kind === 'idle') return same(state);
      return toOffline(state);
    case 'online':
      if (phase.kind !== 'offline' && phase.kind !== 'waiting') return same(state);
      return begin({ ...state, attempt: 0 }, config);
    case 'reconnect':
      if (phase.kind !== 'waiting') return same(state);
      return begin({ ...state, attempt: 0 }, config);
    case 'timer':
      switch (phase.kind) {
        case 'waiting':
          return begin(state, config);
        case 'token':
          return fail(state, new PartylineError(PartylineErrorKind.Unauthorized, `the token function did not answer within ${config.connectTimeoutMs} ms`, { retryable: true }), config, { dropToken: false });
        case 'opening':
          return fail(state, new PartylineError(PartylineErrorKind.ConnectFailed, `the relay did not answer within ${config.connectTimeoutMs} ms`), config, { nextRelay: true });
        case 'online':
          // A drain's delay passed: leave for the next relay (already chosen when the drain came).
          return phase.draining ? reconnectAfterLoss(state, 'relay draining', config) : same(state);
        default:
          return same(state);
      }
    case 'token': {
      if (phase.kind !== 'token' || phase.ticket !== event.ticket) return same(state);
      const checked = checkToken(event.token);
      if (checked instanceof PartylineError) return fail(state, checked, config, { dropToken: true });
      return open({ ...state, token: checked }, checked, config);
    }
    case 'token_failed':
      if (phase.kind !== 'token' || phase.ticket !== event.ticket) return same(state);
      return fail(state, tokenFunctionError(event.error), config, { dropToken: true });
    case 'opened':
      if (phase.kind !== 'opening' || phase.ticket !== event.ticket) return same(state);
      return {
        state: { ...state, attempt: 0, lastError: undefined, phase: { kind: 'online', ticket: phase.ticket, token: phase.token, draining: false } },
        commands: [{ type: 'clear_timer' }, { type: 'connected', ticket: phase.ticket, relay: state.relay }, { type: 'state' }],
      };
    case 'connect_error': {
      if (phase.kind !== 'opening' || phase.ticket !== event.ticket) return same(state);
      const error = event.error;
      const refused = isTokenRefusal(error);
      // A relay that answers rate_limited is up and said when to come back: the next relay may be
      // down (a storm after a relay died). A refused token is refused by every relay alike.
      const nextRelay = error.kind !== PartylineErrorKind.RateLimited && !refused;
      return fail(state, error, config, { nextRelay, dropToken: refused, closeTicket: phase.ticket });
    }
    case 'transport_closed': {
      if ((phase.kind !== 'online' && phase.kind !== 'opening') || phase.ticket !== event.ticket) return same(state);
      if (phase.kind === 'opening') {
        return fail(state, new PartylineError(PartylineErrorKind.ConnectFailed, `closed before the relay accepted it (${event.reason})`), config, { nextRelay: true });
      }
      // Any relay serves any room: after a loss try the next one, unless this one sent us away on
      // purpose (a drain already chose the next relay; a server disconnect means "come back").
      const nextRelay = !phase.draining && event.reason !== 'io server disconnect';
      return reconnectAfterLoss({ ...state, relay: nextRelay ? following(state, config) : state.relay }, event.reason, config);
    }
    case 'drain':
      if (phase.kind !== 'online' || phase.ticket !== event.ticket || phase.draining) return same(state);
      return {
        state: { ...state, relay: following(state, config), phase: { ...phase, draining: true } },
        commands: [{ type: 'set_timer', delayMs: Math.max(0, Math.min(event.reconnectAfterMs, 60_000)) }],
      };
    case 'token_refused': {
      if (phase.kind !== 'online' || phase.ticket !== event.ticket) return same(state);
      const dropped = { ...state, token: config.tokenIsFunction ? undefined : state.token };
      return reconnectAfterLoss(dropped, `token refused (${event.error.kind})`, config, event.error);
    }
  }
}

/** The relay after the current one, round the list. */
function following(state: ConnectionMachineState, config: ConnectionMachineConfig): number {
  return (state.relay + 1) % Math.max(1, config.relayCount);
}

function same(state: ConnectionMachineState): Result {
  return { state, commands: [] };
}

/** Leaves the current attempt or connection (no state change). */
function leave(state: ConnectionMachineState, reason: string): ConnectionCommand[] {
  const phase = state.phase;
  if (phase.kind === 'opening') return [{ type: 'close_transport', ticket: phase.ticket }];
  if (phase.kind === 'online') return [{ type: 'close_transport', ticket: phase.ticket }, { type: 'disconnected', ticket: phase.ticket, relay: state.relay, reason }];
  return [];
}

function toOffline(state: ConnectionMachineState): Result {
  if (state.phase.kind === 'offline') return same(state);
  return { state: { ...state, phase: { kind: 'offline' } }, commands: [...leave(state, 'offline'), { type: 'clear_timer' }, { type: 'state' }] };
}

/** Starts an attempt: ask for a token if none is held, else open a transport. */
function begin(state: ConnectionMachineState, config: ConnectionMachineConfig): Result {
  const ticket = state.tickets + 1;
  const next = { ...state, tickets: ticket };
  if (next.token === undefined) {
    return {
      state: { ...next, phase: { kind: 'token', ticket } },
      commands: [...leave(state, 'reconnecting'), { type: 'set_timer', delayMs: config.connectTimeoutMs }, { type: 'ask_token', ticket }, { type: 'state' }],
    };
  }
  return open(next, next.token, config);
}

function open(state: ConnectionMachineState, token: string, config: ConnectionMachineConfig): Result {
  const ticket = state.tickets + 1;
  return {
    state: { ...state, tickets: ticket, phase: { kind: 'opening', ticket, token } },
    commands: [
      ...leave(state, 'reconnecting'),
      // The machine's own deadline, whatever the transport does: an opening never hangs.
      { type: 'set_timer', delayMs: config.connectTimeoutMs + 1000 },
      { type: 'open', ticket, relay: state.relay, token },
      { type: 'state' },
    ],
  };
}

/** An attempt failed: tell the app, wait (backoff, at least what the relay asked), try again. */
function fail(
  state: ConnectionMachineState,
  error: PartylineError,
  config: ConnectionMachineConfig,
  options: { nextRelay?: boolean; dropToken?: boolean; closeTicket?: number },
): Result {
  const attempt = state.attempt + 1;
  const delay = config.backoff(attempt, error.retryAfterMs);
  const commands: ConnectionCommand[] = [];
  if (state.phase.kind === 'opening') commands.push({ type: 'close_transport', ticket: state.phase.ticket });
  commands.push({ type: 'error', error }, { type: 'set_timer', delayMs: delay }, { type: 'state' });
  return {
    state: {
      ...state,
      attempt,
      relay: options.nextRelay ? following(state, config) : state.relay,
      token: options.dropToken && config.tokenIsFunction ? undefined : state.token,
      lastError: error,
      phase: { kind: 'waiting', reason: error, retryAt: config.now() + delay },
    },
    commands,
  };
}

/** A connection that was up went away: reconnect after the backoff (quick: `attempt` was reset when it came up). */
function reconnectAfterLoss(state: ConnectionMachineState, reason: string, config: ConnectionMachineConfig, error?: PartylineError): Result {
  const attempt = state.attempt + 1;
  const delay = config.backoff(attempt, error?.retryAfterMs);
  const commands: ConnectionCommand[] = [...leave(state, reason)];
  if (error) commands.push({ type: 'error', error });
  commands.push({ type: 'set_timer', delayMs: delay }, { type: 'state' });
  const why = error ?? new PartylineError(PartylineErrorKind.Disconnected, `connection lost (${reason})`);
  return { state: { ...state, attempt, lastError: why, phase: { kind: 'waiting', reason: why, retryAt: config.now() + delay } }, commands };
}

/** A refusal that a new token can cure. */
export function isTokenRefusal(error: PartylineError): boolean {
  return error.kind === PartylineErrorKind.TokenExpired || error.kind === PartylineErrorKind.Unauthorized;
}

/**
 * What a token function answered, checked before it is sent anywhere: a JWT is three base64url
 * parts; an error page's text, an empty string or an object is not a token.
 */
export function checkToken(value: unknown): string | PartylineError {
  if (typeof value !== 'string') {
    return new PartylineError(PartylineErrorKind.Unauthorized, `the token function returned ${value === null ? 'null' : typeof value}, not a string`, { retryable: true });
  }
  const token = value.trim();
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
    // An error page's words, not its markup: "503 Service Unavailable" is what the app should see.
    const text = token.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
    const preview = text.length > 80 ? `${text.slice(0, 80)}…` : text;
    return new PartylineError(PartylineErrorKind.Unauthorized, `the token function returned something that is not a JWT (${JSON.stringify(preview)})`, { retryable: true });
  }
  return token;
}

function tokenFunctionError(raw: unknown): PartylineError {
  const cause = toPartylineError(raw);
  return new PartylineError(PartylineErrorKind.Unauthorized, `the token function failed: ${cause.message}`, { retryable: true, cause: raw });
}

/** The public state of a phase. */
export function publicState(phase: ConnectionPhase): 'connecting' | 'online' | 'offline' {
  switch (phase.kind) {
    case 'online':
      return 'online';
    case 'offline':
    case 'closed':
    case 'idle':
      return 'offline';
    default:
      return 'connecting';
  }
}
