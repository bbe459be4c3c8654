/**
 * The connection machine on its own (pure transitions, no IO, no time), then its shell (connection.ts)
 * on a fake clock with a fake transport: every phase × the events that matter, stale tickets, token
 * functions that answer junk, throw or hang, and close() from every phase leaving no timer.
 */
import { ServerEvent } from '@partyline/protocol';
import { describe, expect, it } from 'vitest';
import {
  CONNECTION_EVENTS,
  CONNECTION_PHASES,
  connectionTransition,
  initialConnectionState,
  type ConnectionCommand,
  type ConnectionEvent,
  type ConnectionMachineConfig,
  type ConnectionMachineState,
  type ConnectionPhase,
} from '../src/connection-machine.js';
import { Connection, type ConnectionEvents, type TokenSource } from '../src/connection.js';
import { PartylineError, PartylineErrorKind } from '../src/errors.js';
import { createManualOnlineManager } from '../src/online-manager.js';
import { createScheduler } from '../src/scheduler.js';
import type { TransportCallbacks, TransportFactory } from '../src/transport.js';
import { createFakeClock } from './support/fake-clock.js';

// The lists the simulator counts coverage with name every phase and every event (a compile error otherwise).
type MissingPhase = Exclude<ConnectionPhase['kind'], (typeof CONNECTION_PHASES)[number]>;
type MissingEvent = Exclude<ConnectionEvent['type'], (typeof CONNECTION_EVENTS)[number]>;
const complete: [MissingPhase | MissingEvent] extends [never] ? true : false = true;

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2ln';
const ERROR_PAGE = '<html><body><h1>503 Service Unavailable</h1></body></html>';
const CONNECT_TIMEOUT = 1000;

let now = 0;
const config = (overrides: Partial<ConnectionMachineConfig> = {}): ConnectionMachineConfig => ({
  relayCount: 2,
  tokenIsFunction: true,
  connectTimeoutMs: CONNECT_TIMEOUT,
  now: () => now,
  backoff: (attempt, retryAfterMs) => Math.max(100 * attempt, retryAfterMs ?? 0),
  ...overrides,
});

/** Runs events in order; answers the last state and every command. */
function run(state: ConnectionMachineState, events: ConnectionEvent[], cfg = config()): { state: ConnectionMachineState; commands: ConnectionCommand[] } {
  const commands: ConnectionCommand[] = [];
  for (const event of events) {
    const result = connectionTransition(state, event, cfg);
    state = result.state;
    commands.push(...result.commands);
  }
  return { state, commands };
}

const ticketOf = (state: ConnectionMachineState) => (state.phase as { ticket: number }).ticket;
const types = (commands: ConnectionCommand[]) => commands.map((command) => command.type);
const unauthorized = new PartylineError(PartylineErrorKind.Unauthorized, 'invalid token signature', { retryable: false });
const expired = new PartylineError(PartylineErrorKind.TokenExpired, 'token expired');

/** A state in `kind`, reached through real transitions (relay 0, a function token). */
function reach(kind: ConnectionPhase['kind'], cfg = config()): ConnectionMachineState {
  let state = initialConnectionState(cfg.tokenIsFunction ? undefined : JWT);
  if (kind === 'idle') return state;
  if (kind === 'offline') return run(state, [{ type: 'start', online: false }], cfg).state;
  state = run(state, [{ type: 'start', online: true }], cfg).state;
  if (kind === 'closed') return run(state, [{ type: 'close' }], cfg).state;
  if (cfg.tokenIsFunction) {
    if (kind === 'token') return state;
    if (kind === 'waiting') return run(state, [{ type: 'token', ticket: ticketOf(state), token: ERROR_PAGE }], cfg).state;
    state = run(state, [{ type: 'token', ticket: ticketOf(state), token: JWT }], cfg).state;
  } else if (kind === 'waiting') {
    return run(state, [{ type: 'connect_error', ticket: ticketOf(state), error: unauthorized }], cfg).state;
  }
  if (kind === 'opening') return state;
  return run(state, [{ type: 'opened', ticket: ticketOf(state) }], cfg).state;
}

describe('connection machine: the way up', () => {
  it('asks the token function, opens a transport with its token, and is online when the relay accepts', () => {
    expect(complete).toBe(true);
    let { state, commands } = run(initialConnectionState(undefined), [{ type: 'start', online: true }]);
    expect(state.phase.kind).toBe('token');
    expect(commands).toContainEqual({ type: 'set_timer', delayMs: CONNECT_TIMEOUT });
    expect(commands).toContainEqual({ type: 'ask_token', ticket: ticketOf(state) });
    ({ state, commands } = run(state, [{ type: 'token', ticket: ticketOf(state), token: ` ${JWT}\n` }]));
    expect(state.phase).toMatchObject({ kind: 'opening', token: JWT });
    expect(commands).toContainEqual({ type: 'open', ticket: ticketOf(state), relay: 0, token: JWT });
    ({ state, commands } = run(state, [{ type: 'opened', ticket: ticketOf(state) }]));
    expect(state).toMatchObject({ phase: { kind: 'online', draining: false }, attempt: 0, lastError: undefined });
    expect(types(commands)).toEqual(['clear_timer', 'connected', 'state']);
  });

  it('with a fixed token opens at once and keeps the token whatever the relay says', () => {
    const cfg = config({ tokenIsFunction: false });
    let state = run(initialConnectionState(JWT), [{ type: 'start', online: true }], cfg).state;
    expect(state.phase).toMatchObject({ kind: 'opening', token: JWT });
    state = run(state, [{ type: 'connect_error', ticket: ticketOf(state), error: unauthorized }], cfg).state;
    expect(state).toMatchObject({ phase: { kind: 'waiting', reason: unauthorized }, token: JWT, relay: 0 });
    const { state: again, commands } = run(state, [{ type: 'timer' }], cfg);
    expect(again.phase.kind).toBe('opening');
    expect(commands).toContainEqual({ type: 'open', ticket: ticketOf(again), relay: 0, token: JWT });
    expect(types(commands)).not.toContain('ask_token');
  });
});

describe('connection machine: tokens (issue 22 item 4)', () => {
  it('an error page instead of a token is an error, not a token: told, and the token function asked again after the backoff', () => {
    now = 5000;
    const asking = reach('token');
    const { state, commands } = run(asking, [{ type: 'token', ticket: ticketOf(asking), token: ERROR_PAGE }]);
    expect(types(commands)).not.toContain('open');
    expect(state).toMatchObject({ token: undefined, attempt: 1, phase: { kind: 'waiting', retryAt: 5100 } });
    const error = (commands.find((command) => command.type === 'error') as { error: PartylineError }).error;
    expect(error.kind).toBe(PartylineErrorKind.Unauthorized);
    expect(error.message).toMatch(/not a JWT.*503 Service Unavailable/);
    expect(state.lastError).toBe(error);
    const retry = run(state, [{ type: 'timer' }]);
    expect(retry.state.phase.kind).toBe('token');
    expect(retry.commands).toContainEqual({ type: 'ask_token', ticket: ticketOf(retry.state) });
  });

  it.each([
    ['an empty string', ''],
    ['null', null],
    ['an object', { token: JWT }],
    ['two parts', 'abc.def'],
  ])('%s from the token function is an error', (_name, token) => {
    const asking = reach('token');
    const { state } = run(asking, [{ type: 'token', ticket: ticketOf(asking), token }]);
    expect(state.phase).toMatchObject({ kind: 'waiting', reason: { kind: PartylineErrorKind.Unauthorized } });
  });

  it('a token function that throws: told with its message, asked again after the backoff', () => {
    const asking = reach('token');
    const { state, commands } = run(asking, [{ type: 'token_failed', ticket: ticketOf(asking), error: new TypeError('Failed to fetch') }]);
    expect(state.phase).toMatchObject({ kind: 'waiting', reason: { kind: PartylineErrorKind.Unauthorized, message: 'the token function failed: Failed to fetch' } });
    expect(types(commands)).toEqual(['error', 'set_timer', 'state']);
    expect(run(state, [{ type: 'timer' }]).state.phase.kind).toBe('token');
  });

  it('a token function that hangs: an error after connectTimeoutMs, asked again; its late answer is ignored', () => {
    const asking = reach('token');
    const first = ticketOf(asking);
    const timedOut = run(asking, [{ type: 'timer' }]).state;
    expect(timedOut.phase).toMatchObject({ kind: 'waiting', reason: { message: `the token function did not answer within ${CONNECT_TIMEOUT} ms` } });
    const askingAgain = run(timedOut, [{ type: 'timer' }]).state;
    expect(ticketOf(askingAgain)).not.toBe(first);
    const late = run(askingAgain, [{ type: 'token', ticket: first, token: JWT }]);
    expect(late.state).toBe(askingAgain);
    expect(late.commands).toEqual([]);
  });

  it.each([unauthorized, expired])('a relay refusing the token at CONNECT ($kind): token dropped, same relay, asked again', (error) => {
    const opening = reach('opening');
    const { state, commands } = run(opening, [{ type: 'connect_error', ticket: ticketOf(opening), error }]);
    expect(state).toMatchObject({ token: undefined, relay: 0, lastError: error, phase: { kind: 'waiting', reason: error } });
    expect(types(commands)).toEqual(['close_transport', 'error', 'set_timer', 'state']);
    expect(run(state, [{ type: 'timer' }]).commands).toContainEqual(expect.objectContaining({ type: 'ask_token' }));
  });

  it.each([unauthorized, expired])('a relay refusing the token on an open connection ($kind): disconnected, told, asked again', (error) => {
    const online = reach('online');
    const { state, commands } = run(online, [{ type: 'token_refused', ticket: ticketOf(online), error }]);
    expect(types(commands)).toEqual(['close_transport', 'disconnected', 'error', 'set_timer', 'state']);
    expect(commands).toContainEqual(expect.objectContaining({ type: 'disconnected', reason: `token refused (${error.kind})` }));
    expect(state).toMatchObject({ token: undefined, lastError: error, phase: { kind: 'waiting', reason: error } });
    expect(run(state, [{ type: 'timer' }]).state.phase.kind).toBe('token');
  });

  it('refused again and again: the backoff grows, and a connection that comes up resets it', () => {
    let state = reach('token');
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const result = run(state, [{ type: 'token', ticket: ticketOf(state), token: JWT }]);
      const refused = run(result.state, [{ type: 'connect_error', ticket: ticketOf(result.state), error: unauthorized }]);
      delays.push((refused.commands.find((command) => command.type === 'set_timer') as { delayMs: number }).delayMs);
      state = run(refused.state, [{ type: 'timer' }]).state;
    }
    expect(delays).toEqual([100, 200, 300]);
    state = run(state, [{ type: 'token', ticket: ticketOf(state), token: JWT }]).state;
    state = run(state, [{ type: 'opened', ticket: ticketOf(state) }]).state;
    expect(state).toMatchObject({ attempt: 0, lastError: undefined });
  });
});

describe('connection machine: relays', () => {
  it('an opening without an answer by its own deadline fails over to the next relay (item 10)', () => {
    const opening = reach('opening');
    const { state, commands } = run(opening, [{ type: 'timer' }]);
    expect(state).toMatchObject({ relay: 1, phase: { kind: 'waiting', reason: { kind: PartylineErrorKind.ConnectFailed } } });
    expect(types(commands)).toContain('close_transport');
    const next = run(state, [{ type: 'timer' }]);
    expect(next.commands).toContainEqual(expect.objectContaining({ type: 'open', relay: 1 }));
  });

  it('fails over round the relay list', () => {
    let state = reach('opening');
    const relays: number[] = [];
    for (let i = 0; i < 3; i++) {
      state = run(state, [{ type: 'timer' }, { type: 'timer' }]).state; // opening deadline, then the backoff
      relays.push(state.relay);
    }
    expect(relays).toEqual([1, 0, 1]);
  });

  it('rate_limited at CONNECT: the same relay, after at least its retryAfterMs', () => {
    const opening = reach('opening');
    const error = new PartylineError(PartylineErrorKind.RateLimited, 'slow down', { retryAfterMs: 7000 });
    const { state, commands } = run(opening, [{ type: 'connect_error', ticket: ticketOf(opening), error }]);
    expect(state.relay).toBe(0);
    expect(commands).toContainEqual({ type: 'set_timer', delayMs: 7000 });
  });

  it('a lost connection tries the next relay; a relay that sent us away ("io server disconnect") is tried again', () => {
    const online = reach('online');
    const lost = run(online, [{ type: 'transport_closed', ticket: ticketOf(online), reason: 'transport close' }]).state;
    expect(lost).toMatchObject({ relay: 1, lastError: { kind: PartylineErrorKind.Disconnected, message: 'connection lost (transport close)' } });
    const sentAway = run(online, [{ type: 'transport_closed', ticket: ticketOf(online), reason: 'io server disconnect' }]).state;
    expect(sentAway.relay).toBe(0);
  });

  it('a drain followed by the transport closing advances the relay once, not twice (item 11)', () => {
    const online = reach('online');
    const ticket = ticketOf(online);
    const drained = run(online, [{ type: 'drain', ticket, reconnectAfterMs: 500 }]);
    expect(drained.commands).toEqual([{ type: 'set_timer', delayMs: 500 }]);
    const closed = run(drained.state, [{ type: 'transport_closed', ticket, reason: 'transport close' }]).state;
    expect(closed.relay).toBe(1);
    // The drain's delay passing first: also once.
    expect(run(drained.state, [{ type: 'timer' }]).state.relay).toBe(1);
    // A second drain notice changes nothing.
    expect(run(drained.state, [{ type: 'drain', ticket, reconnectAfterMs: 0 }]).commands).toEqual([]);
  });

  it('an opening whose transport closes before the relay accepted fails over', () => {
    const opening = reach('opening');
    const { state } = run(opening, [{ type: 'transport_closed', ticket: ticketOf(opening), reason: 'transport close' }]);
    expect(state).toMatchObject({ relay: 1, attempt: 1, phase: { kind: 'waiting' } });
  });
});

describe('connection machine: stale tickets', () => {
  const staleEvents = (ticket: number): ConnectionEvent[] => [
    { type: 'token', ticket, token: JWT },
    { type: 'token_failed', ticket, error: new Error('late') },
    { type: 'opened', ticket },
    { type: 'connect_error', ticket, error: unauthorized },
    { type: 'transport_closed', ticket, reason: 'transport close' },
    { type: 'drain', ticket, reconnectAfterMs: 0 },
    { type: 'token_refused', ticket, error: unauthorized },
  ];

  it.each(['token', 'opening', 'online'] as const)('in %s, every callback of an earlier attempt is ignored', (kind) => {
    const state = reach(kind);
    for (const event of staleEvents(ticketOf(state) - 10)) {
      const result = run(state, [event]);
      expect(result.state, event.type).toBe(state);
      expect(result.commands, event.type).toEqual([]);
    }
  });

  it('a transport of an attempt that already failed cannot bring the client online', () => {
    const opening = reach('opening');
    const old = ticketOf(opening);
    const waiting = run(opening, [{ type: 'timer' }]).state;
    const reopened = run(waiting, [{ type: 'timer' }]).state;
    expect(run(reopened, [{ type: 'opened', ticket: old }]).state.phase.kind).toBe('opening');
  });
});

describe('connection machine: offline, online, reconnect, close', () => {
  it.each(['token', 'opening', 'online', 'waiting'] as const)('offline from %s: leaves the attempt, clears the timer; online begins at attempt 0', (kind) => {
    const before = reach(kind);
    const { state, commands } = run(before, [{ type: 'offline' }]);
    expect(state.phase.kind).toBe('offline');
    expect(types(commands)).toContain('clear_timer');
    if (kind === 'opening' || kind === 'online') expect(commands).toContainEqual({ type: 'close_transport', ticket: ticketOf(before) });
    if (kind === 'online') expect(types(commands)).toContain('disconnected');
    const back = run(state, [{ type: 'online' }]).state;
    expect(back).toMatchObject({ attempt: 0 });
    expect(['token', 'opening']).toContain(back.phase.kind);
  });

  it('online and reconnect only matter while offline or waiting', () => {
    for (const kind of ['token', 'opening', 'online'] as const) {
      const state = reach(kind);
      expect(run(state, [{ type: 'online' }]).state, kind).toBe(state);
      expect(run(state, [{ type: 'reconnect' }]).state, kind).toBe(state);
    }
    expect(run(reach('idle'), [{ type: 'offline' }]).state.phase.kind).toBe('idle');
    const waiting = reach('waiting');
    expect(run(waiting, [{ type: 'reconnect' }]).state).toMatchObject({ attempt: 0, phase: { kind: 'token' } });
  });

  it.each(CONNECTION_PHASES)('close from %s: closed for good, no timer, no transport; nothing after it counts', (kind) => {
    const before = reach(kind);
    const { state, commands } = run(before, [{ type: 'close' }]);
    expect(state.phase.kind).toBe('closed');
    if (kind !== 'closed') expect(types(commands)).toContain('clear_timer');
    if (kind === 'opening' || kind === 'online') expect(commands).toContainEqual({ type: 'close_transport', ticket: ticketOf(before) });
    for (const event of [{ type: 'online' }, { type: 'timer' }, { type: 'start', online: true }, { type: 'reconnect' }] as ConnectionEvent[]) {
      expect(run(state, [event]).commands).toEqual([]);
    }
  });
});

describe('connection shell on a fake clock', () => {
  function harness(token: TokenSource, online = true) {
    const clock = createFakeClock();
    const scheduler = createScheduler(clock, (attempt) => 100 * attempt);
    const onlineManager = createManualOnlineManager(online);
    const transports: { url: string; token: string; callbacks: TransportCallbacks; closed: boolean }[] = [];
    const factory: TransportFactory = (url, options, callbacks) => {
      const record = { url, token: (options.auth as { token: string }).token, callbacks, closed: false };
      transports.push(record);
      return { request: () => new Promise(() => {}), send: () => {}, close: () => void (record.closed = true) };
    };
    const connection = new Connection({ relays: ['ws://a', 'ws://b'], token, scheduler, onlineManager, connectTimeoutMs: CONNECT_TIMEOUT, transport: factory });
    const states: ConnectionEvents['state'][] = [];
    const errors: PartylineError[] = [];
    connection.on('state', (context) => states.push(context));
    connection.on('error', ({ error }) => errors.push(error));
    return { clock, scheduler, onlineManager, connection, transports, states, errors };
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('an error page from the token function: state connecting with the reason, an error event, asked again with backoff', async () => {
    const answers = [ERROR_PAGE, JWT];
    let asked = 0;
    const h = harness(async () => answers[asked++]!);
    h.connection.start();
    await settle();
    expect(h.transports).toHaveLength(0);
    expect(h.errors.map((error) => error.message)).toEqual([expect.stringMatching(/not a JWT/)]);
    expect(h.states.at(-1)).toMatchObject({ state: 'connecting', reason: h.errors[0] });
    expect(h.connection.reason).toBe(h.errors[0]);
    expect(h.connection.retryAt).toBe(h.clock.now() + 100);
    h.clock.advance(100);
    await settle();
    expect(asked).toBe(2);
    expect(h.transports.map((t) => t.token)).toEqual([JWT]);
    h.transports[0]!.callbacks.onOpen();
    expect(h.connection.state).toBe('online');
    expect(h.connection.reason).toBeUndefined();
    expect(h.connection.retryAt).toBeUndefined();
    h.connection.close();
    expect(h.scheduler.size).toBe(0);
  });

  it('a relay refusing the token on an open connection: the next transport carries a fresh token', async () => {
    let minted = 0;
    const h = harness(async () => `${JWT}${++minted}`);
    h.connection.start();
    await settle();
    h.transports[0]!.callbacks.onOpen();
    h.connection.tokenRefused(undefined, unauthorized); // not the current transport: ignored
    expect(h.connection.state).toBe('online');
    h.transports[0]!.callbacks.onEvent(ServerEvent.Error, { kind: 'unauthorized', message: 'key removed from the JWKS', retryable: false });
    expect(h.transports[0]!.closed).toBe(true);
    expect(h.states.at(-1)).toMatchObject({ state: 'connecting', reason: { kind: PartylineErrorKind.Unauthorized, message: 'key removed from the JWKS' } });
    h.clock.advance(100);
    await settle();
    expect(h.transports.map((t) => t.token)).toEqual([`${JWT}1`, `${JWT}2`]);
    h.connection.close();
  });

  it('a token function that hangs: an error after connectTimeoutMs, and it is asked again', async () => {
    let asked = 0;
    const h = harness(() => {
      asked++;
      return new Promise<string>(() => {});
    });
    h.connection.start();
    h.clock.advance(CONNECT_TIMEOUT);
    expect(h.errors.map((error) => error.message)).toEqual([`the token function did not answer within ${CONNECT_TIMEOUT} ms`]);
    h.clock.advance(100);
    expect(asked).toBe(2);
    h.connection.close();
    expect(h.scheduler.size).toBe(0);
  });

  it('a token function that throws synchronously is an error like any other', async () => {
    const h = harness(() => {
      throw new Error('no session');
    });
    h.connection.start();
    await settle();
    expect(h.errors.map((error) => error.message)).toEqual(['the token function failed: no session']);
    h.connection.close();
  });

  it('goes offline and back with the online manager, and connects again', async () => {
    const h = harness(JWT);
    h.connection.start();
    h.transports[0]!.callbacks.onOpen();
    h.onlineManager.setOnline(false);
    expect(h.connection.state).toBe('offline');
    expect(h.transports[0]!.closed).toBe(true);
    expect(h.scheduler.size).toBe(0);
    h.onlineManager.setOnline(true);
    expect(h.transports).toHaveLength(2);
    h.connection.close();
  });

  it.each(CONNECTION_PHASES)('close() from %s leaves no timer and no open transport', async (kind) => {
    const h = harness(kind === 'token' ? () => new Promise<string>(() => {}) : async () => (kind === 'waiting' ? ERROR_PAGE : JWT), kind !== 'offline');
    if (kind !== 'idle') h.connection.start();
    await settle();
    if (kind === 'online') h.transports[0]!.callbacks.onOpen();
    if (kind === 'closed') h.connection.close();
    expect(h.connection.machine.phase.kind).toBe(kind);
    h.connection.close();
    expect(h.scheduler.size).toBe(0);
    expect(h.transports.every((transport) => transport.closed)).toBe(true);
    expect(h.connection.state).toBe('offline');
  });
});
