import { DEFAULT_LIMITS, PresenceSnapshotSchema, RoomPresenceEventSchema, validate, type PresenceMember, type RoomPresenceEvent } from '@partyline/protocol';
import type { Connection } from './connection.js';
import { PartylineError, PartylineErrorKind } from './errors.js';
import { encodeJson, parseJson } from './json-text.js';
import { isEmptyDiff, PresenceView, type PresenceDiff } from './presence-view.js';
import { request } from './request.js';
import type { Scheduler } from './scheduler.js';

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
  readonly #view = new PresenceView();
  /** What this tab asked for: entered with this data (JSON text or none), or not entered. */
  #entered: { data: string | undefined } | undefined;
  #members: RoomMember[] = [];
  #watching = false;
  /** Live changes that came while a member list was on its way: applied after it (it may be older than them). */
  #held: RoomPresenceEvent[] | undefined;
  /** Scheduler slots: the member list fetched again after a gap; a catch-up (enter again, then the member list) that failed for now, tried again on the same connection. */
  readonly #refetchSlot: string;
  readonly #catchUpSlot: string;
  #catchUpAttempt = 0;

  /** @internal use `room.presence` */
  constructor(room: string, host: PresenceHost) {
    this.#room = room;
    this.#host = host;
    this.#refetchSlot = `presence:${room}:refetch`;
    this.#catchUpSlot = `presence:${room}:catch-up`;
  }

  /**
   * Appears in the room (needs the token's `presence` capability), with optional small data (JSON,
   * up to 1 KiB) such as a display name. Resolves once a relay has it — while offline, when the
   * connection is back. Entering again replaces the data, like `update`.
   */
  async enter(data?: unknown): Promise<void> {
    this.#host.assertOpen();
    const text = data === undefined ? undefined : encodeJson(data, DEFAULT_LIMITS.maxPresenceDataBytes, 'presence data');
    this.#entered = { data: text ?? this.#entered?.data };
    try {
      await this.#whenConnected(() => this.#sendEnter());
    } catch (error) {
      // The caller hears about it; a passing failure is tried again in the background all the same.
      this.#catchUpLater(error);
      throw error;
    }
  }

  /** Changes this member's data for everyone (after `enter`). */
  async update(data: unknown): Promise<void> {
    if (!this.#entered) throw new PartylineError(PartylineErrorKind.BadRequest, 'enter the room’s presence before updating it', { retryable: false });
    await this.enter(data);
  }

  /** Leaves now (no grace). Closing the client, leaving the room and hiding the page leave too. */
  async leave(): Promise<void> {
    if (!this.#entered) return;
    this.#entered = undefined;
    const transport = this.#host.connection.transport;
    if (transport) await request(transport, this.#host.requestTimeoutMs, 'presence:leave', { room: this.#room }).catch(() => {});
  }

  /** The members as this client knows them now (synchronous; updated before each `presence` event). */
  members(): RoomMember[] {
    this.#watch();
    return this.#members;
  }

  // ---- internal, called by the room ----

  /** @internal starts following the member list (on first use of presence, or a `presence` listener) */
  _watch(): void {
    this.#watch();
  }

  /** @internal a connection came up: enter again if entered, then take the member list as it is */
  _connected(): void {
    this.#catchUpAttempt = 0;
    void this.#catchUp();
  }

  /** @internal */
  _event(raw: unknown): void {
    const event = validate(RoomPresenceEventSchema, raw);
    if (!event.ok || !this.#watching) return;
    if (this.#held) this.#held.push(event.value);
    else this.#apply(event.value);
  }

  #apply(event: RoomPresenceEvent): void {
    const { diff, stale } = this.#view.apply(event.epoch, event.changes);
    this.#publish(diff);
    if (stale) this.#refetchSoon();
  }

  /** @internal best effort: tell the relay now rather than after the grace; `keepIntent` re-enters on the next connection (a page back from the cache) */
  _leaveNow(keepIntent = false): void {
    if (!this.#entered) return;
    if (!keepIntent) this.#entered = undefined;
    this.#host.connection.transport?.send('presence:leave', { room: this.#room });
  }

  /** @internal */
  _close(): void {
    this._leaveNow();
    this.#host.scheduler.cancel(this.#refetchSlot);
    this.#host.scheduler.cancel(this.#catchUpSlot);
    this.#watching = false;
  }

  /** Enters again (if entered) and takes the member list as it is. */
  async #catchUp(): Promise<void> {
    this.#host.scheduler.cancel(this.#catchUpSlot);
    if (!this.#watching && !this.#entered) return;
    try {
      if (this.#entered) await this.#sendEnter();
      await this.#refetch();
      this.#catchUpAttempt = 0;
    } catch (error) {
      this.#catchUpLater(error);
    }
  }

  /**
   * After a failure that may pass (the relay's store away, a timeout), tries the catch-up again on
   * this connection with the client's backoff — not only on the next connection, which may be hours
   * away. A refusal for good (forbidden) was reported to enter()'s caller and is not repeated.
   */
  #catchUpLater(error: unknown): void {
    if (error instanceof PartylineError && !error.retryable) return;
    const transport = this.#host.connection.transport;
    if (!transport || this.#host.scheduler.dueAt(this.#catchUpSlot) !== undefined) return;
    const delay = this.#host.scheduler.backoff(++this.#catchUpAttempt, error instanceof PartylineError ? error.retryAfterMs : undefined);
    this.#host.scheduler.schedule(this.#catchUpSlot, delay, () => {
      // A new connection runs its own catch-up (_connected).
      if (this.#host.connection.transport === transport) void this.#catchUp();
    });
  }

  #watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    if (this.#host.connection.transport) void this.#refetch().catch(() => this.#refetchSoon());
  }

  async #sendEnter(): Promise<void> {
    const entered = this.#entered;
    if (!entered) return;
    this.#watch();
    try {
      await request(this.#host.connection.transport, this.#host.requestTimeoutMs, 'presence:enter', { room: this.#room, ...(entered.data !== undefined ? { data: entered.data } : {}) });
    } catch (error) {
      // Refused for good (no capability, data too large): this tab is not in; anything else retries on reconnect.
      if (error instanceof PartylineError && !error.retryable && this.#entered === entered) this.#entered = undefined;
      throw error;
    }
  }

  async #refetch(): Promise<void> {
    this.#host.scheduler.cancel(this.#refetchSlot);
    const held: RoomPresenceEvent[] = (this.#held = []);
    try {
      const ack = await request(this.#host.connection.transport, this.#host.requestTimeoutMs, 'presence:get', { room: this.#room });
      const snapshot = validate(PresenceSnapshotSchema, ack);
      if (!snapshot.ok) throw new PartylineError(PartylineErrorKind.Internal, `malformed member list from relay: ${snapshot.error.message}`, { retryable: true });
      this.#publish(this.#view.reset(snapshot.value));
    } finally {
      // The list may have been read before changes that arrived meanwhile: they continue it (or are in it already).
      if (this.#held === held) this.#held = undefined;
      for (const event of held) this.#apply(event);
    }
  }

  #refetchSoon(): void {
    this.#host.scheduler.schedule(this.#refetchSlot, GAP_WAIT_MS, () => {
      if (this.#host.connection.transport) void this.#refetch().catch(() => this.#refetchSoon());
    });
  }

  #publish(diff: PresenceDiff): void {
    if (isEmptyDiff(diff)) return;
    this.#members = [...this.#view.members.values()].map(toMember);
    this.#host.emit({ room: this.#room, members: this.#members, joined: diff.joined.map(toMember), left: diff.left.map(toMember), updated: diff.updated.map(toMember) });
  }

  /** Runs `send` now if connected; otherwise when the next connection is up (resolving then). */
  async #whenConnected(send: () => Promise<void>): Promise<void> {
    if (this.#host.connection.transport) return send();
    await new Promise<void>((resolve) => {
      const stop = this.#host.connection.on('connect', () => {
        stop();
        resolve();
      });
    });
    // _connected (on the same connect) sends the enter; wait for an answer of our own.
    return send();
  }
}
