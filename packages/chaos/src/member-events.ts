import type { PartylineClient, Room } from '@partyline/sdk';
import type { FoldedLook } from './annotation-checker.js';
import type { MemberHistory, QueuedAnnotation, ResetReason, Session } from './checker.js';
import type { PresenceHistory, PresenceSession } from './presence-checker.js';

/**
 * What a member's app reports as it happens — from this process, a child process (IPC) or a Chromium
 * tab (a page binding). Each goes into the member's current session, in the order it arrived.
 */
export type MemberEvent =
  | { t: 'history'; messages: [seq: number, id: string][] }
  | { t: 'message'; seq: number; id: string }
  | { t: 'reset'; reason: ResetReason; epoch: string; previousEpoch?: string; fromSeq?: number; toSeq?: number }
  | { t: 'queued'; id: string }
  /** An edit, delete, react or unreact resolved (queued in the outbox). */
  | { t: 'annotation'; annotation: QueuedAnnotation }
  /** markRead(seq) resolved. */
  | { t: 'mark'; seq: number }
  /** `error`: the kind a `failed` entry was refused with; `noop`: acked as changing nothing. */
  | { t: 'status'; id: string; status: 'sent' | 'failed' | 'expired' | 'pending'; seq?: number; at: number; error?: string; noop?: true }
  /** With presence: a `presence` event (subs only). */
  | { t: 'presence'; at: number; joined: string[]; left: string[]; updated: string[] }
  /** With presence: the SDK's connection went online (`up`) or stopped being online. */
  | { t: 'link'; at: number; up: boolean };

/** How a member behaves besides publishing. */
export interface MemberOptions {
  /** Enter the room's presence (with `{ name, life }`) and record what presence shows. @default false */
  presence?: boolean;
  /** The token's sub; two members of one user are two devices of it. @default the member's name */
  user?: string;
  /** Share of actions that annotate or mark read instead of publishing (see annotation-traffic.ts). @default 0 */
  annotations?: number;
}

export function newHistory(member: string, room: string, user = member): MemberHistory {
  return { member, room, user, queued: [], annotations: [], failed: [], refusals: {}, noops: [], marks: [], acks: [], sessions: [] };
}

export function newPresenceHistory(member: string, room: string): PresenceHistory {
  return { member, room, sessions: [], cuts: [] };
}

/**
 * Starts a session (and, with presence, a presence session); events recorded through the returned
 * function go into it, even after the next one started.
 */
export function startSession(history: MemberHistory, start: Session['start'], presence?: PresenceHistory): (event: MemberEvent) => void {
  const session: Session = { start, entries: [] };
  history.sessions.push(session);
  const presenceSession: PresenceSession | undefined = presence ? { startedAt: Date.now(), links: [], events: [] } : undefined;
  if (presenceSession) presence!.sessions.push(presenceSession);
  return (event) => recordEvent(history, session, event, presenceSession);
}

/** The member's current life ended: closed (restart, reload) or killed (crash). */
export function endPresenceSession(presence: PresenceHistory | undefined, how: 'closed' | 'killed'): void {
  const session = presence?.sessions.at(-1);
  if (session && !session.end) session.end = { at: Date.now(), how };
}

/** The fault log of a member's network, for presence: its proxy was cut (`true`) or healed. */
export function recordCut(presence: PresenceHistory | undefined, cut: boolean): void {
  if (!presence) return;
  const last = presence.cuts.at(-1);
  if (cut && (!last || last.to !== undefined)) presence.cuts.push({ from: Date.now() });
  else if (!cut && last && last.to === undefined) last.to = Date.now();
}

export function recordEvent(history: MemberHistory, session: Session, event: MemberEvent, presence?: PresenceSession): void {
  switch (event.t) {
    case 'presence': {
      const { t: _t, ...observation } = event;
      presence?.events.push(observation);
      return;
    }
    case 'link':
      // Only changes: the SDK reports each state, and `connecting` and `offline` are both "not up".
      if (presence && presence.links.at(-1)?.up !== event.up) presence.links.push({ at: event.at, up: event.up });
      return;
    case 'history':
      session.entries.push({ kind: 'history', messages: event.messages.map(([seq, id]) => ({ seq, id })) });
      return;
    case 'message':
      session.entries.push({ kind: 'message', seq: event.seq, id: event.id });
      return;
    case 'reset': {
      const { t: _t, ...reset } = event;
      session.entries.push({ kind: 'reset', ...reset });
      return;
    }
    case 'queued':
      history.queued.push(event.id);
      return;
    case 'annotation':
      (history.annotations ??= []).push(event.annotation);
      return;
    case 'mark':
      (history.marks ??= []).push(event.seq);
      return;
    case 'status':
      if (event.status === 'sent' && event.seq !== undefined) {
        history.acks.push({ id: event.id, seq: event.seq, at: event.at });
        if (event.noop) (history.noops ??= []).push(event.id);
      } else if (event.status === 'failed' || event.status === 'expired') {
        history.failed.push(event.id);
        (history.refusals ??= {})[event.id] = event.status === 'expired' ? 'expired' : (event.error ?? 'unknown');
      }
      return;
  }
}

/** The SDK's `status` event, as a member event (a refusal's error kind, a noop ack). */
export function statusEvent(context: { id: string; status: 'sent' | 'failed' | 'expired' | 'pending'; seq?: number; noop?: boolean; error?: { kind: string } }): MemberEvent {
  return {
    t: 'status',
    id: context.id,
    status: context.status,
    ...(context.seq !== undefined ? { seq: context.seq } : {}),
    at: Date.now(),
    ...(context.status === 'failed' && context.error ? { error: context.error.kind } : {}),
    ...(context.noop ? { noop: true as const } : {}),
  };
}

/** The reset context of the SDK, as a member event (only the fields the checker reads). */
export function resetEvent(context: { reason: ResetReason; epoch: string; previousEpoch?: string; fromSeq?: number; toSeq?: number }): MemberEvent {
  return {
    t: 'reset',
    reason: context.reason,
    epoch: context.epoch,
    ...(context.previousEpoch !== undefined ? { previousEpoch: context.previousEpoch } : {}),
    ...(context.fromSeq !== undefined ? { fromSeq: context.fromSeq } : {}),
    ...(context.toSeq !== undefined ? { toSeq: context.toSeq } : {}),
  };
}

/**
 * With presence: enters the room's presence with `data` (once, as an app would: the SDK enters again
 * by itself after reconnects and failovers) and reports every `presence` event and connection change.
 */
export function followPresence(client: PartylineClient, room: Room, data: unknown, report: (event: MemberEvent) => void): void {
  client.on('state', ({ state }) => report({ t: 'link', at: Date.now(), up: state === 'online' }));
  room.on('presence', ({ joined, left, updated }) =>
    report({ t: 'presence', at: Date.now(), joined: joined.map((m) => m.sub), left: left.map((m) => m.sub), updated: updated.map((m) => m.sub) }),
  );
  void room.presence.enter(data).catch(() => {});
}

/** What a member's app shows of the room's presence now, and whether its SDK is online. */
export function presenceShown(client: PartylineClient, room: Room): { online: boolean; members: { sub: string; data: unknown }[] } {
  return { online: client.state === 'online', members: room.presence.members().map((m) => ({ sub: m.sub, data: m.data })) };
}

/** What a member's app shows of its room's messages (folded: edits, deletes, reactions) and read state. */
export function foldedLook(room: Room): FoldedLook {
  const { readSeq, unread } = room.readState();
  const messages = room.messages();
  // room.message(id) must answer what messages() holds.
  const byIdDiffers = messages.filter((message) => JSON.stringify(room.message(message.id)) !== JSON.stringify(message)).map((message) => message.seq);
  return { messages, readSeq, unread, byIdDiffers };
}
