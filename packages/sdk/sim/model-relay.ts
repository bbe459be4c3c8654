import type { LogMessage } from '@partyline/protocol';
import type { ModelLog } from './model-log.js';

/** The relays' limits as the real relay has them by default. */
export const MAX_BATCH_BYTES = 1024 * 1024;
export const MAX_FRAME_BYTES = MAX_BATCH_BYTES + 64 * 1024;
export const MAX_PAGE = 500;
/** Heartbeat (the relay's defaults): a silent link is noticed after interval + timeout. */
export const PING_TOTAL_MS = 10_000;
/** How long the relays keep a member whose connection went away. */
export const PRESENCE_GRACE_MS = 5_000;

/** A relay's side of one connection. */
export interface RelaySide {
  readonly id: number;
  readonly relay: number;
  readonly sub: string;
  readonly joined: Set<string>;
  readonly watching: Set<string>;
  /** Delivers a relay event to the client (through the link's faults and latency). */
  push(event: string, payload: unknown): void;
  /** The relay drops the connection (the client sees it close). */
  drop(reason: string): void;
}

/** An error the schedule injects into the next matching request. */
export interface InjectedError {
  event?: string;
  kind: string;
  retryAfterMs?: number;
}

const RETRYABLE = new Set(['token_expired', 'rate_limited', 'unavailable', 'draining', 'slow_consumer', 'internal']);
const wire = (kind: string, message: string, retryAfterMs?: number) => ({
  kind,
  message,
  retryable: RETRYABLE.has(kind),
  ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
});
const fail = (kind: string, message: string, retryAfterMs?: number) => ({ ok: false, error: wire(kind, message, retryAfterMs) });

interface PresenceMember {
  data: string | undefined;
  since: number;
  links: Set<number>;
}

interface PresenceRoom {
  version: number;
  members: Map<string, PresenceMember>;
}

/**
 * The model relays: any number of relays over one shared store (the model log) and one shared
 * presence state, answering the protocol's requests the way the real relay does (join before read,
 * positioned pages, per-message publish results with dedup, presence with a grace) — plus the
 * faults a schedule switches on: relays down or draining, the store unavailable, an injected
 * error of any kind at the next request, a lost ack, a dropped or repeated live event.
 */
export class ModelRelays {
  readonly log: ModelLog;
  readonly up: boolean[];
  /** The store answers `unavailable` while paused. */
  storePaused = false;
  /** The signing key relays accept; tokens of another key are refused. */
  key = 1;
  /** Rooms no token grants. */
  readonly forbidden = (room: string) => room.endsWith(':locked');
  readonly injected: InjectedError[] = [];
  /** Probability that a request's answer is lost (the client waits out its timeout). */
  lostAnswer = 0;
  /** Probability that a live event is lost (pub/sub is at most once) or repeated. */
  lostLive = 0;
  repeatedLive = 0;
  readonly sides = new Map<number, RelaySide>();
  readonly presence = new Map<string, PresenceRoom>();
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #later: (run: () => void, delayMs: number) => void;
  #generation = 0;

  constructor(log: ModelLog, relays: number, env: { now(): number; random(): number; later(run: () => void, delayMs: number): void }) {
    this.log = log;
    this.up = Array.from({ length: relays }, () => true);
    this.#now = env.now;
    this.#random = env.random;
    this.#later = env.later;
  }

  /** The handshake: refused (with the relay's error) or accepted. */
  handshake(token: unknown): { ok: true; sub: string } | { ok: false; error: ReturnType<typeof wire> } {
    const claims = readToken(token);
    if (!claims) return { ok: false, error: wire('unauthorized', 'malformed token') };
    if (claims.key !== this.key) return { ok: false, error: wire('unauthorized', 'token signed with an unknown key') };
    return { ok: true, sub: claims.sub };
  }

  connected(side: RelaySide): void {
    this.sides.set(side.id, side);
  }

  /** The relay noticed the connection is gone (closed, or silent past the heartbeat). */
  disconnected(side: RelaySide): void {
    if (!this.sides.delete(side.id)) return;
    for (const [room, state] of this.presence) {
      for (const [sub, member] of state.members) {
        if (!member.links.has(side.id)) continue;
        // The relays wait out the grace: a member that reconnects meanwhile never flickers.
        this.#later(() => {
          if (!member.links.delete(side.id) || member.links.size > 0 || state.members.get(sub) !== member) return;
          state.members.delete(sub);
          this.#presenceChange(room, 'left', sub, member);
        }, PRESENCE_GRACE_MS);
      }
    }
  }

  /** Answers one request; undefined when the answer is lost. */
  handle(side: RelaySide, event: string, payload: Record<string, unknown>): unknown {
    const answer = this.#answer(side, event, payload);
    if (this.lostAnswer > 0 && this.#random() < this.lostAnswer) return undefined;
    return answer;
  }

  #answer(side: RelaySide, event: string, payload: Record<string, unknown>): unknown {
    const room = typeof payload.room === 'string' ? payload.room : '';
    const injectedAt = this.injected.findIndex((error) => error.event === undefined || error.event === event);
    if (injectedAt !== -1 && event !== 'room:leave' && event !== 'presence:leave') {
      const [error] = this.injected.splice(injectedAt, 1);
      // As the real relay: a refusal at admission leaves a membership as it was; a store failure after joining leaves the room.
      if (event === 'room:join' && error!.kind === 'unavailable') side.joined.delete(room);
      return fail(error!.kind, `injected ${error!.kind}`, error!.retryAfterMs);
    }
    if (this.forbidden(room)) return fail('forbidden', `token does not allow room ${room}`);
    const storeWork = event !== 'room:leave' && event !== 'presence:leave' && event !== 'room:signal';
    if (storeWork && this.storePaused) {
      if (event === 'room:join') side.joined.delete(room);
      return fail('unavailable', 'the store is unreachable', 500);
    }
    switch (event) {
      case 'room:join': {
        side.joined.add(room);
        const limit = Math.min(Number(payload.limit ?? MAX_PAGE), MAX_PAGE);
        if (typeof payload.last === 'number') return { ok: true, ...this.log.readBefore(room, Number.MAX_SAFE_INTEGER, Math.min(payload.last, MAX_PAGE)) };
        if (payload.since === undefined) return { ok: true, ...this.log.read(room, 0, 0, position(payload)), hasMore: false };
        return { ok: true, ...this.log.read(room, Number(payload.since), limit, position(payload)) };
      }
      case 'room:read': {
        const limit = Math.min(Number(payload.limit ?? MAX_PAGE), MAX_PAGE);
        if (typeof payload.before === 'number') return { ok: true, ...this.log.readBefore(room, payload.before, limit) };
        return { ok: true, ...this.log.read(room, Number(payload.since ?? 0), limit, position(payload)) };
      }
      case 'room:leave':
        side.joined.delete(room);
        return { ok: true };
      case 'room:publish':
        return this.#publish(side, room, payload);
      case 'room:signal':
        return { ok: true };
      case 'presence:enter':
        this.#enter(side, room, typeof payload.data === 'string' ? payload.data : undefined);
        return { ok: true };
      case 'presence:leave':
        this.#leave(side, room);
        return { ok: true };
      case 'presence:get': {
        side.watching.add(room);
        const state = this.presence.get(room);
        return {
          ok: true,
          epoch: state ? 'p1' : '',
          version: state?.version ?? 0,
          members: [...(state?.members ?? [])].map(([sub, member]) => ({ sub, since: member.since, ...(member.data !== undefined ? { data: member.data } : {}) })),
        };
      }
      default:
        return fail('unknown_event', `unknown event ${event}`);
    }
  }

  #publish(side: RelaySide, room: string, payload: Record<string, unknown>): unknown {
    const messages = Array.isArray(payload.messages) ? (payload.messages as { id: string; type: string; body: string }[]) : [];
    if (messages.length === 0 || messages.length > 100) return fail('payload_too_large', `batch of ${messages.length} messages`);
    let bytes = 0;
    for (const message of messages) bytes += Buffer.byteLength(message.body) + message.id.length + message.type.length;
    if (bytes > MAX_BATCH_BYTES) return fail('payload_too_large', `batch of ${bytes} bytes exceeds ${MAX_BATCH_BYTES}`);
    const { epoch, results, appended, previousId } = this.log.append(room, side.sub, messages, this.#now());
    if (appended.length === 0) return { ok: true, epoch, results };
    // Protocol 3: the publisher is not sent its new messages; the ack says all about them.
    this.#broadcast(room, epoch, appended, previousId, side);
    return { ok: true, epoch, results, ts: appended[0]!.ts, ...(previousId ? { previousId } : {}) };
  }

  #broadcast(room: string, epoch: string, messages: LogMessage[], previousId: string | undefined, publisher: RelaySide): void {
    const first = messages[0]!;
    const event = { room, epoch, messages, ...(previousId !== undefined && first.seq > 1 ? { links: [{ seq: first.seq - 1, id: previousId }] } : {}) };
    for (const side of this.sides.values()) {
      if (!side.joined.has(room) || side === publisher) continue;
      if (this.lostLive > 0 && this.#random() < this.lostLive) continue;
      side.push('room:messages', event);
      if (this.repeatedLive > 0 && this.#random() < this.repeatedLive) side.push('room:messages', event);
    }
  }

  /** A relay goes down hard: every connection to it drops at once. */
  crash(relay: number): void {
    this.up[relay] = false;
    for (const side of [...this.sides.values()]) if (side.relay === relay) side.drop('transport close');
  }

  /** A relay drains: its clients are told to move on after a spread delay, then it stops. */
  drain(relay: number): void {
    for (const side of [...this.sides.values()]) {
      if (side.relay !== relay) continue;
      const after = Math.floor(this.#random() * 2000);
      side.push('relay:drain', { reconnectAfterMs: after });
    }
    const generation = this.#generation;
    this.#later(() => {
      if (generation === this.#generation) this.crash(relay);
    }, 2500);
  }

  /** Every relay up, and no drain still on its way to stopping one. */
  restartAll(): void {
    this.#generation++;
    this.up.fill(true);
  }

  #enter(side: RelaySide, room: string, data: string | undefined): void {
    const state = this.presence.get(room) ?? { version: 0, members: new Map<string, PresenceMember>() };
    this.presence.set(room, state);
    const member = state.members.get(side.sub);
    if (!member) {
      const added: PresenceMember = { data, since: this.#now(), links: new Set([side.id]) };
      state.members.set(side.sub, added);
      return this.#presenceChange(room, 'joined', side.sub, added);
    }
    member.links.add(side.id);
    if (member.data !== data) {
      member.data = data;
      this.#presenceChange(room, 'updated', side.sub, member);
    }
  }

  #leave(side: RelaySide, room: string): void {
    const state = this.presence.get(room);
    const member = state?.members.get(side.sub);
    // Each connection holds its own lease: the identity leaves with the last one.
    if (!state || !member || !member.links.delete(side.id) || member.links.size > 0) return;
    state.members.delete(side.sub);
    this.#presenceChange(room, 'left', side.sub, member);
  }

  #presenceChange(room: string, kind: 'joined' | 'left' | 'updated', sub: string, member: PresenceMember): void {
    const state = this.presence.get(room)!;
    const change = { version: ++state.version, kind, member: { sub, since: member.since, ...(member.data !== undefined ? { data: member.data } : {}) } };
    for (const side of this.sides.values()) if (side.watching.has(room)) side.push('room:presence', { room, epoch: 'p1', changes: [change] });
  }

  /** The members the relays hold for `room`. */
  members(room: string): string[] {
    return [...(this.presence.get(room)?.members.keys() ?? [])].sort();
  }
}

function position(payload: Record<string, unknown>): { epoch?: string; sinceId?: string } {
  return {
    ...(typeof payload.epoch === 'string' ? { epoch: payload.epoch } : {}),
    ...(typeof payload.sinceId === 'string' ? { sinceId: payload.sinceId } : {}),
  };
}

/** Tokens of the simulation: JWT-shaped, `{ sub, key }` in the middle part. */
export function mintToken(sub: string, key: number): string {
  return `sim.${Buffer.from(JSON.stringify({ sub, key })).toString('base64url')}.sig`;
}

function readToken(token: unknown): { sub: string; key: number } | undefined {
  if (typeof token !== 'string') return undefined;
  const [head, body, sig] = token.split('.');
  if (head !== 'sim' || sig !== 'sig' || !body) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { sub?: unknown; key?: unknown };
    return typeof claims.sub === 'string' && typeof claims.key === 'number' ? { sub: claims.sub, key: claims.key } : undefined;
  } catch {
    return undefined;
  }
}
