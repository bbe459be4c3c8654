import type { Connection } from './connection.js';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
import {
  flushTransition,
  initialFlushState,
  publishPayload,
  type FlushCommand,
  type FlushEvent,
  type FlushMachineConfig,
  type FlushMachineState,
} from './flush-machine.js';
import type { PublishAck } from '@partyline/protocol';
import { MachineRunner } from './machine-runner.js';
import type { OutboxEntry, OutboxStore } from './outbox-store.js';
import type { Scheduler } from './scheduler.js';
import type { Transport } from './transport.js';

/** What became of one outbox entry. */
export type Settlement =
  | { status: 'sent'; room: string; id: string; seq: number }
  | { status: 'failed'; room: string; id: string; error: PartylineError }
  | { status: 'expired'; room: string; id: string; error: PartylineError };

export interface FlusherOptions {
  connection: Connection;
  outbox: OutboxStore;
  /**
   * Whether this client sends `room`'s entries at all: it opened the room during its life (so it
   * holds a token for it), whether or not the room is still open.
   */
  sends(room: string): boolean;
  /** Runs one room's sends as that room's only flusher across tabs; false when another tab flushes it now. */
  lead(room: string, task: () => Promise<void>): Promise<boolean>;
  /** Whom this client sends for: entries queued under another identity wait for theirs. */
  identity(): string | undefined;
  /** How soon to look again at a room another tab was flushing. */
  busyRetryMs: number;
  scheduler: Scheduler;
  ackTimeoutMs: number;
  maxBatchMessages: number;
  /**
   * Most bytes of one publish frame as written (JSON-escaped bodies included). Kept ≤ the relay's
   * `maxBatchBytes`, this also keeps under its frame limit (`maxBatchBytes` + 64 KiB).
   */
  maxBatchBytes: number;
  retentionMs: number;
  /** Called once per entry this flusher removed from the outbox. */
  onSettled(settlement: Settlement): void;
  /** Called with every publish ack, as it arrives: the messages it appended are not echoed to this connection (protocol 3). */
  onAcked(room: string, batch: readonly OutboxEntry[], ack: PublishAck): void;
  onError(error: PartylineError): void;
}

/** How long one outbox read or write, or a room lock, may take before the pass backs off. */
const STORAGE_TIMEOUT_MS = 30_000;

/**
 * The IO shell of the flush machine (flush-machine.ts): outbox reads and writes, room locks, publish
 * requests and the `flush` / `flush:expiry` scheduler slots, as the machine commands. Sends the
 * outbox per room, in publish order, acked per message; acked and permanently refused entries leave
 * the outbox; retryable failures back off (capped exponential, full jitter, at least the relay's
 * `retryAfterMs`); entries older than the retention leave as `expired`.
 */
export class Flusher {
  readonly #o: FlusherOptions;
  readonly #runner: MachineRunner<FlushMachineState, FlushEvent, FlushCommand>;
  /** Events raised while a transition's commands run wait their turn (transitions never nest). */
  /** Room locks held, by lead ticket: resolving one ends that lead's task. */
  readonly #locks = new Map<number, () => void>();
  /** The transport the latest request went out on (a token refusal names it). */
  #request: { ticket: number; transport: Transport } | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #unsubscribe: (() => void)[];

  constructor(options: FlusherOptions) {
    this.#o = options;
    const { scheduler, connection } = options;
    const config: FlushMachineConfig = {
      now: () => scheduler.clock.now(),
      backoff: (attempt, retryAfterMs) => scheduler.backoff(attempt, retryAfterMs),
      // Only entries queued under this identity: another tab's, session's or account's entries may
      // need a token this client does not have (or must not use), and are neither sent nor failed here.
      sends: (entry) => {
        if (!options.sends(entry.room)) return false;
        return entry.sender === undefined || entry.sender === options.identity();
      },
      retentionMs: options.retentionMs,
      maxFrameBytes: options.maxBatchBytes,
      busyRetryMs: options.busyRetryMs,
      ackTimeoutMs: options.ackTimeoutMs,
      storageTimeoutMs: STORAGE_TIMEOUT_MS,
    };
    const initial = { ...initialFlushState(options.maxBatchMessages), connected: connection.transport !== undefined };
    this.#runner = new MachineRunner('flush', initial, (state, event) => flushTransition(state, event, config), (command) => this.#run(command), options.scheduler);
    this.#unsubscribe = [
      connection.on('connect', () => this.#dispatch({ type: 'connected' })),
      connection.on('disconnect', () => this.#dispatch({ type: 'disconnected' })),
    ];
  }

  /**
   * Flushes soon. `force` skips a running backoff wait (browser online, `client.flush()`); a new
   * publish does not, so a struggling relay is not hammered.
   */
  wake(force = false): void {
    this.#dispatch({ type: force ? 'force_wake' : 'wake' });
  }

  /** Failed passes in a row (for `client.inspect()`). */
  get failures(): number {
    return this.#machine.failures;
  }

  /** When the next pass is due, while waiting (a backoff, or another tab flushing). */
  get retryAt(): number | undefined {
    const phase = this.#machine.phase;
    return phase.kind === 'backoff' || phase.kind === 'yielded' ? phase.dueAt : undefined;
  }

  /** Resolves when no outbox operation or request of this flusher is running (tests, close). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  close(): void {
    this.#dispatch({ type: 'close' });
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    for (const release of this.#locks.values()) release();
    this.#locks.clear();
  }

  get #machine(): FlushMachineState {
    return this.#runner.state;
  }

  #dispatch(event: FlushEvent): void {
    this.#runner.dispatch(event);
  }

  /** Runs `work` and feeds its outcome back as an event. */
  #track(work: Promise<FlushEvent | undefined>): void {
    const running = work.then((event) => event && this.#dispatch(event));
    this.#inFlight.add(running);
    void running.finally(() => this.#inFlight.delete(running));
  }

  #run(command: FlushCommand): void {
    const { scheduler, outbox } = this.#o;
    switch (command.type) {
      case 'list':
        return this.#track(outbox.list().then(
          (entries): FlushEvent => ({ type: 'listed', ticket: command.ticket, entries }),
          (error: unknown): FlushEvent => ({ type: 'storage_failed', ticket: command.ticket, error: storageError(error) }),
        ));
      case 'lead':
        return this.#lead(command.ticket, command.room);
      case 'release':
        this.#locks.get(command.ticket)?.();
        this.#locks.delete(command.ticket);
        return;
      case 'send':
        return this.#send(command.ticket, command.room, command.batch);
      case 'settle':
        return this.#track(this.#settle(command).then(
          (): FlushEvent => ({ type: 'settled', ticket: command.ticket }),
          (error: unknown): FlushEvent => ({ type: 'storage_failed', ticket: command.ticket, error: storageError(error) }),
        ));
      case 'token_refused':
        if (this.#request?.ticket === command.ticket) this.#o.connection.tokenRefused(this.#request.transport, command.error);
        return;
      case 'set_timer':
        return scheduler.schedule(command.slot, command.delayMs, () => this.#dispatch({ type: 'timer', slot: command.slot }), 'replace');
      case 'clear_timer':
        return scheduler.cancel(command.slot);
      case 'report':
        return this.#o.onError(command.error);
    }
  }

  #lead(ticket: number, room: string): void {
    const held = new Promise<void>((resolve) => this.#locks.set(ticket, resolve));
    const led = this.#o.lead(room, async () => {
      if (this.#machine.phase.kind === 'closed') return;
      this.#dispatch({ type: 'led', ticket });
      await held;
    });
    this.#track(led.then(
      (ran): FlushEvent | undefined => (ran ? undefined : { type: 'busy', ticket }),
      (): FlushEvent => ({ type: 'busy', ticket }),
    ));
  }

  #send(ticket: number, room: string, batch: OutboxEntry[]): void {
    const transport = this.#o.connection.transport;
    if (!transport) return this.#dispatch({ type: 'no_answer', ticket, error: new PartylineError(PartylineErrorKind.Disconnected, 'not connected') });
    this.#request = { ticket, transport };
    this.#track(transport.request('room:publish', publishPayload(room, batch), this.#o.ackTimeoutMs).then(
      (ack): FlushEvent => {
        if (ack && typeof ack === 'object' && (ack as { ok?: unknown }).ok === true) {
          this.#o.onAcked(room, batch, ack as PublishAck);
          return { type: 'ack', ticket, results: (ack as { results?: unknown }).results };
        }
        const wire = (ack as { error?: unknown } | undefined)?.error;
        return { type: 'refused', ticket, error: wire ? toPartylineError(wire) : new PartylineError(PartylineErrorKind.Internal, 'malformed publish ack', { retryable: true }) };
      },
      (error: unknown): FlushEvent => ({ type: 'no_answer', ticket, error: toPartylineError(error) }),
    ));
  }

  /** Removes what left the outbox (reporting each entry this client removed) and counts the rest's attempts. */
  async #settle(command: Extract<FlushCommand, { type: 'settle' }>): Promise<void> {
    const leaving: [OutboxEntry, Settlement][] = [
      ...command.sent.map(({ entry, seq }): [OutboxEntry, Settlement] => [entry, { status: 'sent', room: entry.room, id: entry.id, seq }]),
      ...(['failed', 'expired'] as const).flatMap((status) =>
        command[status].map(({ entry, error }): [OutboxEntry, Settlement] => [entry, { status, room: entry.room, id: entry.id, error }]),
      ),
    ];
    if (leaving.length > 0) {
      const removed = new Set(await this.#o.outbox.remove(leaving.map(([entry]) => entry)));
      for (const [entry, settlement] of leaving) if (removed.has(entry)) this.#o.onSettled(settlement);
    }
    if (command.retry.length > 0) await this.#o.outbox.countAttempt(command.retry);
  }
}

function storageError(error: unknown): PartylineError {
  const failure = toPartylineError(error);
  return failure.kind === PartylineErrorKind.Storage ? failure : new PartylineError(PartylineErrorKind.Storage, failure.message, { retryable: true, cause: error });
}
