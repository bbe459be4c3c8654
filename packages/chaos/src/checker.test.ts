import { describe, expect, it } from 'vitest';
import { checkHistories, viewPosition, type Delivery, type MemberHistory, type RoomLog, type Session, type ViewEntry } from './checker.js';

const log: RoomLog = { room: 'r', epoch: 'e1', firstSeq: 1, headSeq: 3, messages: [{ seq: 1, id: 'a' }, { seq: 2, id: 'b' }, { seq: 3, id: 'c' }] };
const d = (seq: number, id: string): Delivery => ({ seq, id });
const m = (seq: number, id: string): ViewEntry => ({ kind: 'message', seq, id });
const h = (...messages: Delivery[]): ViewEntry => ({ kind: 'history', messages });
const diverged = (toSeq: number): ViewEntry => ({ kind: 'reset', reason: 'diverged', epoch: 'e1', toSeq });
const trimmed = (fromSeq: number, toSeq: number): ViewEntry => ({ kind: 'reset', reason: 'trimmed', epoch: 'e1', fromSeq, toSeq });
const session = (start: Session['start'], ...entries: ViewEntry[]): Session => ({ start, entries });
const member = (overrides: Partial<MemberHistory> = {}): MemberHistory => ({
  member: 'm1',
  room: 'r',
  queued: ['a', 'c'],
  failed: [],
  acks: [],
  sessions: [session('first', h(), m(1, 'a'), m(2, 'b'), m(3, 'c'))],
  ...overrides,
});
const ZERO = { lost: 0, lostByStore: 0, duplicated: 0, reordered: 0, divergedSilently: 0, resetsUnexplained: 0 };

describe('checkHistories', () => {
  it('passes a clean history', () => {
    const result = checkHistories([member()], [log]);
    expect(result).toMatchObject({ ...ZERO, published: 2, appended: 3, delivered: 3, sessions: 1, resets: 0 });
    expect(result.examples).toEqual([]);
  });

  describe('on the way in (G1)', () => {
    it('counts a queued message missing from the log as lost, unless refused', () => {
      const result = checkHistories([member({ queued: ['a', 'zzz'] })], [log]);
      expect(result.lost).toBe(1);
      expect(result.examples[0]).toContain('zzz');
      expect(checkHistories([member({ queued: ['a', 'zzz'], failed: ['zzz'] })], [log]).lost).toBe(0);
    });

    it('allows an acked message to vanish only when acked inside a store crash window', () => {
      const acks = [{ id: 'zzz', seq: 4, at: 1500 }];
      const inside = checkHistories([member({ queued: ['zzz'], acks })], [log], { storeLosses: [{ from: 1000, to: 2000 }] });
      expect(inside).toMatchObject({ lost: 0, lostByStore: 1, lostUnwritten: 1 });
      const outside = checkHistories([member({ queued: ['zzz'], acks })], [log], { storeLosses: [{ from: 1600, to: 2000 }] });
      expect(outside).toMatchObject({ lost: 1, lostByStore: 0 });
      expect(checkHistories([member({ queued: ['zzz'] })], [log], { storeLosses: [{ from: 0, to: 1e15 }] }).lost).toBe(1);
    });

    it('counts an acked message the log holds at another seq as lost (the acked append was lost, the message taken again)', () => {
      const moved = member({ queued: ['a', 'c'], acks: [{ id: 'c', seq: 2, at: 1500 }] });
      const result = checkHistories([moved], [log]);
      expect(result.lost).toBe(1);
      expect(result.examples[0]).toContain('acked as seq 2');
      expect(checkHistories([member({ acks: [{ id: 'c', seq: 3, at: 1500 }] })], [log]).lost).toBe(0);
      expect(checkHistories([moved], [log], { storeLosses: [{ from: 1000, to: 2000 }] })).toMatchObject({ lost: 0, lostByStore: 1 });
    });

    it('allows a message to vanish when its append was in the AOF tail a store crash dropped', () => {
      const lostAppends = [{ room: 'r', seq: 4, id: 'zzz' }];
      expect(checkHistories([member({ queued: ['zzz'] })], [log], { lostAppends })).toMatchObject({ lost: 0, lostByStore: 1 });
      expect(checkHistories([member({ queued: ['zzz'] })], [log], { lostAppends: [{ room: 'other', seq: 4, id: 'zzz' }] })).toMatchObject({ lost: 1, lostByStore: 0 });
    });

    it('does not count a message retention trimmed as lost', () => {
      const trimmedLog: RoomLog = { ...log, firstSeq: 3, messages: [d(3, 'c')] };
      const history = member({ queued: ['a', 'c'], acks: [{ id: 'a', seq: 1, at: 1 }], sessions: [session('first', h(), trimmed(1, 2), m(3, 'c'))] });
      expect(checkHistories([history], [trimmedLog])).toMatchObject({ ...ZERO, resetsExplained: 1 });
    });

    it('counts an id appended twice as duplicated', () => {
      const doubled: RoomLog = { ...log, headSeq: 4, messages: [...log.messages, d(4, 'a')] };
      expect(checkHistories([member({ sessions: [session('first', h(), m(1, 'a'), m(2, 'b'), m(3, 'c'), m(4, 'a'))] })], [doubled]).duplicated).toBe(1);
    });
  });

  describe('the app view (G2)', () => {
    it('counts a gap in the events as lost', () => {
      expect(checkHistories([member({ sessions: [session('first', h(), m(1, 'a'), m(3, 'c'))] })], [log]).lost).toBe(1);
    });

    it('counts a missing prefix as lost (a view must start at seq 1 or after a trimmed reset)', () => {
      const result = checkHistories([member({ sessions: [session('first', h(), m(2, 'b'), m(3, 'c'))] })], [log]);
      expect(result.lost).toBe(1);
      expect(result.examples[0]).toContain('missing prefix');
      const fromHistory = checkHistories([member({ sessions: [session('first', h(d(2, 'b')), m(3, 'c'))] })], [log]);
      expect(fromHistory.lost).toBe(1);
    });

    it('counts a missing tail as lost', () => {
      expect(checkHistories([member({ sessions: [session('first', h(), m(1, 'a'))] })], [log]).lost).toBe(2);
    });

    it('counts a message handed twice as duplicated, one handed below the position as reordered', () => {
      const twice = checkHistories([member({ sessions: [session('first', h(), m(1, 'a'), m(2, 'b'), m(2, 'b'), m(3, 'c'))] })], [log]);
      expect(twice).toMatchObject({ ...ZERO, duplicated: 1 });
      const swapped = checkHistories([member({ sessions: [session('first', h(), m(1, 'a'), m(3, 'c'), m(2, 'b'))] })], [log]);
      expect(swapped).toMatchObject({ ...ZERO, reordered: 1 });
    });

    it('counts events overlapping history() as duplicated', () => {
      const overlap = checkHistories([member({ sessions: [session('first', h(d(1, 'a'), d(2, 'b')), m(2, 'b'), m(3, 'c'))] })], [log]);
      expect(overlap).toMatchObject({ ...ZERO, duplicated: 1 });
    });

    it('counts an event handed before history() answered that history() holds too as duplicated', () => {
      const early = member({ sessions: [session('first', m(1, 'a'), h(d(1, 'a')), m(2, 'b'), m(3, 'c'))] });
      expect(checkHistories([early], [log])).toMatchObject({ ...ZERO, duplicated: 1 });
    });

    it('continues a view across restarts: history() holds the view so far, events continue it', () => {
      const restarted = member({
        sessions: [session('first', h(), m(1, 'a')), session('crash', h(d(1, 'a')), m(2, 'b')), session('restart', h(d(1, 'a'), d(2, 'b'), d(3, 'c')))],
      });
      expect(checkHistories([restarted], [log])).toMatchObject({ ...ZERO, sessions: 3, replayed: 4 });
      expect(viewPosition(restarted)).toBe(3);
    });

    it('counts a message a restart forgot and handed again as duplicated', () => {
      const forgot = member({ sessions: [session('first', h(), m(1, 'a'), m(2, 'b')), session('crash', h(d(1, 'a')), m(2, 'b'), m(3, 'c'))] });
      expect(checkHistories([forgot], [log])).toMatchObject({ ...ZERO, duplicated: 1 });
    });

    it('counts a history() that changed the view with no reset as diverged silently', () => {
      const changed = member({ sessions: [session('first', h(), m(1, 'a'), m(2, 'x')), session('restart', h(d(1, 'a'), d(2, 'b')), m(3, 'c'))] });
      expect(checkHistories([changed], [log])).toMatchObject({ divergedSilently: 1, lost: 0 });
    });
  });

  describe('divergence and resets', () => {
    // The log lost seq 3 ('x') of an unsynced tail and gave seq 3 to 'c'.
    it('counts a member that keeps a message the log lost, with no reset, as diverged silently', () => {
      const silent = checkHistories([member({ sessions: [session('first', h(), m(1, 'a'), m(2, 'b'), m(3, 'x'))] })], [log]);
      expect(silent.divergedSilently).toBe(1);
      expect(silent.examples.join()).toContain('diverged silently');
      const ahead = checkHistories([member({ sessions: [session('first', h(), m(1, 'a'), m(2, 'b'), m(3, 'c'), m(4, 'y'))] })], [log]);
      expect(ahead.divergedSilently).toBe(1);
    });

    it('explains a diverged reset by what the member had that the log lost; the view starts again at 1', () => {
      const history = member({ sessions: [session('first', h(), m(1, 'a'), m(2, 'b'), m(3, 'x'), diverged(3), m(1, 'a'), m(2, 'b'), m(3, 'c'))] });
      expect(checkHistories([history], [log])).toMatchObject({ ...ZERO, resets: 1, resetsExplained: 1, resetsByReason: { diverged: 1 } });
      expect(viewPosition(history)).toBe(3);
    });

    it('counts a diverged reset the log does not explain, and a view that does not start again at 1', () => {
      const unexplained = member({ sessions: [session('first', h(), m(1, 'a'), m(2, 'b'), diverged(2), m(1, 'a'), m(2, 'b'), m(3, 'c'))] });
      expect(checkHistories([unexplained], [log])).toMatchObject({ resetsUnexplained: 1, resetsExplained: 0, lost: 0 });
      const noRestart = member({ sessions: [session('first', h(), m(1, 'a'), m(2, 'b'), m(3, 'x'), diverged(3), m(3, 'c'))] });
      expect(checkHistories([noRestart], [log])).toMatchObject({ resetsExplained: 1, lost: 2 });
    });

    it('explains a reset told again after a crash before it was stored', () => {
      const history = member({
        sessions: [
          session('first', h(), m(1, 'a'), m(2, 'b'), m(3, 'x'), diverged(3), m(1, 'a')),
          session('crash', h(d(1, 'a'), d(2, 'b'), d(3, 'x')), diverged(3), m(1, 'a'), m(2, 'b'), m(3, 'c')),
        ],
      });
      expect(checkHistories([history], [log])).toMatchObject({ ...ZERO, resets: 2, resetsExplained: 2 });
    });

    it('explains epoch_changed when the epoch really changed', () => {
      const history = member({ sessions: [session('first', h(), m(1, 'old'), { kind: 'reset', reason: 'epoch_changed', epoch: 'e1', previousEpoch: 'e0' }, m(1, 'a'), m(2, 'b'), m(3, 'c'))] });
      expect(checkHistories([history], [log])).toMatchObject({ ...ZERO, resetsExplained: 1 });
      const flap = member({ sessions: [session('first', h(), m(1, 'a'), { kind: 'reset', reason: 'epoch_changed', epoch: 'e2', previousEpoch: 'e1' }, m(1, 'a'), m(2, 'b'), m(3, 'c'))] });
      expect(checkHistories([flap], [log])).toMatchObject({ resetsUnexplained: 1 });
    });

    it('explains trimmed only where the retained log starts after the member position', () => {
      const retained: RoomLog = { room: 'r', epoch: 'e1', firstSeq: 3, headSeq: 4, messages: [d(3, 'c'), d(4, 'd')] };
      const late = member({ queued: [], sessions: [session('first', h(), trimmed(1, 2), m(3, 'c'), m(4, 'd'))] });
      expect(checkHistories([late], [retained])).toMatchObject({ ...ZERO, resetsExplained: 1, resetsByReason: { trimmed: 1 } });
      const behind = member({ queued: [], sessions: [session('first', h(), m(1, 'a'), trimmed(2, 2), m(3, 'c'), m(4, 'd'))] });
      expect(checkHistories([behind], [retained])).toMatchObject({ ...ZERO, resetsExplained: 1 });
      // The log still holds 1..2: the reset hid messages.
      const hid = member({ queued: [], sessions: [session('first', h(), trimmed(1, 2), m(3, 'c'))] });
      expect(checkHistories([hid], [log])).toMatchObject({ resetsUnexplained: 1, lost: 0 });
      // A trimmed reset that is not at the member's position.
      const misplaced = member({ queued: [], sessions: [session('first', h(), m(1, 'a'), trimmed(1, 2), m(3, 'c'), m(4, 'd'))] });
      expect(checkHistories([misplaced], [retained]).resetsUnexplained).toBe(1);
    });

    it('keeps a trimmed hole across restarts', () => {
      const retained: RoomLog = { room: 'r', epoch: 'e1', firstSeq: 3, headSeq: 5, messages: [d(3, 'c'), d(4, 'd'), d(5, 'e')] };
      const history = member({
        queued: [],
        sessions: [session('first', h(), trimmed(1, 2)), session('crash', h(), m(3, 'c')), session('restart', h(d(3, 'c')), m(4, 'd'), m(5, 'e'))],
      });
      expect(checkHistories([history], [retained])).toMatchObject({ ...ZERO, resetsExplained: 1 });
      expect(viewPosition({ ...history, sessions: history.sessions.slice(0, 2).map((s, i) => (i === 1 ? session('crash', h()) : s)) })).toBe(2);
    });
  });

  it('explains a trimmed reset told again after a crash before it was stored', () => {
    const retained: RoomLog = { room: 'r', epoch: 'e1', firstSeq: 3, headSeq: 4, messages: [d(3, 'c'), d(4, 'd')] };
    const history = member({ queued: [], sessions: [session('first', h(), trimmed(1, 2)), session('crash', h(), trimmed(1, 2), m(3, 'c'), m(4, 'd'))] });
    expect(checkHistories([history], [retained])).toMatchObject({ ...ZERO, resets: 2, resetsExplained: 2 });
  });

  it('viewPosition is undefined until the session history() answered', () => {
    expect(viewPosition(member({ sessions: [session('first', h(), m(1, 'a')), session('crash')] }))).toBeUndefined();
  });
});
