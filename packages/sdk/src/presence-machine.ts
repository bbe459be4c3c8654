import type { PresenceMember, RoomPresenceEvent } from '@partyline/protocol';
import { PartylineError, PartylineErrorKind } from './errors.js';
import { isEmptyDiff, PresenceView, type PresenceDiff } from './presence-view.js';
import { checkPresenceSnapshot } from './wire-checks.js';

/**
 * A room's presence decisions, sans IO: this tab's own entry (what the app asked for, and whether
 * a relay on this connection has it) and the member list it follows.
 *
 * ```
 *                 connected                 enter answered / refused for good
 *   offline ─────────────────► (next) ──► entering ─────────────────┐
 *      ▲                         ▲  │                                ▼
 *      │ disconnected            │  └──► fetching ──► (next) ──► ready ── gap not filled (refetch slot) ─► (next)
 *      │ (any state)             │          │ snapshot answered
 *      │                         └─ backoff ◄┴─ a request failed for now (catch-up slot, the client's backoff)
 *                                           closed: from any state, for good (every pending enter() rejects `closed`)
 * ```
 *
 * One request at a time: the entry goes first (an `enter` after a reconnect, or the app's new data),
 * then the member list when it is due (first use, a new connection, a gap that did not fill). Every
 * wait is a request with a timeout or a scheduler slot; an answer of an earlier request carries its
 * `ticket` and is ignored when it is not the current one. The member view is the one mutable part of
 * the state: it is owned by it and changed only here.
 */
export type PresencePhase =
  /** No connection: waiting for the connection (which has its own timer). */
  | { kind: 'offline' }
  /** Connected, nothing in flight: following live changes (a refetch slot is set while a gap waits to fill). */
  | { kind: 'ready' }
  /** `presence:enter` in flight with the entry of revision `rev`. */
  | { kind: 'entering'; ticket: number; rev: number }
  /** `presence:get` in flight; live changes that come meanwhile are held and applied after it (it may predate them). */
  | { kind: 'fetching'; ticket: number; held: readonly RoomPresenceEvent[] }
  /** A request failed for now: the catch-up slot runs `next` after the backoff. */
  | { kind: 'backoff' }
  | { kind: 'closed' };

export interface PresenceMachineState {
  phase: PresencePhase;
  /** What this tab asked for: entered with `data` (JSON text or none), revision `rev`; `synced` once a relay on this connection has that revision. */
  intent: { data: string | undefined; rev: number; synced: boolean } | undefined;
  /** The app looks at the members (a listener, `members()`, or it entered). */
  watching: boolean;
  /** The member list must be fetched: a new connection, first use, or a gap that did not fill. */
  listDue: boolean;
  /** Pending `enter()` calls: each waits for the answer of the enter request `ticket` (none: not sent yet). */
  waiters: readonly { id: number; ticket: number | undefined }[];
  view: PresenceView;
  /** Failed requests in a row (the backoff's exponent). */
  attempt: number;
  /** Source of tickets and intent revisions. */
  tickets: number;
}

/** The presence scheduler slots: catch-up after a failure (backoff), and the member list fetched again after a gap. */
export type PresenceSlot = 'catch-up' | 'refetch';

export type PresenceAnswer = { ok: true; value: unknown } | { ok: false; error: PartylineError };

export type PresenceEvent =
  /** A connection came up (or a page came back from the back-forward cache): enter again if entered, fetch the list. */
  | { type: 'connected' }
  | { type: 'disconnected' }
  /** The app looks at the members. */
  | { type: 'watch' }
  /** `enter(data)` / `update(data)` by the app; `data` undefined keeps what was entered. */
  | { type: 'enter'; waiter: number; data: string | undefined }
  /** `leave()` by the app. */
  | { type: 'leave' }
  /** Best effort, without waiting (page hidden, client closing); `keepIntent` enters again on the next `connected`. */
  | { type: 'leave_now'; keepIntent: boolean }
  | { type: 'answer'; ticket: number; answer: PresenceAnswer }
  | { type: 'presence'; event: RoomPresenceEvent }
  | { type: 'timer'; slot: PresenceSlot }
  /** The room was left or the client closed. */
  | { type: 'close'; reason: string };

export type PresenceCommand =
  | { type: 'enter'; ticket: number; data: string | undefined }
  | { type: 'get'; ticket: number }
  /** `wait`: the app's `leave()` waits for the relay's answer; otherwise sent without one. */
  | { type: 'leave'; wait: boolean }
  | { type: 'schedule'; slot: PresenceSlot; delayMs: number }
  | { type: 'cancel'; slot: PresenceSlot }
  | { type: 'emit'; members: PresenceMember[]; diff: PresenceDiff }
  /** Resolves (no error) or rejects pending `enter()` calls. */
  | { type: 'settle'; waiters: number[]; error?: PartylineError }
  /** A refusal for good that no `enter()` caller hears: the room's `error` event says it (presence stopped short, never silently). */
  | { type: 'fail'; error: PartylineError };

export interface PresenceMachineConfig {
  /** The client's backoff for retry number `attempt`, at least `retryAfterMs`. */
  backoff(attempt: number, retryAfterMs?: number): number;
  /** How long live changes may wait for one before them before the member list is fetched again. */
  gapWaitMs: number;
}

/** Every phase and every event, for coverage counts (the simulator counts the (phase, event) pairs it drove). */
export const PRESENCE_STATES = ['offline', 'ready', 'entering', 'fetching', 'backoff', 'closed'] as const satisfies readonly PresencePhase['kind'][];
export const PRESENCE_EVENTS = ['connected', 'disconnected', 'watch', 'enter', 'leave', 'leave_now', 'answer', 'presence', 'timer', 'close'] as const satisfies readonly PresenceEvent['type'][];

export function initialPresenceState(): PresenceMachineState {
  return { phase: { kind: 'offline' }, intent: undefined, watching: false, listDue: false, waiters: [], view: new PresenceView(), attempt: 0, tickets: 0 };
}

type Result = { state: PresenceMachineState; commands: PresenceCommand[] };

const CANCEL_ALL: PresenceCommand[] = [
  { type: 'cancel', slot: 'catch-up' },
  { type: 'cancel', slot: 'refetch' },
];

/** One transition: the state after `event`, and what to do. Never throws, never does IO. */
export function presenceTransition(state: PresenceMachineState, event: PresenceEvent, config: PresenceMachineConfig): Result {
  const phase = state.phase;
  if (phase.kind === 'closed') {
    // An enter after the end settles at once; everything else is late news.
    return event.type === 'enter' ? { state, commands: [settle([event.waiter], closedError('the room was left or the client closed'))] } : same(state);
  }
  const online = phase.kind !== 'offline';
  switch (event.type) {
    case 'close': {
      const commands: PresenceCommand[] = state.intent && online ? [{ type: 'leave', wait: false }] : [];
      commands.push(...CANCEL_ALL);
      if (state.waiters.length) commands.push(settle(ids(state.waiters), closedError(`${event.reason} before a relay had the enter`)));
      return { state: { ...state, phase: { kind: 'closed' }, intent: undefined, watching: false, waiters: [] }, commands };
    }
    case 'connected':
      return next(fresh({ ...state, attempt: 0 }), [...CANCEL_ALL]);
    case 'disconnected':
      if (!online) return same(state);
      return { state: { ...fresh(state), phase: { kind: 'offline' } }, commands: [...CANCEL_ALL] };
    case 'watch': {
      if (state.watching) return same(state);
      const watching = { ...state, watching: true, listDue: true };
      return phase.kind === 'ready' ? next(watching, []) : same(watching);
    }
    case 'enter': {
      const rev = state.tickets + 1;
      const entered: PresenceMachineState = {
        ...state,
        tickets: rev,
        watching: true,
        listDue: state.listDue || !state.watching,
        intent: { data: event.data ?? state.intent?.data, rev, synced: false },
        waiters: [...state.waiters, { id: event.waiter, ticket: undefined }],
      };
      // The app's call is a fresh try, not one more wait behind an earlier failure's backoff.
      if (phase.kind === 'ready' || phase.kind === 'backoff') return next(entered, [{ type: 'cancel', slot: 'catch-up' }]);
      return same(entered);
    }
    case 'leave':
    case 'leave_now': {
      if (!state.intent) return same(state);
      const commands: PresenceCommand[] = online ? [{ type: 'leave', wait: event.type === 'leave' }] : [];
      if (event.type === 'leave_now' && event.keepIntent) return { state: { ...state, intent: { ...state.intent, synced: false } }, commands };
      if (state.waiters.length) commands.push(settle(ids(state.waiters), closedError('presence was left before a relay had the enter')));
      return { state: { ...state, intent: undefined, waiters: [] }, commands };
    }
    case 'answer':
      if (phase.kind === 'entering' && phase.ticket === event.ticket) return entered(state, phase.ticket, phase.rev, event.answer, config);
      if (phase.kind === 'fetching' && phase.ticket === event.ticket) return fetched(state, phase.held, event.answer, config);
      return same(state);
    case 'presence': {
      if (!state.watching || !online) return same(state);
      if (phase.kind === 'fetching') return same({ ...state, phase: { ...phase, held: [...phase.held, event.event] } });
      // Not followed on this connection yet: the list fetched next already has it.
      if (state.listDue) return same(state);
      return applyLive(state, [event.event], [], config);
    }
    case 'timer':
      if (event.slot === 'catch-up') return phase.kind === 'backoff' ? next(state, []) : same(state);
      if (!state.watching || !online) return same(state);
      // The gap did not fill: fetch the list (now, or after what is in flight).
      return phase.kind === 'ready' ? next({ ...state, listDue: true }, []) : same({ ...state, listDue: true });
  }
}

/** The phase's name, for coverage counts. */
export const presenceStateKind = (state: PresenceMachineState): PresencePhase['kind'] => state.phase.kind;

function same(state: PresenceMachineState): Result {
  return { state, commands: [] };
}

/** A new connection (or none): the relay must be told the entry again, the list is due, pending enters wait for a new request. */
function fresh(state: PresenceMachineState): PresenceMachineState {
  return {
    ...state,
    listDue: state.watching,
    intent: state.intent && { ...state.intent, synced: false },
    waiters: state.waiters.map((waiter) => ({ ...waiter, ticket: undefined })),
  };
}

/** Connected with nothing in flight: send the entry if the relay lacks it, else fetch the list if due, else follow. */
function next(state: PresenceMachineState, commands: PresenceCommand[]): Result {
  const { intent } = state;
  if (intent && !intent.synced) {
    const ticket = state.tickets + 1;
    return {
      // Every pending enter() asked for this entry or an earlier one: this request answers them all.
      state: { ...state, tickets: ticket, phase: { kind: 'entering', ticket, rev: intent.rev }, waiters: state.waiters.map((waiter) => ({ ...waiter, ticket })) },
      commands: [...commands, { type: 'enter', ticket, data: intent.data }],
    };
  }
  if (state.watching && state.listDue) {
    const ticket = state.tickets + 1;
    return { state: { ...state, tickets: ticket, phase: { kind: 'fetching', ticket, held: [] } }, commands: [...commands, { type: 'cancel', slot: 'refetch' }, { type: 'get', ticket }] };
  }
  return { state: { ...state, phase: { kind: 'ready' } }, commands };
}

function entered(state: PresenceMachineState, ticket: number, rev: number, answer: PresenceAnswer, config: PresenceMachineConfig): Result {
  const answered = ids(state.waiters.filter((waiter) => waiter.ticket === ticket));
  const waiters = state.waiters.filter((waiter) => waiter.ticket !== ticket);
  if (answer.ok) {
    const commands: PresenceCommand[] = answered.length ? [settle(answered)] : [];
    // Left while the enter was on its way: the relay may have taken the leave first.
    if (!state.intent) commands.push({ type: 'leave', wait: false });
    const intent = state.intent && (state.intent.rev === rev ? { ...state.intent, synced: true } : state.intent);
    return next({ ...state, attempt: 0, intent, waiters }, commands);
  }
  const { error } = answer;
  // The connection went away under it: the enter is sent again on the next one, its callers keep waiting.
  if (error.kind === PartylineErrorKind.Disconnected) return backoff({ ...state, waiters: state.waiters.map((waiter) => ({ ...waiter, ticket: undefined })) }, [], error, config);
  const commands: PresenceCommand[] = answered.length ? [settle(answered, error)] : error.retryable ? [] : [{ type: 'fail', error }];
  if (!error.retryable) {
    // Refused for good (no capability, data too large): this tab is not in — also not with what an
    // earlier enter left at the relays, so it leaves there too (a no-op when it never was in).
    if (state.intent?.rev !== rev) return next({ ...state, waiters }, commands);
    return next({ ...state, intent: undefined, waiters }, [...commands, { type: 'leave', wait: false }]);
  }
  // The callers hear about it; the entry is tried again in the background all the same.
  return backoff({ ...state, waiters }, commands, error, config);
}

function fetched(state: PresenceMachineState, held: readonly RoomPresenceEvent[], answer: PresenceAnswer, config: PresenceMachineConfig): Result {
  if (!answer.ok) {
    // A list this connection may not read is not asked for again on it; the app is told.
    if (!answer.error.retryable) return next({ ...state, listDue: false }, [{ type: 'fail', error: answer.error }]);
    return backoff(state, [], answer.error, config);
  }
  const snapshot = checkPresenceSnapshot(answer.value);
  if (!snapshot.ok) return backoff(state, [], new PartylineError(PartylineErrorKind.Internal, `malformed member list from relay: ${snapshot.error}`, { retryable: true }), config);
  const commands: PresenceCommand[] = [];
  emit(state.view, state.view.reset(snapshot.value), commands);
  // The list may have been read before changes that arrived meanwhile: they continue it (or are in it already).
  return applyLive({ ...state, attempt: 0, listDue: false, phase: { kind: 'ready' } }, held, commands, config, true);
}

function applyLive(state: PresenceMachineState, events: readonly RoomPresenceEvent[], commands: PresenceCommand[], config: PresenceMachineConfig, thenNext = false): Result {
  let stale = false;
  for (const event of events) {
    const result = state.view.apply(event.epoch, event.changes);
    emit(state.view, result.diff, commands);
    stale = result.stale;
  }
  if (events.length) commands.push(stale ? { type: 'schedule', slot: 'refetch', delayMs: config.gapWaitMs } : { type: 'cancel', slot: 'refetch' });
  return thenNext ? next(state, commands) : { state, commands };
}

function backoff(state: PresenceMachineState, commands: PresenceCommand[], error: PartylineError, config: PresenceMachineConfig): Result {
  const attempt = state.attempt + 1;
  return { state: { ...state, attempt, phase: { kind: 'backoff' } }, commands: [...commands, { type: 'schedule', slot: 'catch-up', delayMs: config.backoff(attempt, error.retryAfterMs) }] };
}

function emit(view: PresenceView, diff: PresenceDiff, commands: PresenceCommand[]): void {
  if (!isEmptyDiff(diff)) commands.push({ type: 'emit', members: [...view.members.values()], diff });
}

function settle(waiters: number[], error?: PartylineError): PresenceCommand {
  return error ? { type: 'settle', waiters, error } : { type: 'settle', waiters };
}

const ids = (waiters: readonly { id: number }[]): number[] => waiters.map((waiter) => waiter.id);

const closedError = (message: string): PartylineError => new PartylineError(PartylineErrorKind.Closed, message);
