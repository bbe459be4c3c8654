import { DEFAULT_LIMITS, type PresenceMember } from '@partyline/protocol';
import { isTokenRefusal } from './connection-machine.js';
import type { Connection } from './connection.js';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
import { MachineRunner } from './machine-runner.js';
import { encodeJson, parseJson } from './json-text.js';
import { initialPresenceState, presenceTransition, type PresenceCommand, type PresenceEvent, type PresenceMachineConfig, type PresenceMachineState } from './presence-machine.js';
import { request } from './request.js';
import type { Scheduler } from './scheduler.js';
import { checkRoomPresenceEvent } from './wire-checks.js';

/** A member of a room's presence: one identity (`sub`), however many tabs and devices it is in with. */
export interface RoomMember<Data = unknown> {
  sub: string;
  /** What the member entered or last updated with (`undefined` if nothing). */
  data: Data | undefined;
  /** When it joined, epoch milliseconds (relay clock). */
  since: number;
}

/** The `presence` event of a room: the members now, and what changed since the last event. */
export interface PresenceContext<Data = unknown> {
  room: string;
  members: RoomMember<Data>[];
  joined: RoomMember<Data>[];
  left: RoomMember<Data>[];
  updated: RoomMember<Data>[];
}

/** What a room's presence needs from its room and client (internal). */
export interface PresenceHost {
  readonly connection: Connection;
  readonly requestTimeoutMs: number;
  /** The client's scheduler: its backoff, for entering again when a relay could not take it (`unavailable`, a timeout). */
  readonly scheduler: Scheduler;
  assertOpen(): void;
  emit(context: PresenceContext): void;
  /** A refusal for good nobody awaits: the room's `error` event. */
  fail(error: PartylineError): void;
}

/** How long live changes may wait for one before them before the member list is fetched again. */
const GAP_WAIT_MS = 500;

const toMember = (member: PresenceMember): RoomMember => ({ sub: member.sub, data: member.data === undefined ? undefined : parseJson(member.data), since: member.since });

/**
 * Who is in a room, kept by the relays: `room.presence`. Entering is opt-in (a viewer can watch
 * without appearing); the relays keep a member present while any of its connections is in, renew
 * that by themselves, and remove it when the last one leaves, closes, hides its page, or stays
 * disconnected past a short grace. Reconnects and relay failovers need no app code and show no
 * leave/join flicker.
 *
 * @example
 * room.presence.enter({ name: 'Ana' });
 * room.on('presence', ({ members, joined }) => {
 *   renderAvatars(members);
 *   for (const m of joined) toast(`${m.data?.name ?? m.sub} is here`);
 * });
 */
export class RoomPresence {
  readonly #room: string;
  readonly #host: PresenceHost;
  readonly #runner: MachineRunner<PresenceMachineState, PresenceEvent, PresenceCommand>;
  #members: RoomMember[] = [];
  /** Pending enter() calls by waiter id (the machine says when each settles). */
  readonly #waiters = new Map<number, { resolve(): void; reject(error: PartylineError): void }>();
  #nextWaiter = 0;
  /** The app's leave() waits for this answer. */
  #leaving: Promise<unknown> = Promise.resolve();
  readonly #stopListening: () => void;

  /** @internal use `room.presence` */
  constructor(room: string, host: PresenceHost) {
    this.#room = room;
    this.#host = host;
    const { scheduler } = host;
    const config: PresenceMachineConfig = { gapWaitMs: GAP_WAIT_MS, backoff: (attempt, retryAfterMs) => scheduler.backoff(attempt, retryAfterMs) };
    this.#runner = new MachineRunner('presence', initialPresenceState(), (state, event) => presenceTransition(state, event, config), (command) => this.#run(command), scheduler);
    this.#stopListening = host.connection.on('disconnect', () => this.#dispatch({ type: 'disconnected' }));
  }

  /**
   * Appears in the room (needs the token's `presence` capability), with optional small data (JSON,
   * up to 1 KiB) such as a display name. Resolves once a relay has it — while offline, when the
   * connection is back. Entering again replaces the data, like `update`. Rejects with the relay's
   * refusal or a timeout (a passing failure is still tried again in the background), and with
   * `closed` when the room is left, presence is left or the client closes before a relay had it.
   */
  async enter(data?: unknown): Promise<void> {
    this.#host.assertOpen();
    const text = data === undefined ? undefined : encodeJson(data, DEFAULT_LIMITS.maxPresenceDataBytes, 'presence data');
    const waiter = this.#nextWaiter++;
    const settled = new Promise<void>((resolve, reject) => this.#waiters.set(waiter, { resolve, reject }));
    this.#dispatch({ type: 'enter', waiter, data: text });
    await settled;
  }

  /** Changes this member's data for everyone (after `enter`). */
  async update(data: unknown): Promise<void> {
    if (!this.#machine.intent) throw new PartylineError(PartylineErrorKind.BadRequest, 'call enter() before update()', { retryable: false });
    await this.enter(data);
  }

  /** Leaves now (no grace). Closing the client, leaving the room and hiding the page leave too. */
  async leave(): Promise<void> {
    this.#leaving = Promise.resolve();
    this.#dispatch({ type: 'leave' });
    await this.#leaving;
  }

  /** The members as this client knows them now (synchronous; updated before each `presence` event). */
  members(): RoomMember[] {
    this.#dispatch({ type: 'watch' });
    return this.#members;
  }

  // ---- internal, called by the room and the client ----

  /** @internal starts following the member list (on first use of presence, or a `presence` listener) */
  _watch(): void {
    this.#dispatch({ type: 'watch' });
  }

  /** @internal a connection came up (or the page came back from the cache): enter again if entered, then take the member list as it is */
  _connected(): void {
    this.#dispatch({ type: 'connected' });
  }

  /** @internal live changes from the relay (an undecodable event is dropped: a gap asks for the list) */
  _event(raw: unknown): void {
    const event = checkRoomPresenceEvent(raw);
    if (event.ok) this.#dispatch({ type: 'presence', event: event.value });
  }

  /** @internal best effort: tell the relay now rather than after the grace; `keepIntent` re-enters on the next connection (a page back from the cache) */
  _leaveNow(keepIntent = false): void {
    this.#dispatch({ type: 'leave_now', keepIntent });
  }

  /** @internal the room was left or the client closed: every pending enter() rejects with `closed` */
  _close(): void {
    this.#dispatch({ type: 'close', reason: 'the room was left or the client closed' });
    this.#stopListening();
  }

  get #machine(): PresenceMachineState {
    return this.#runner.state;
  }

  #dispatch(event: PresenceEvent): void {
    this.#runner.dispatch(event);
  }

  #run(command: PresenceCommand): void {
    const { scheduler, connection } = this.#host;
    const room = this.#room;
    switch (command.type) {
      case 'enter':
        return this.#request(command.ticket, 'presence:enter', { room, ...(command.data !== undefined ? { data: command.data } : {}) });
      case 'get':
        return this.#request(command.ticket, 'presence:get', { room });
      case 'leave':
        if (!command.wait) return connection.transport?.send('presence:leave', { room });
        this.#leaving = request(connection.transport, this.#host.requestTimeoutMs, 'presence:leave', { room }).catch(() => {});
        return;
      case 'schedule':
        // A gap's wait is not pushed back by later changes; a backoff replaces any earlier one.
        return scheduler.schedule(`presence:${room}:${command.slot}`, command.delayMs, () => this.#dispatch({ type: 'timer', slot: command.slot }), command.slot === 'refetch' ? 'earliest' : 'replace');
      case 'cancel':
        return scheduler.cancel(`presence:${room}:${command.slot}`);
      case 'emit': {
        const { diff } = command;
        this.#members = command.members.map(toMember);
        return this.#host.emit({ room, members: this.#members, joined: diff.joined.map(toMember), left: diff.left.map(toMember), updated: diff.updated.map(toMember) });
      }
      case 'fail':
        return this.#host.fail(command.error);
      case 'settle':
        for (const id of command.waiters) {
          const waiter = this.#waiters.get(id);
          this.#waiters.delete(id);
          if (command.error) waiter?.reject(command.error);
          else waiter?.resolve();
        }
        return;
    }
  }

  #request(ticket: number, event: 'presence:enter' | 'presence:get', payload: object): void {
    const { connection, requestTimeoutMs } = this.#host;
    const transport = connection.transport;
    request(transport, requestTimeoutMs, event, payload).then(
      (value) => this.#dispatch({ type: 'answer', ticket, answer: { ok: true, value } }),
      (raw: unknown) => {
        const error = toPartylineError(raw);
        if (isTokenRefusal(error)) connection.tokenRefused(transport, error);
        this.#dispatch({ type: 'answer', ticket, answer: { ok: false, error } });
      },
    );
  }
}
