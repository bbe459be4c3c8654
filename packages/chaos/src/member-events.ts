import type { MemberHistory, ResetReason, Session } from './checker.js';

/**
 * What a member's app reports as it happens — from this process, a child process (IPC) or a Chromium
 * tab (a page binding). Each goes into the member's current session, in the order it arrived.
 */
export type MemberEvent =
  | { t: 'history'; messages: [seq: number, id: string][] }
  | { t: 'message'; seq: number; id: string }
  | { t: 'reset'; reason: ResetReason; epoch: string; previousEpoch?: string; fromSeq?: number; toSeq?: number }
  | { t: 'queued'; id: string }
  | { t: 'status'; id: string; status: 'sent' | 'failed' | 'expired' | 'pending'; seq?: number; at: number };

export function newHistory(member: string, room: string): MemberHistory {
  return { member, room, queued: [], failed: [], acks: [], sessions: [] };
}

/** Starts a session; events recorded through the returned function go into it, even after the next one started. */
export function startSession(history: MemberHistory, start: Session['start']): (event: MemberEvent) => void {
  const session: Session = { start, entries: [] };
  history.sessions.push(session);
  return (event) => recordEvent(history, session, event);
}

export function recordEvent(history: MemberHistory, session: Session, event: MemberEvent): void {
  switch (event.t) {
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
    case 'status':
      if (event.status === 'sent' && event.seq !== undefined) history.acks.push({ id: event.id, seq: event.seq, at: event.at });
      else if (event.status === 'failed' || event.status === 'expired') history.failed.push(event.id);
      return;
  }
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
