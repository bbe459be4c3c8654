import type { LogMessage, RoomPage } from '@partyline/protocol';
import { isTokenRefusal } from './connection-machine.js';
import { PartylineErrorKind, type PartylineError } from './errors.js';
import type { ResetContext } from './room.js';
import { contradicts, continuing, decidePage, positionRequest, type LiveEntry, type PositionRequest, type ViewPosition } from './view-position.js';

/**
 * One room's sync, sans IO: when to join or read, what a page or a live message means for the
 * tab's view, when to wait, and what the app is told.
 *
 * ```
 *            opened, connected               ok, more pages or a restart
 *  opening ───────────────────► joining ──────────────────────────► reading ◄──┐
 *     │ opened, offline           │  │ ok, empty head (`now`, window)    │ ok    │ timer (gap, retry,
 *     ▼                           │  ▼                                   ▼       │  storm pause over)
 *  detached ◄── disconnected ──   │  placing ── placed ──────────────► live ─────┤
 *  (any state) ── connected ──►   │ refused, passing ──► retrying ───────────────┤
 *                                 │ refused, for good ──► failed (error told)    │
 *                                 └ resets too fast ───► held ───────────────────┘
 *                                                         closed: from any state, for good
 * ```
 *
 * "Joined on this connection" is state: set only by an `ok` join answer, cleared by every
 * (dis)connect, so a refused join is retried as a join (at the head, for `now` and windows), never
 * as a read that leaves the socket out of the room. Every state that is not terminal has a way
 * out that needs nothing from the app: an outstanding request (the transport times it out), a local
 * step (the cache answers or fails), the room's one scheduler slot, or the next connection.
 * Answers and cache results carry the `ticket` (or the view's `generation`) they were asked for and
 * are ignored when stale.
 */
export type RoomSyncPhase =
  /** Loading the view (the profile's cache, or the app's position). */
  | { kind: 'opening'; connected: boolean }
  /** No connection: the next one joins. */
  | { kind: 'detached' }
  /** `room:join` sent; `atHead`: a view never placed in the log, joining at the log's head (`now`, a window). */
  | { kind: 'joining'; ticket: number; attempt: number; atHead: boolean; request: PositionRequest; again: boolean }
  /** `room:read` sent from the view's position; `again`: read once more when it answers (something changed meanwhile). */
  | { kind: 'reading'; ticket: number; attempt: number; request: PositionRequest; again: boolean }
  /** Joined at an empty head: the cache is asked whether another tab of the profile already follows this log. */
  | { kind: 'placing'; ticket: number; head: ViewPosition; again: boolean }
  /** Joined and caught up; `readAt`: a gap behind live messages is read then (they may still overtake each other). */
  | { kind: 'live'; readAt: number | undefined }
  /** A request was refused (or timed out): the next one goes at `dueAt` (backoff, at least the relay's `retryAfterMs`). */
  | { kind: 'retrying'; attempt: number; dueAt: number }
  /** Resets come too fast (a flapping relay or store): no request before `until`. */
  | { kind: 'held'; until: number }
  /** Refused for good (told with `error`): the next connection tries again. */
  | { kind: 'failed'; error: PartylineError }
  | { kind: 'closed' };

export type RoomSyncStateKind = RoomSyncPhase['kind'];

/** Every state kind (the simulator counts the (state, event) pairs it covered). */
export const ROOM_SYNC_STATES: readonly RoomSyncStateKind[] = ['opening', 'detached', 'joining', 'reading', 'placing', 'live', 'retrying', 'held', 'failed', 'closed'];

/** The view as handed to the app: `start` is where `history()` answers from; `generation` counts resets. */
export interface ViewMark {
  view: ViewPosition;
  start: number;
  generation: number;
}

export interface RoomSyncState {
  phase: RoomSyncPhase;
  /** Undefined while opening. */
  view: ViewPosition | undefined;
  start: number;
  /** Bumped by every reset: a `loadOlder` that spans one answers nothing of the old history. */
  generation: number;
  /** Joined on the current connection (an `ok` join answer came on it). */
  joined: boolean;
  /** Live messages beyond the view, waiting for the ones before them. */
  buffer: ReadonlyMap<number, LiveEntry>;
  /** Ids of the latest messages handed to the app, to spot live messages of a log that reused their seqs. */
  recent: ReadonlyMap<number, string>;
  /** When the latest announced resets happened (a storm is several within a minute). */
  resets: readonly number[];
  stormAttempt: number;
  tickets: number;
}

export type RoomSyncEvent =
  /** The view is loaded (the shell already holds it as handed). */
  | { type: 'opened'; view: ViewPosition; start: number }
  | { type: 'connected' }
  | { type: 'disconnected' }
  /** An `ok` answer (a checked page) to the request of `ticket`. */
  | { type: 'answer'; ticket: number; page: RoomPage }
  /** The request of `ticket` was refused, timed out or could not be sent. */
  | { type: 'refused'; ticket: number; error: PartylineError }
  /** The cache's cursor after placing the view at the head (undefined: none, or an app-owned view). */
  | { type: 'placed'; ticket: number; stored: ViewPosition | undefined }
  /** Another tab started the cache over first, on `branch`: follow it. */
  | { type: 'branch'; generation: number; epoch: string; branch: string }
  /** Live messages from the relay (validated). */
  | { type: 'live'; entries: readonly LiveEntry[] }
  /** Something saw another log than the view's (`loadOlder`): read now, a page decides. */
  | { type: 'check' }
  /** The view's start moved from `from` to `start`: back over what `loadOlder` found, or on past what the cache no longer holds (`history`). */
  | { type: 'older'; generation: number; from: number; start: number }
  /** The room's scheduler slot fired. */
  | { type: 'timer' }
  /** Left, or the client closed. */
  | { type: 'close' };

export type RoomSyncEventType = RoomSyncEvent['type'];

/** A join or read as sent: its answer may hold `limit` (or `last`) messages, no more. */
export interface RoomSyncRequest {
  room: string;
  limit?: number;
  last?: number;
}

/** Every event type (the simulator counts the (state, event) pairs it covered). */
export const ROOM_SYNC_EVENTS: readonly RoomSyncEventType[] = ['opened', 'connected', 'disconnected', 'answer', 'refused', 'placed', 'branch', 'live', 'check', 'older', 'timer', 'close'];

/** A reset as the app is told it (the shell adds the room). */
export type RoomReset = Omit<ResetContext, 'room'>;

/**
 * What the shell does. `send` and `emit_error` / `token_refused` / timers run at once; the others
 * are local steps run one after another in order (cache writes, app events), each leaving the
 * handed view at its `mark`.
 */
export type RoomSyncCommand =
  | { type: 'send'; ticket: number; event: 'room:join' | 'room:read'; payload: RoomSyncRequest }
  /** Create the profile's cursor at `view` if none exists, then answer `placed` with the stored one. */
  | { type: 'place'; ticket: number; view: ViewPosition }
  /** Store `messages` (continuing the view from seq `from`) and move the cursor, then hand them to the app. */
  | { type: 'deliver'; from: number; messages: readonly LogMessage[]; dropThrough?: number; mark: ViewMark }
  /** Tell the app (before the cache is changed: a crash in between tells it again). */
  | { type: 'emit_reset'; reset: RoomReset; mark: ViewMark }
  /** Start the cache over if it still follows `expected`; answer `branch` if another tab did first. */
  | { type: 'restart_cache'; expected: { epoch: string; branch: string } | undefined; mark: ViewMark }
  | { type: 'mark'; mark: ViewMark }
  | { type: 'emit_error'; error: PartylineError }
  | { type: 'token_refused'; error: PartylineError }
  | { type: 'set_timer'; delayMs: number }
  | { type: 'clear_timer' };

export interface RoomSyncConfig {
  room: string;
  pageSize: number;
  gapFillDelayMs: number;
  /** A view never placed in the log joins at the head: `now` (no `last`) or a window of `last` messages. */
  head: { last: number | undefined } | undefined;
  now(): number;
  /** The client's backoff for retry number `attempt`, at least `retryAfterMs`. */
  backoff(attempt: number, retryAfterMs?: number): number;
  /** A fresh cache branch name (after a divergence). */
  newBranch(): string;
}

/** Live messages a room holds beyond a gap before it drops them and reads the log instead. */
export const MAX_BUFFERED = 10_000;

/** How many of the latest handed messages a room remembers the ids of (to check live messages against). */
const RECENT_IDS = 1024;

/** Resets (epoch changes, divergences) this close together mean a relay or store is flapping: back off. */
const RESET_STORM = { count: 3, withinMs: 60_000 };

export function initialRoomSyncState(): RoomSyncState {
  return {
    phase: { kind: 'opening', connected: false },
    view: undefined,
    start: 1,
    generation: 0,
    joined: false,
    buffer: new Map(),
    recent: new Map(),
    resets: [],
    stormAttempt: 0,
    tickets: 0,
  };
}

type Result = { state: RoomSyncState; commands: RoomSyncCommand[] };

/** One transition: the state after `event`, and what to do. Never throws, never does IO. */
export function roomSyncTransition(state: RoomSyncState, event: RoomSyncEvent, config: RoomSyncConfig): Result {
  const phase = state.phase;
  if (phase.kind === 'closed') return same(state);
  const out: RoomSyncCommand[] = [];
  switch (event.type) {
    case 'close':
      return { state: { ...state, phase: { kind: 'closed' }, buffer: new Map() }, commands: [{ type: 'clear_timer' }] };
    case 'opened':
      if (phase.kind !== 'opening') return same(state);
      return phase.connected
        ? request({ ...state, view: event.view, start: event.start }, config, 0, out)
        : { state: { ...state, view: event.view, start: event.start, phase: { kind: 'detached' } }, commands: out };
    case 'connected':
      if (phase.kind === 'opening') return { state: { ...state, phase: { kind: 'opening', connected: true } }, commands: out };
      // A new connection is in no room: join, whatever this one was doing (its answers are stale now).
      return request({ ...state, joined: false, buffer: new Map() }, config, 0, out);
    case 'disconnected':
      if (phase.kind === 'opening') return { state: { ...state, phase: { kind: 'opening', connected: false } }, commands: out };
      return { state: { ...state, joined: false, buffer: new Map(), phase: { kind: 'detached' } }, commands: [{ type: 'clear_timer' }] };
    case 'answer':
      if ((phase.kind !== 'joining' && phase.kind !== 'reading') || phase.ticket !== event.ticket) return same(state);
      return answered({ ...state, joined: state.joined || phase.kind === 'joining' }, phase, event.page, config, out);
    case 'refused':
      if ((phase.kind !== 'joining' && phase.kind !== 'reading') || phase.ticket !== event.ticket) return same(state);
      return refused(state, phase.attempt, event.error, config, out);
    case 'placed': {
      if (phase.kind !== 'placing' || phase.ticket !== event.ticket) return same(state);
      const stored = event.stored;
      if (stored && stored.epoch === phase.head.epoch && stored.lastSeq < phase.head.lastSeq) {
        // Another tab of the profile got here first: continue from its cache like any later tab
        // (its cursor is never moved past messages it has not cached: later tabs would see a gap).
        const next = { ...state, view: stored };
        out.push({ type: 'mark', mark: markOf(next) });
        return request(next, config, 0, out);
      }
      const next = { ...state, view: phase.head, start: phase.head.lastSeq + 1 };
      out.push({ type: 'mark', mark: markOf(next) });
      return phase.again ? request(next, config, 0, out) : goLive(next, config, out);
    }
    case 'branch': {
      const view = state.view;
      if (!view || state.generation !== event.generation || view.epoch !== event.epoch || view.branch === event.branch) return same(state);
      const next = { ...state, view: { ...view, branch: event.branch } };
      out.push({ type: 'mark', mark: markOf(next) });
      return { state: next, commands: out };
    }
    case 'live':
      // A failed room (its error told) takes nothing until the next connection joins it again.
      if (!state.view || phase.kind === 'opening' || phase.kind === 'detached' || phase.kind === 'failed') return same(state);
      return live(state, event.entries, config, out);
    case 'check':
      return wantRead(state, 0, config, out);
    case 'older': {
      if (!state.view || state.generation !== event.generation || state.start !== event.from || event.start === event.from) return same(state);
      const next = { ...state, start: event.start };
      out.push({ type: 'mark', mark: markOf(next) });
      return { state: next, commands: out };
    }
    case 'timer':
      switch (phase.kind) {
        case 'live':
          return phase.readAt === undefined ? same(state) : request(state, config, 0, out);
        case 'retrying':
          return request(state, config, phase.attempt, out);
        case 'held':
          return request(state, config, 0, out);
        default:
          return same(state);
      }
  }
}

function same(state: RoomSyncState): Result {
  return { state, commands: [] };
}

function markOf(state: RoomSyncState): ViewMark {
  return { view: state.view!, start: state.start, generation: state.generation };
}

/** Sends the next request: a join until one was answered `ok` on this connection, then reads. */
function request(state: RoomSyncState, config: RoomSyncConfig, attempt: number, out: RoomSyncCommand[]): Result {
  const view = state.view!;
  const ticket = state.tickets + 1;
  const position = positionRequest(view);
  const { room, pageSize: limit } = config;
  out.push({ type: 'clear_timer' });
  if (state.joined) {
    out.push({ type: 'send', ticket, event: 'room:read', payload: { room, limit, ...position } });
    return { state: { ...state, tickets: ticket, phase: { kind: 'reading', ticket, attempt, request: position, again: false } }, commands: out };
  }
  // A room this profile never read, opened `from: 'now'` or with a window: join at the head (with the window).
  const atHead = view.epoch === undefined && config.head !== undefined;
  const last = config.head?.last;
  const payload = atHead ? (last === undefined ? { room, limit } : { room, last }) : { room, limit, ...position };
  out.push({ type: 'send', ticket, event: 'room:join', payload });
  return { state: { ...state, tickets: ticket, phase: { kind: 'joining', ticket, attempt, atHead, request: position, again: false } }, commands: out };
}

function answered(
  state: RoomSyncState,
  phase: Extract<RoomSyncPhase, { kind: 'joining' | 'reading' }>,
  page: RoomPage,
  config: RoomSyncConfig,
  out: RoomSyncCommand[],
): Result {
  const view = state.view!;
  if (phase.kind === 'joining' && phase.atHead && view.epoch === undefined) return startAtHead(state, phase, page, config, out);
  const decision = decidePage(view, page, phase.request);
  if (decision.kind === 'restart') return restart(state, decision.reason, page.epoch, config, out);
  let next = state;
  if (view.epoch === undefined) {
    next = { ...next, view: { ...view, epoch: page.epoch } };
    out.push({ type: 'mark', mark: markOf(next) });
  }
  if (decision.trimmed) {
    const { fromSeq, toSeq } = decision.trimmed;
    const before = next.view!;
    next = { ...next, view: { ...before, lastSeq: toSeq, lastId: undefined }, start: toSeq + 1, generation: next.generation + 1 };
    const mark = markOf(next);
    out.push({ type: 'emit_reset', reset: { reason: 'trimmed', epoch: page.epoch, fromSeq, toSeq }, mark });
    // The cache keeps no hole: what came before it goes, so later tabs start after it too.
    out.push({ type: 'deliver', from: before.lastSeq, messages: [], dropThrough: toSeq, mark });
  }
  const before = next.view!.lastSeq;
  next = deliver(next, decision.messages, out);
  const more = page.hasMore && next.view!.lastSeq > before;
  return more || phase.again ? request(next, config, 0, out) : goLive(next, config, out);
}

function startAtHead(state: RoomSyncState, phase: { ticket: number; again: boolean }, page: RoomPage, config: RoomSyncConfig, out: RoomSyncCommand[]): Result {
  const first = page.messages[0];
  if (first) {
    // A window: the view starts right before its first message, and delivering the window as
    // events (cached on the way) continues it exactly like any page.
    let next: RoomSyncState = { ...state, view: { epoch: page.epoch, lastSeq: first.seq - 1, lastId: undefined, branch: '' }, start: first.seq };
    out.push({ type: 'mark', mark: markOf(next) });
    next = deliver(next, page.messages, out);
    return phase.again ? request(next, config, 0, out) : goLive(next, config, out);
  }
  const head: ViewPosition = { epoch: page.epoch, lastSeq: page.headSeq, lastId: page.headId, branch: '' };
  out.push({ type: 'place', ticket: phase.ticket, view: head });
  return { state: { ...state, phase: { kind: 'placing', ticket: phase.ticket, head, again: phase.again } }, commands: out };
}

/** The log is not the view's history any more: say so, start the cache over, restart the view at 0 — or pause in a storm. */
function restart(state: RoomSyncState, reason: 'epoch_changed' | 'diverged', epoch: string, config: RoomSyncConfig, out: RoomSyncCommand[]): Result {
  const view = state.view!;
  const now = config.now();
  const fresh: ViewPosition = { epoch, lastSeq: 0, lastId: undefined, branch: reason === 'diverged' ? config.newBranch() : '' };
  let next: RoomSyncState = { ...state, view: fresh, start: 1, generation: state.generation + 1, buffer: new Map(), recent: new Map() };
  const mark = markOf(next);
  // A view that was handed nothing loses nothing (a room that had no log yet, or whose idle log
  // expired before this tab read it): it follows the new log silently.
  if (view.lastSeq > 0) {
    const reset: RoomReset = {
      reason,
      epoch,
      ...(view.epoch !== undefined && view.epoch !== epoch ? { previousEpoch: view.epoch } : {}),
      ...(reason === 'diverged' ? { toSeq: view.lastSeq } : {}),
    };
    out.push({ type: 'emit_reset', reset, mark });
    next = { ...next, resets: [...next.resets, now] };
  }
  out.push({ type: 'restart_cache', expected: view.epoch === undefined ? undefined : { epoch: view.epoch, branch: view.branch }, mark });
  const resets = next.resets.filter((at) => at >= now - RESET_STORM.withinMs);
  if (resets.length < RESET_STORM.count) return request({ ...next, resets, stormAttempt: resets.length === 0 ? 0 : next.stormAttempt }, config, 0, out);
  const stormAttempt = next.stormAttempt + 1;
  const delay = config.backoff(stormAttempt);
  out.push({ type: 'set_timer', delayMs: delay });
  return { state: { ...next, resets, stormAttempt, phase: { kind: 'held', until: now + delay } }, commands: out };
}

function refused(state: RoomSyncState, attempt: number, error: PartylineError, config: RoomSyncConfig, out: RoomSyncCommand[]): Result {
  // A refused token: the connection gets a new one and reconnects (the room then joins); retrying
  // here as well keeps the room going should that connection stay.
  if (isTokenRefusal(error)) out.push({ type: 'token_refused', error });
  // A relay breaking the protocol may keep doing so: the app is told, and the room keeps retrying.
  else if (error.kind === PartylineErrorKind.ProtocolViolation) out.push({ type: 'emit_error', error });
  else if (!error.retryable) {
    out.push({ type: 'emit_error', error }, { type: 'clear_timer' });
    return { state: { ...state, phase: { kind: 'failed', error } }, commands: out };
  }
  const next = attempt + 1;
  const delay = config.backoff(next, error.retryAfterMs);
  out.push({ type: 'set_timer', delayMs: delay });
  return { state: { ...state, phase: { kind: 'retrying', attempt: next, dueAt: config.now() + delay } }, commands: out };
}

/** Hands the run of `messages` that continues the view exactly to the app (stored first). */
function deliver(state: RoomSyncState, messages: readonly LogMessage[], out: RoomSyncCommand[]): RoomSyncState {
  const view = state.view!;
  const fresh = continuing(view.lastSeq, messages);
  const last = fresh.at(-1);
  if (!last || view.epoch === undefined) return state;
  const recent = new Map(state.recent);
  for (const message of fresh) recent.set(message.seq, message.id);
  for (const seq of recent.keys()) {
    if (recent.size <= RECENT_IDS) break;
    recent.delete(seq);
  }
  const next = { ...state, view: { ...view, lastSeq: last.seq, lastId: last.id }, recent };
  out.push({ type: 'deliver', from: view.lastSeq, messages: fresh, mark: markOf(next) });
  return next;
}

/** Caught up: deliver what waited; a remaining gap is read after `gapFillDelayMs`. */
function goLive(state: RoomSyncState, config: RoomSyncConfig, out: RoomSyncCommand[]): Result {
  return drain({ ...state, phase: { kind: 'live', readAt: undefined } }, config, out);
}

function live(state: RoomSyncState, entries: readonly LiveEntry[], config: RoomSyncConfig, out: RoomSyncCommand[]): Result {
  const view = state.view!;
  const recent = state.recent;
  const idAt = (seq: number) => (seq === view.lastSeq ? view.lastId : recent.get(seq));
  const buffer = new Map(state.buffer);
  for (const entry of entries) {
    // Another log, or one that contradicts what the tab was handed: a positioned read decides.
    if (view.epoch !== undefined && entry.epoch !== view.epoch) return wantRead(state, 0, config, out);
    if (contradicts(view, entry, idAt)) return wantRead(state, 0, config, out);
    if (entry.message.seq > view.lastSeq) buffer.set(entry.message.seq, entry);
  }
  // The gap is not filling (reads failing): forget the live run; the log holds it all.
  if (buffer.size > MAX_BUFFERED) return wantRead({ ...state, buffer: new Map() }, 0, config, out);
  return drain({ ...state, buffer }, config, out);
}

/** Delivers the buffered run that continues the view; a remaining gap is read from the log soon. */
function drain(state: RoomSyncState, config: RoomSyncConfig, out: RoomSyncCommand[]): Result {
  const view = state.view!;
  if (view.epoch === undefined || state.buffer.size === 0) return { state, commands: out };
  const buffer = new Map(state.buffer);
  const run: LogMessage[] = [];
  let last = { seq: view.lastSeq, id: view.lastId };
  for (let entry = buffer.get(last.seq + 1); entry; entry = buffer.get(last.seq + 1)) {
    if (entry.epoch !== view.epoch) break;
    // It continues another history than the view's: let a positioned read decide.
    if (entry.previousId !== undefined && last.id !== undefined && entry.previousId !== last.id) {
      return wantRead(deliver({ ...state, buffer: new Map() }, run, out), 0, config, out);
    }
    run.push(entry.message);
    last = { seq: entry.message.seq, id: entry.message.id };
  }
  for (const seq of buffer.keys()) if (seq <= last.seq) buffer.delete(seq);
  const next = deliver({ ...state, buffer }, run, out);
  // Live messages from different relays may overtake each other: wait briefly, then read the gap.
  return buffer.size > 0 ? wantRead(next, config.gapFillDelayMs, config, out) : { state: next, commands: out };
}

/**
 * The log must be read (in `delayMs`: a gap; 0: something contradicts the view). A request under
 * way reads once more when it answers; a retry or a storm pause is never cut short (the relay's
 * `retryAfterMs` holds for gap fills too); without a connection the next join reads.
 */
function wantRead(state: RoomSyncState, delayMs: number, config: RoomSyncConfig, out: RoomSyncCommand[]): Result {
  const phase = state.phase;
  switch (phase.kind) {
    case 'live': {
      if (delayMs === 0) return request(state, config, 0, out);
      const at = config.now() + delayMs;
      if (phase.readAt !== undefined && phase.readAt <= at) return { state, commands: out };
      out.push({ type: 'set_timer', delayMs });
      return { state: { ...state, phase: { kind: 'live', readAt: at } }, commands: out };
    }
    case 'joining':
    case 'reading':
    case 'placing':
      // A gap is looked at again once the request is answered (the page may fill it).
      if (delayMs > 0 || phase.again) return { state, commands: out };
      return { state: { ...state, phase: { ...phase, again: true } }, commands: out };
    default:
      return { state, commands: out };
  }
}
