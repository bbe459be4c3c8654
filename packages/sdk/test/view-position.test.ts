import type { LogMessage, RoomPage } from '@partyline/protocol';
import { describe, expect, it } from 'vitest';
import { contradicts, decidePage, liveEntries, positionRequest, type ViewPosition } from '../src/view-position.js';

const message = (seq: number, id = `m${seq}`): LogMessage => ({ seq, id, type: 'chat', body: '{}', sender: 'ana', ts: 0 });
const page = (fields: Partial<RoomPage> & { messages: LogMessage[] }): RoomPage => ({
  room: 'r',
  epoch: 'e1',
  firstSeq: 1,
  headSeq: fields.messages.at(-1)?.seq ?? 0,
  hasMore: false,
  ...fields,
});
const at = (lastSeq: number, lastId: string | undefined = `m${lastSeq}`, epoch: string | undefined = 'e1'): ViewPosition => ({ epoch, lastSeq, lastId, branch: '' });
const seqs = (decision: ReturnType<typeof decidePage>) => (decision.kind === 'deliver' ? decision.messages.map((m) => m.seq) : decision.reason);

describe('decidePage: what a page of the log means for a tab’s view', () => {
  it('delivers exactly the continuation, skipping what the view already has', () => {
    const view = at(3);
    expect(seqs(decidePage(view, page({ messages: [message(2), message(3), message(4), message(5)] }), positionRequest(at(1))))).toEqual([4, 5]);
    expect(seqs(decidePage(view, page({ messages: [message(5)] }), positionRequest(view)))).toEqual([]);
  });

  it('restarts on another epoch', () => {
    expect(decidePage(at(3), page({ epoch: 'e2', messages: [message(1)] }), positionRequest(at(3)))).toEqual({ kind: 'restart', reason: 'epoch_changed', toSeq: 3 });
  });

  it('restarts as diverged when the relay says so, when the log ends before the position, or holds another message there', () => {
    const view = at(5);
    const request = positionRequest(view);
    expect(seqs(decidePage(view, page({ messages: [], diverged: true, headSeq: 9 }), request))).toBe('diverged');
    // The log's head is before what the tab has: the tail it had is gone (and never said so).
    expect(seqs(decidePage(view, page({ messages: [], headSeq: 3 }), request))).toBe('diverged');
    // The view moved on through live messages while this page was on its way: same message at its last seq is fine…
    expect(seqs(decidePage(at(6), page({ messages: [message(6), message(7)] }), request))).toEqual([7]);
    // …another message there is not.
    expect(seqs(decidePage(at(6), page({ messages: [message(6, 'other'), message(7)] }), request))).toBe('diverged');
  });

  it('a page from a head behind the view is not divergence when the view moved on after asking', () => {
    // Asked at 5, the log head was 5 when read; live 6 arrived meanwhile: nothing is lost.
    expect(seqs(decidePage(at(6), page({ messages: [], headSeq: 5 }), positionRequest(at(5))))).toEqual([]);
  });

  it('says trimmed for a hole the retention made, also for a view that never read the room', () => {
    const decision = decidePage(at(0, undefined, undefined), page({ firstSeq: 4, messages: [message(4), message(5)] }), { since: 0 });
    expect(decision).toEqual({ kind: 'deliver', messages: [message(4), message(5)], trimmed: { fromSeq: 1, toSeq: 3 } });
    expect(decidePage(at(2), page({ firstSeq: 3, messages: [message(3)] }), positionRequest(at(2)))).toEqual({ kind: 'deliver', messages: [message(3)] });
  });
});

describe('live messages against the view', () => {
  const known = (view: ViewPosition, recent: Record<number, string> = {}) => (seq: number) => (seq === view.lastSeq ? view.lastId : recent[seq]);

  it('links each message to the one before it: in the same event, or by the relay’s link', () => {
    const entries = liveEntries('e1', [message(4), message(5), message(8)], [{ seq: 3, id: 'm3' }, { seq: 7, id: 'm7' }]);
    expect(entries.map((entry) => [entry.message.seq, entry.previousId])).toEqual([[4, 'm3'], [5, 'm4'], [8, 'm7']]);
  });

  it('flags a live message that names another id at a seq the tab has, or another predecessor', () => {
    const view = at(5);
    const [same] = liveEntries('e1', [message(6)], [{ seq: 5, id: 'm5' }]);
    const [reused] = liveEntries('e1', [message(6)], [{ seq: 5, id: 'lost-tail-replacement' }]);
    const [older] = liveEntries('e1', [message(4, 'new-4')], []);
    expect(contradicts(view, same!, known(view))).toBe(false);
    expect(contradicts(view, reused!, known(view))).toBe(true);
    expect(contradicts(view, older!, known(view, { 4: 'm4' }))).toBe(true);
    expect(contradicts(view, older!, known(view, {}))).toBe(false); // too old to know: the next positioned read checks
  });
});
