import { ClientEvent, utf8ByteLength, type PublishResult } from '@partyline/protocol';
import { isTokenRefusal } from './connection-machine.js';
import { PartylineError, PartylineErrorKind } from './errors.js';
import type { OutboxEntry } from './outbox-store.js';
import { checkPublishResult } from './wire-checks.js';

/**
 * The flusher's decisions, sans IO: what to read, which room to lead, which batch to send, what
 * leaves the outbox as what, and when to look again.
 *
 * ```
 *          wake / connected / timer                      led          ack, refusal, no answer
 *   idle ─────────────────────────► listing ──► leading ─────► sending ─────────────────────► settling
 *    ▲ ▲                               │          │ busy: next room  ▲                            │
 *    │ └─ pass ends (nothing left) ◄───┴──────────┴──────────────────┴──── next batch / next room ┘
 *    │                                   pass ends: retryable failure → backoff, another tab busy → yielded
 *    └──── (a wake while idle)       backoff / yielded ──timer / forced wake──► listing
 *                                   closed: from any state, for good
 * ```
 *
 * A pass lists the outbox, drops expired entries (reported), then per room (in publish order, as
 * that room's one flusher across tabs) sends batches sized by their encoded frame bytes, each acked
 * per message. Every state that waits has either the `flush` slot armed (a backoff, or the machine's
 * own deadline on a storage operation, a lock or a request) or nothing to wait for (`idle`, where
 * the `flush:expiry` slot and the next wake take over). Results carry their ticket; stale ones are
 * ignored (a lock granted too late is released at once).
 */
export type FlushPhase =
  | { kind: 'idle' }
  | { kind: 'listing'; ticket: number; again: boolean }
  | { kind: 'leading'; ticket: number; pass: FlushPass }
  | { kind: 'sending'; ticket: number; lock: number; pass: FlushPass; batch: number }
  /** Writing to the outbox (removals, attempt counts); `lock` while inside a led room, none for expiry. */
  | { kind: 'settling'; ticket: number; lock: number | undefined; pass: FlushPass }
  | { kind: 'backoff'; dueAt: number; error: PartylineError }
  /** Another tab flushes a room this one wants to send: look again at `dueAt` (or take it over then). */
  | { kind: 'yielded'; dueAt: number }
  | { kind: 'closed' };

/** What one pass over the outbox still has to do, and what it found so far. */
export interface FlushPass {
  /** Rooms still to send, in order, each with its entries left in publish order; the first is the current one. */
  rooms: readonly RoomEntries[];
  /** Woken during the pass: list again when it ends (more may have been queued). */
  again: boolean;
  sent: boolean;
  /** Some room was being flushed by another tab. */
  busy: boolean;
  /** The first retryable failure: the pass ends in a backoff. */
  retryError: PartylineError | undefined;
}

export interface RoomEntries {
  room: string;
  entries: readonly OutboxEntry[];
}

export interface FlushMachineState {
  phase: FlushPhase;
  /** A transport is open (the shell hears connect/disconnect from the connection). */
  connected: boolean;
  /** Failed passes in a row (the backoff's exponent). */
  failures: number;
  /** Most messages per batch; shrinks when a relay refuses a batch as too large. */
  batchSize: number;
  /** When the `flush:expiry` slot is due, if armed. */
  expiryAt: number | undefined;
  /** The expiry slot fired: the next pass must read the outbox even without a connection. */
  expiryDue: boolean;
  tickets: number;
}

export const FLUSH_STATES = ['idle', 'listing', 'leading', 'sending', 'settling', 'backoff', 'yielded', 'closed'] as const satisfies readonly FlushPhase['kind'][];

export type FlushSlot = 'flush' | 'flush:expiry';

export type FlushEvent =
  /** Something was queued (here or in another tab): flush soon, but not inside a backoff. */
  | { type: 'wake' }
  /** Flush now, skipping a backoff (`client.flush()`, the device came online). */
  | { type: 'force_wake' }
  /** A transport opened: flush now. */
  | { type: 'connected' }
  | { type: 'disconnected' }
  | { type: 'listed'; ticket: number; entries: readonly OutboxEntry[] }
  /** This tab holds the room's lock (it must be released with `release`). */
  | { type: 'led'; ticket: number }
  /** Another tab flushes the room now. */
  | { type: 'busy'; ticket: number }
  /** The relay accepted the batch: one result per message (raw, checked here). */
  | { type: 'ack'; ticket: number; results: unknown }
  /** The relay refused the whole batch. */
  | { type: 'refused'; ticket: number; error: PartylineError }
  /** No answer: the request timed out or the transport closed first. */
  | { type: 'no_answer'; ticket: number; error: PartylineError }
  | { type: 'settled'; ticket: number }
  | { type: 'storage_failed'; ticket: number; error: PartylineError }
  | { type: 'timer'; slot: FlushSlot }
  | { type: 'close' };

export const FLUSH_EVENTS = [
  'wake', 'force_wake', 'connected', 'disconnected', 'listed', 'led', 'busy', 'ack', 'refused', 'no_answer', 'settled', 'storage_failed', 'timer', 'close',
] as const satisfies readonly FlushEvent['type'][];

export interface Settled<E = OutboxEntry> {
  sent: { entry: E; seq: number }[];
  failed: { entry: E; error: PartylineError }[];
  expired: { entry: E; error: PartylineError }[];
  /** Still queued: count one more failed attempt. */
  retry: E[];
}

export type FlushCommand =
  | { type: 'list'; ticket: number }
  | { type: 'lead'; ticket: number; room: string }
  | { type: 'release'; ticket: number }
  | { type: 'send'; ticket: number; room: string; batch: OutboxEntry[] }
  /** Removes sent, failed and expired entries (reporting each one this client removed), counts attempts of the rest. */
  | ({ type: 'settle'; ticket: number } & Settled)
  /** The relay refused the token the request `ticket` went out with. */
  | { type: 'token_refused'; ticket: number; error: PartylineError }
  | { type: 'set_timer'; slot: FlushSlot; delayMs: number }
  | { type: 'clear_timer'; slot: FlushSlot }
  | { type: 'report'; error: PartylineError };

export interface FlushMachineConfig {
  now(): number;
  /** The client's backoff for retry number `attempt`, at least `retryAfterMs`. */
  backoff(attempt: number, retryAfterMs?: number): number;
  /** Whether this client sends `entry` (it opened the room, so it holds a token for it; queued under its identity). */
  sends(entry: OutboxEntry): boolean;
  retentionMs: number;
  /** Most bytes of one publish frame as the transport writes it. */
  maxFrameBytes: number;
  /** How soon to look again at a room another tab was flushing. */
  busyRetryMs: number;
  /** The transport's own request timeout; the machine's deadline is a little later. */
  ackTimeoutMs: number;
  /** Deadline for one outbox read or write, or a lock request. */
  storageTimeoutMs: number;
}

export function initialFlushState(maxBatchMessages: number): FlushMachineState {
  return { phase: { kind: 'idle' }, connected: false, failures: 0, batchSize: maxBatchMessages, expiryAt: undefined, expiryDue: false, tickets: 0 };
}

type Result = { state: FlushMachineState; commands: FlushCommand[] };

/** One transition: the state after `event`, and what to do. Never throws, never does IO. */
export function flushTransition(state: FlushMachineState, event: FlushEvent, config: FlushMachineConfig): Result {
  const phase = state.phase;
  if (phase.kind === 'closed') return same(state);
  switch (event.type) {
    case 'close':
      return {
        state: { ...state, phase: { kind: 'closed' }, expiryAt: undefined },
        commands: [...releaseOf(phase), { type: 'clear_timer', slot: 'flush' }, { type: 'clear_timer', slot: 'flush:expiry' }],
      };
    case 'connected':
      return forceWake({ ...state, connected: true }, config);
    case 'disconnected':
      // A request in flight fails on its own (the transport rejects it when it closes).
      return same({ ...state, connected: false });
    case 'wake':
      if (phase.kind === 'idle') return startPass(state, config);
      return same(markAgain(state));
    case 'force_wake':
      return forceWake(state, config);
    case 'timer':
      if (event.slot === 'flush:expiry') {
        const expiring = { ...state, expiryAt: undefined, expiryDue: true };
        return phase.kind === 'idle' ? startPass(expiring, config) : same(markAgain(expiring));
      }
      switch (phase.kind) {
        case 'backoff':
        case 'yielded':
          return startPass(state, config);
        case 'listing':
        case 'settling':
          return storageFailed(state, phase, new PartylineError(PartylineErrorKind.Storage, `the outbox did not answer within ${config.storageTimeoutMs} ms`, { retryable: true }), config);
        case 'leading':
          // The lock never came: treat the room as busy (a late grant is released when it arrives).
          return skipBusy(state, phase.pass, config);
        case 'sending':
          return noAnswer(state, phase, new PartylineError(PartylineErrorKind.Timeout, 'the relay did not answer in time'), config);
        default:
          return same(state);
      }
    case 'listed': {
      if (phase.kind !== 'listing' || phase.ticket !== event.ticket) return same(state);
      return listed(state, phase.again, event.entries, config);
    }
    case 'led':
      // A lock this machine no longer waits for: give it back at once.
      if (phase.kind !== 'leading' || phase.ticket !== event.ticket) return { state, commands: [{ type: 'release', ticket: event.ticket }] };
      return sendNext(state, phase.pass, phase.ticket, [], config);
    case 'busy':
      if (phase.kind !== 'leading' || phase.ticket !== event.ticket) return same(state);
      return skipBusy(state, phase.pass, config);
    case 'ack':
    case 'refused':
    case 'no_answer':
      if (phase.kind !== 'sending' || phase.ticket !== event.ticket) return same(state);
      if (event.type === 'ack') return acked(state, phase, event.results, config);
      return event.type === 'refused' ? refused(state, phase, event.error, config) : noAnswer(state, phase, event.error, config);
    case 'settled':
      if (phase.kind !== 'settling' || phase.ticket !== event.ticket) return same(state);
      return phase.lock === undefined ? nextRoom(state, phase.pass, [], config) : sendNext(state, phase.pass, phase.lock, [], config);
    case 'storage_failed':
      if ((phase.kind !== 'listing' && phase.kind !== 'settling') || phase.ticket !== event.ticket) return same(state);
      return storageFailed(state, phase, event.error, config);
  }
}

function same(state: FlushMachineState): Result {
  return { state, commands: [] };
}

/** Woken during a pass: list again when it ends. In a backoff or idle nothing changes. */
function markAgain(state: FlushMachineState): FlushMachineState {
  const phase = state.phase;
  switch (phase.kind) {
    case 'listing':
      return { ...state, phase: { ...phase, again: true } };
    case 'leading':
    case 'sending':
    case 'settling':
      return { ...state, phase: { ...phase, pass: { ...phase.pass, again: true } } };
    default:
      return state;
  }
}

/** Connected again, online again or asked to: the backoff starts over, and a waiting pass starts now. */
function forceWake(state: FlushMachineState, config: FlushMachineConfig): Result {
  const fresh = { ...state, failures: 0 };
  switch (state.phase.kind) {
    case 'idle':
    case 'backoff':
    case 'yielded':
      return startPass(fresh, config);
    default:
      return same(markAgain(fresh));
  }
}

function startPass(state: FlushMachineState, config: FlushMachineConfig): Result {
  // With nothing to send to, read the outbox only for expiry (when due, or to arm its timer): a
  // publish while offline must not re-read a growing outbox every time.
  if (!state.connected && !state.expiryDue && state.expiryAt !== undefined) return toIdle(state);
  const ticket = state.tickets + 1;
  return enter({ ...state, tickets: ticket, expiryDue: false }, { kind: 'listing', ticket, again: false }, [{ type: 'list', ticket }], config);
}

/** The outbox as read: expired entries leave (reported), the rest are grouped per room this client sends. */
function listed(state: FlushMachineState, again: boolean, entries: readonly OutboxEntry[], config: FlushMachineConfig): Result {
  const now = config.now();
  const cutoff = now - config.retentionMs;
  const expired: Settled['expired'] = [];
  const sendable: OutboxEntry[] = [];
  let oldest = Infinity;
  for (const entry of entries) {
    if (entry.createdAt <= cutoff) {
      expired.push({ entry, error: expiredError(config.retentionMs) });
      continue;
    }
    oldest = Math.min(oldest, entry.createdAt);
    if (config.sends(entry)) sendable.push(entry);
  }
  const commands: FlushCommand[] = [];
  let expiryAt: number | undefined;
  if (oldest === Infinity) commands.push({ type: 'clear_timer', slot: 'flush:expiry' });
  else {
    const delayMs = Math.max(0, oldest + config.retentionMs - now + 1);
    expiryAt = now + delayMs;
    commands.push({ type: 'set_timer', slot: 'flush:expiry', delayMs });
  }
  const pass: FlushPass = { rooms: state.connected ? groupByRoom(sendable) : [], again, sent: false, busy: false, retryError: undefined };
  const next = { ...state, expiryAt };
  if (expired.length === 0) return nextRoom(next, pass, commands, config);
  return settle(next, pass, undefined, { sent: [], failed: [], expired, retry: [] }, commands, config);
}

/** Leads the pass's next room, or ends the pass. */
function nextRoom(state: FlushMachineState, pass: FlushPass, commands: FlushCommand[], config: FlushMachineConfig): Result {
  const room = pass.rooms[0];
  if (!room || !state.connected) return endPass(state, pass, commands, config);
  const ticket = state.tickets + 1;
  return enter({ ...state, tickets: ticket }, { kind: 'leading', ticket, pass }, [...commands, { type: 'lead', ticket, room: room.room }], config);
}

/** Another tab flushes the pass's current room: on to the next one (and look again later). */
function skipBusy(state: FlushMachineState, pass: FlushPass, config: FlushMachineConfig): Result {
  return nextRoom(state, { ...pass, busy: true, rooms: pass.rooms.slice(1) }, [], config);
}

/** Inside a led room: the next batch, or the room is done (released) and the next one's turn. */
function sendNext(state: FlushMachineState, pass: FlushPass, lock: number, commands: FlushCommand[], config: FlushMachineConfig): Result {
  const [current, ...others] = pass.rooms;
  if (!current || current.entries.length === 0 || !state.connected) {
    // Disconnected: the pass ends here (the next connect wakes the flusher).
    const rest = state.connected ? others : [];
    return nextRoom(state, { ...pass, rooms: rest }, [...commands, { type: 'release', ticket: lock }], config);
  }
  const size = batchLength(current.room, current.entries, state.batchSize, config.maxFrameBytes);
  if (size === 0) {
    // One message alone is over the frame limit: no relay takes it, so it fails instead of looping.
    const [entry] = current.entries as [OutboxEntry];
    const error = new PartylineError(PartylineErrorKind.PayloadTooLarge, `the message alone exceeds a ${config.maxFrameBytes}-byte publish frame`, { retryable: false });
    const rest = { ...pass, rooms: [{ room: current.room, entries: current.entries.slice(1) }, ...others] };
    return settle(state, rest, lock, { sent: [], failed: [{ entry, error }], expired: [], retry: [] }, commands, config);
  }
  const ticket = state.tickets + 1;
  return enter(
    { ...state, tickets: ticket },
    { kind: 'sending', ticket, lock, pass, batch: size },
    [...commands, { type: 'send', ticket, room: current.room, batch: current.entries.slice(0, size) }],
    config,
  );
}

type Sending = Extract<FlushPhase, { kind: 'sending' }>;

/** The batch of `phase` and the pass as it goes on after it: `stop` ends the current room for this pass. */
function afterBatch(phase: Sending, stop: boolean, outcome: { sent?: boolean; retryError?: PartylineError }): { batch: OutboxEntry[]; pass: FlushPass } {
  const [current, ...others] = phase.pass.rooms as [RoomEntries, ...RoomEntries[]];
  const batch = current.entries.slice(0, phase.batch);
  const pass: FlushPass = {
    ...phase.pass,
    rooms: [{ room: current.room, entries: stop ? [] : current.entries.slice(phase.batch) }, ...others],
    sent: phase.pass.sent || (outcome.sent ?? false),
    retryError: phase.pass.retryError ?? outcome.retryError,
  };
  return { batch, pass };
}

function acked(state: FlushMachineState, phase: Sending, results: unknown, config: FlushMachineConfig): Result {
  const byId = new Map<string, PublishResult>();
  if (Array.isArray(results)) {
    for (const raw of results) {
      const result = checkPublishResult(raw);
      if (result.ok) byId.set(result.value.id, result.value);
    }
  }
  const settled: Settled = { sent: [], failed: [], expired: [], retry: [] };
  let retryError: PartylineError | undefined;
  for (const entry of (phase.pass.rooms[0] as RoomEntries).entries.slice(0, phase.batch)) {
    const result = byId.get(entry.id);
    if (result && 'seq' in result) settled.sent.push({ entry, seq: result.seq });
    else if (result && !result.error.retryable) settled.failed.push({ entry, error: PartylineError.fromWire(result.error) });
    else {
      settled.retry.push(entry);
      const error = result ? PartylineError.fromWire(result.error) : new PartylineError(PartylineErrorKind.Internal, 'no result for this message');
      if (!retryError || (error.retryAfterMs ?? 0) > (retryError.retryAfterMs ?? 0)) retryError = error;
    }
  }
  // A message to retry holds back the rest of its room (publish order), not the other rooms.
  const { pass } = afterBatch(phase, retryError !== undefined, { sent: settled.sent.length > 0, ...(retryError ? { retryError } : {}) });
  return settle(state, pass, phase.lock, settled, [], config);
}

function refused(state: FlushMachineState, phase: Sending, error: PartylineError, config: FlushMachineConfig): Result {
  if (error.kind === PartylineErrorKind.PayloadTooLarge && phase.batch > 1) {
    // Too large as a whole for this relay (fewer messages per batch, or bytes): each may still pass alone.
    return sendNext({ ...state, batchSize: Math.max(1, Math.floor(phase.batch / 2)) }, phase.pass, phase.lock, [], config);
  }
  if (isTokenRefusal(error)) {
    // A new token cures it: the connection fetches one and reconnects; the batch waits, counted.
    return noAnswer(state, phase, error, config, [{ type: 'token_refused', ticket: phase.ticket, error }]);
  }
  if (error.retryable) return noAnswer(state, phase, error, config);
  const { batch, pass } = afterBatch(phase, false, {});
  return settle(state, pass, phase.lock, { sent: [], failed: batch.map((entry) => ({ entry, error })), expired: [], retry: [] }, [], config);
}

/** The batch may or may not have arrived: it stays queued (the relay deduplicates the resend), counted. */
function noAnswer(state: FlushMachineState, phase: Sending, error: PartylineError, config: FlushMachineConfig, commands: FlushCommand[] = []): Result {
  const { batch, pass } = afterBatch(phase, true, { retryError: error });
  return settle(state, pass, phase.lock, { sent: [], failed: [], expired: [], retry: batch }, commands, config);
}

function settle(state: FlushMachineState, pass: FlushPass, lock: number | undefined, settled: Settled, commands: FlushCommand[], config: FlushMachineConfig): Result {
  const ticket = state.tickets + 1;
  return enter({ ...state, tickets: ticket }, { kind: 'settling', ticket, lock, pass }, [...commands, { type: 'settle', ticket, ...settled }], config);
}

/** The outbox failed (or hung): tell the app, give back the room, try again after a backoff. */
function storageFailed(state: FlushMachineState, phase: FlushPhase, error: PartylineError, config: FlushMachineConfig): Result {
  return backoff(state, error, [...releaseOf(phase), { type: 'report', error }], config);
}

function endPass(state: FlushMachineState, pass: FlushPass, commands: FlushCommand[], config: FlushMachineConfig): Result {
  if (pass.retryError) return backoff(state, pass.retryError, commands, config);
  const ok = { ...state, failures: 0 };
  if (pass.sent || pass.again) {
    const next = startPass(ok, config);
    return { state: next.state, commands: [...commands, ...next.commands] };
  }
  if (pass.busy) return enter(ok, { kind: 'yielded', dueAt: config.now() + config.busyRetryMs }, commands, config);
  return toIdle(ok, commands);
}

function backoff(state: FlushMachineState, error: PartylineError, commands: FlushCommand[], config: FlushMachineConfig): Result {
  const failures = state.failures + 1;
  const dueAt = config.now() + config.backoff(failures, error.retryAfterMs);
  return enter({ ...state, failures }, { kind: 'backoff', dueAt, error }, commands, config);
}

function toIdle(state: FlushMachineState, commands: FlushCommand[] = []): Result {
  return { state: { ...state, phase: { kind: 'idle' } }, commands: [...commands, { type: 'clear_timer', slot: 'flush' }] };
}

/** Enters `phase` with the `flush` slot armed for it: its backoff, or the machine's own deadline on what it waits for. */
function enter(state: FlushMachineState, phase: FlushPhase, commands: FlushCommand[], config: FlushMachineConfig): Result {
  let delayMs: number;
  switch (phase.kind) {
    case 'backoff':
    case 'yielded':
      delayMs = Math.max(0, phase.dueAt - config.now());
      break;
    case 'sending':
      delayMs = config.ackTimeoutMs + 1000;
      break;
    default:
      delayMs = config.storageTimeoutMs;
  }
  return { state: { ...state, phase }, commands: [...commands, { type: 'set_timer', slot: 'flush', delayMs }] };
}

/** The room lock `phase` holds, given back. */
function releaseOf(phase: FlushPhase): FlushCommand[] {
  if (phase.kind === 'leading') return [{ type: 'release', ticket: phase.ticket }];
  if ((phase.kind === 'sending' || phase.kind === 'settling') && phase.lock !== undefined) return [{ type: 'release', ticket: phase.lock }];
  return [];
}

/** An entry the outbox kept longer than `retentionMs` leaves with this. */
export function expiredError(retentionMs: number): PartylineError {
  return new PartylineError(PartylineErrorKind.Expired, `not delivered within ${retentionMs} ms`, { retryable: false });
}

/** The publish request for `batch`, exactly as sent (its encoding is what the frame limit counts). */
export function publishPayload(room: string, batch: readonly OutboxEntry[]): { room: string; messages: { id: string; type: string; body: string }[] } {
  return { room, messages: batch.map(({ id, type, body }) => ({ id, type, body })) };
}

/** A Socket.IO event frame's bytes before its JSON: packet types (`42`) and an ack id. */
const FRAME_PREFIX_BYTES = 2 + 16;

/**
 * The bytes of the frame that publishes `batch`: `42<ack id>["room:publish",{...}]` in UTF-8. Bodies
 * are JSON text escaped again inside it, so quote-dense bodies cost up to twice their own bytes.
 */
export function publishFrameBytes(room: string, batch: readonly OutboxEntry[]): number {
  return batch.reduce((bytes, entry, i) => bytes + messageBytes(entry) + (i > 0 ? 1 : 0), envelopeBytes(room));
}

function envelopeBytes(room: string): number {
  return FRAME_PREFIX_BYTES + utf8ByteLength(JSON.stringify([ClientEvent.Publish, publishPayload(room, [])]));
}

function messageBytes({ id, type, body }: OutboxEntry): number {
  return utf8ByteLength(JSON.stringify({ id, type, body }));
}

/**
 * How many entries from the start make the next batch: at most `maxCount`, and a frame of at most
 * `maxFrameBytes`; 0 when the first alone does not fit.
 */
export function batchLength(room: string, entries: readonly OutboxEntry[], maxCount: number, maxFrameBytes: number): number {
  let bytes = envelopeBytes(room);
  let count = 0;
  for (const entry of entries) {
    if (count === maxCount) break;
    bytes += messageBytes(entry) + (count > 0 ? 1 : 0);
    if (bytes > maxFrameBytes) break;
    count++;
  }
  return count;
}

function groupByRoom(entries: readonly OutboxEntry[]): RoomEntries[] {
  const rooms = new Map<string, OutboxEntry[]>();
  for (const entry of entries) {
    const list = rooms.get(entry.room);
    if (list) list.push(entry);
    else rooms.set(entry.room, [entry]);
  }
  return [...rooms].map(([room, list]) => ({ room, entries: list }));
}
