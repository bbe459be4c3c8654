import type { ViewMessage } from '@partyline/react';
import type { ResetContext, RoomMessage } from '@partyline/sdk';
import { describe, expect, it } from 'vitest';
import { deriveParty } from '../state/party-state.js';
import { PartyView } from './party-view.js';

const ROOM = 'party:abcdef';

/** A room log of messages (as the bindings hand them: not edited, deleted or reacted to): seq 1..n in the order given. */
function logOf(specs: { sender: string; type: string; body: unknown }[], firstSeq = 1, prefix = 'm'): ViewMessage[] {
  return specs.map((spec, index) => ({ room: ROOM, id: `${prefix}${firstSeq + index}`, ...spec, seq: firstSeq + index, ts: 1_000 + index, edited: false, deleted: false, reactions: {} }));
}

const chat = (sender: string, text: string) => ({ sender, type: 'chat', body: { text } });
/** An item to bring, named `label` (its id too). */
const item = (sender: string, label: string) => ({ sender, type: 'item:add', body: { itemId: label, label } });
const labels = (view: PartyView) => view.folded.state.items.map((entry) => entry.label);

function partyLog(): ViewMessage[] {
  return logOf([
    { sender: 'ana', type: 'party:create', body: { title: "Sam's 30th", name: 'Ana', venue: 'Rooftop' } },
    { sender: 'bo', type: 'member:join', body: { name: 'Bo' } },
    { sender: 'ana', type: 'item:add', body: { itemId: 'cake', label: 'Cake' } },
    { sender: 'bo', type: 'item:claim', body: { itemId: 'cake' } },
    { sender: 'ana', type: 'item:claim', body: { itemId: 'cake' } },
    { sender: 'bo', type: 'poll:option', body: { poll: 'venue', optionId: 'v2', label: 'Beach' } },
    { sender: 'ana', type: 'poll:vote', body: { poll: 'venue', optionId: 'v2' } },
    chat('bo', 'see you there'),
  ]);
}

/** Hands the view a ready `useMessages` snapshot: like the bindings, new arrays each time, holding the same message objects. */
function show(view: PartyView, messages: readonly ViewMessage[], reset?: ResetContext, annotations: readonly RoomMessage[] = []) {
  return view.follow({ messages: messages.slice(), annotations: annotations.slice(), ready: true, reset });
}

describe('PartyView', () => {
  it('folds the history it opens with, then what each snapshot adds, to the state of the whole log, and records them raw', () => {
    const log = partyLog();
    const expected = deriveParty(log);
    for (let split = 0; split <= log.length; split += 1) {
      // One message per snapshot, or the rest at once (the bindings hand a task's messages in one snapshot).
      for (const step of [1, log.length]) {
        const view = new PartyView(ROOM);
        show(view, log.slice(0, split));
        for (let end = split + step; end < log.length + step; end += step) show(view, log.slice(0, end));
        expect(view.folded.state).toEqual(expected);
        expect(view.folded.lastSeq).toBe(log.length);
        expect(view.raw).toMatchObject({ opened: true, history: log.slice(0, split).map((e) => e.seq), events: log.slice(split).map((e) => e.seq), anomalies: [], resets: [] });
      }
    }
  });

  it('folds nothing until the view is ready; a reset from before that is recorded when it opens', () => {
    const log = partyLog();
    const view = new PartyView(ROOM);
    const early: ResetContext = { room: ROOM, reason: 'epoch_changed', epoch: 'e2', previousEpoch: 'e1' };
    view.follow({ messages: [], annotations: [], ready: false, reset: early });
    expect(view.folded.lastSeq).toBe(0);
    expect(view.raw.opened).toBe(false);
    show(view, log.slice(0, 3), early);
    show(view, log, early);
    expect(view.raw).toMatchObject({ opened: true, history: [1, 2, 3], events: [4, 5, 6, 7, 8], anomalies: [], resets: [{ reason: 'epoch_changed', afterEvents: 0 }] });
    expect(view.folded.state).toEqual(deriveParty(log));
  });

  it('records a repeated message as a duplicate and does not fold it twice', () => {
    const log = logOf([item('ana', 'one'), item('bo', 'two'), item('ana', 'three')]);
    const view = new PartyView(ROOM);
    show(view, log.slice(0, 2));
    show(view, [...log.slice(0, 2), log[1]!, log[2]!]); // the SDK handed seq 2 again
    expect(view.raw.events).toEqual([2, 3]);
    expect(view.raw.anomalies).toEqual([{ kind: 'duplicate', source: 'event', seq: 2, expected: 3 }]);
    expect(labels(view)).toEqual(['one', 'two', 'three']);
    expect(view.folded.state.ignored).toBe(0);
  });

  it('records an array that does not continue the one folded (without a reset) as duplicates, never skipping it unseen', () => {
    const log = logOf([item('ana', 'one'), item('bo', 'two'), item('ana', 'three')]);
    const view = new PartyView(ROOM);
    show(view, log.slice(0, 2));
    show(view, log.map((message) => ({ ...message, id: `other-${message.id}` }))); // other messages at the same seqs: not the run folded so far
    expect(view.raw.events).toEqual([1, 2, 3]);
    expect(view.raw.anomalies).toEqual([
      { kind: 'duplicate', source: 'event', seq: 1, expected: 3 },
      { kind: 'duplicate', source: 'event', seq: 2, expected: 3 },
    ]);
    expect(labels(view)).toEqual(['one', 'two', 'three']);
  });

  it('takes a message the SDK\'s fold changed (a new object, same id and seq) as the same message: not folded again', () => {
    const log = logOf([item('ana', 'one'), chat('bo', 'two')]);
    const view = new PartyView(ROOM);
    const before = show(view, log);
    const edited: ViewMessage = { ...log[1]!, body: { text: 'two, edited' }, edited: true, deleted: false };
    expect(show(view, [log[0]!, edited])).toBe(before); // nothing new for the party's state
    const reacted: ViewMessage = { ...log[0]!, deleted: false, body: log[0]!.body, reactions: { '🎉': { count: 1, mine: false } } };
    expect(show(view, [reacted, edited])).toBe(before);
    expect(view.raw).toMatchObject({ history: [1, 2], events: [], anomalies: [] });
  });

  it('records annotations in the run, in seq order with the messages (no gap), without folding them', () => {
    const log = logOf([chat('ana', 'one')]);
    const annotation = (seq: number, type: string, target: string): RoomMessage => ({ room: ROOM, id: `a${seq}`, seq, type, body: { id: target }, sender: 'bo', ts: 0 });
    const annotations = [annotation(2, 'pl:react', 'm1'), annotation(3, 'pl:edit', 'm1'), annotation(5, 'pl:delete', 'm4')];
    const view = new PartyView(ROOM);
    show(view, [log[0]!], undefined, annotations.slice(0, 1));
    show(view, [log[0]!, ...logOf([chat('ana', 'three')], 4)], undefined, annotations);
    expect(view.raw).toMatchObject({ history: [1, 2], events: [3, 4, 5], anomalies: [] });
    expect(view.folded.lastSeq).toBe(5);
    expect(view.folded.state.ignored).toBe(0); // annotations are not the party's messages
    expect(view.folded.senders.get('a3')).toBe('bo'); // an own annotation in the view is not applied again from the outbox
  });

  it('records a gap and folds what came, in order', () => {
    const log = logOf([item('ana', 'one'), item('bo', 'two'), item('ana', 'three'), item('bo', 'four')]);
    const view = new PartyView(ROOM);
    show(view, log.slice(0, 1));
    show(view, [log[0]!, log[2]!]);
    show(view, [log[0]!, log[2]!, log[3]!]);
    expect(view.raw.anomalies).toEqual([{ kind: 'gap', source: 'event', seq: 3, expected: 2 }]);
    expect(labels(view)).toEqual(['one', 'three', 'four']);
    // A history that does not start at seq 1 is a gap too (a missing prefix).
    const late = new PartyView(ROOM);
    show(late, log.slice(1));
    expect(late.raw.anomalies).toEqual([{ kind: 'gap', source: 'history', seq: 2, expected: 1 }]);
  });

  it('starts over on diverged and epoch_changed: the old history goes, the new log is folded from its first seq', () => {
    const old = partyLog();
    const fresh = logOf([{ sender: 'cy', type: 'party:create', body: { title: 'Another party', name: 'Cy' } }, chat('cy', 'hello')], 1, 'n');
    for (const reason of ['diverged', 'epoch_changed'] as const) {
      // The reset alone first, then the new log; or both in one snapshot.
      for (const together of [false, true]) {
        const view = new PartyView(ROOM);
        show(view, old.slice(0, 5));
        show(view, old.slice(0, 6));
        const reset: ResetContext = { room: ROOM, reason, epoch: 'e2', ...(reason === 'diverged' ? { toSeq: 6 } : { previousEpoch: 'e1' }) };
        if (!together) {
          show(view, [], reset);
          expect(view.folded.state).toEqual(deriveParty([]));
          expect(view.folded.senders.has(old[0]!.id)).toBe(false);
          show(view, fresh.slice(0, 1), reset);
        }
        show(view, fresh, reset);
        expect(view.folded.state).toEqual(deriveParty(fresh));
        expect(view.folded.senders.has(old[0]!.id)).toBe(false);
        expect(view.raw.anomalies).toEqual([]);
        expect(view.raw.resets).toEqual([{ reason, epoch: 'e2', ...(reason === 'diverged' ? { toSeq: 6 } : { previousEpoch: 'e1' }), afterEvents: 1 }]);
        expect(view.raw.events).toEqual([6, 1, 2]);
      }
    }
  });

  it('continues after the hole on trimmed, also when the messages around it come in the reset\'s snapshot', () => {
    const log = logOf([item('ana', 'one'), item('bo', 'two'), item('ana', 'three'), item('bo', 'four'), item('ana', 'five')]);
    const trimmed: ResetContext = { room: ROOM, reason: 'trimmed', epoch: 'e1', fromSeq: 3, toSeq: 4 };
    const view = new PartyView(ROOM);
    show(view, log.slice(0, 1));
    show(view, log.slice(0, 1), trimmed);
    show(view, [log[0]!, log[1]!, log[4]!], trimmed); // two before the hole, five after it
    expect(view.raw.anomalies).toEqual([]);
    expect(view.raw.resets).toEqual([{ reason: 'trimmed', epoch: 'e1', fromSeq: 3, toSeq: 4, afterEvents: 0 }]);
    expect(labels(view)).toEqual(['one', 'two', 'five']);
  });

  it('keeps title, early items and votes of a party past 500 messages (a reload folds the whole cached log)', () => {
    const log = [...partyLog(), ...logOf(Array.from({ length: 650 }, (_, index) => chat(index % 2 ? 'ana' : 'bo', `chat ${index}`)), 9)];
    const view = new PartyView(ROOM);
    show(view, log); // what history() answers after a reload: the whole room, from seq 1
    const { state } = view.folded;
    expect(state.title).toBe("Sam's 30th");
    expect(state.items.map((item) => [item.label, item.claimedBy])).toEqual([['Cake', 'bo']]);
    expect(state.polls.venue.votes).toEqual(new Map([['ana', 'v2']]));
    expect(view.folded.senders.size).toBe(658);
    expect(view.raw.history).toEqual(log.map((_, index) => index + 1));
  });

  it('answers the same fold object until something changes (a stable snapshot for React)', () => {
    const log = partyLog();
    const view = new PartyView(ROOM);
    const snapshot = { messages: log.slice(0, 2), annotations: [], ready: true, reset: undefined };
    const before = view.follow(snapshot);
    expect(view.follow(snapshot)).toBe(before); // the same snapshot again (a re-render)
    expect(show(view, log.slice(0, 2))).toBe(before); // the same messages (only own pending ones changed)
    expect(show(view, [...log.slice(0, 2), log[0]!])).toBe(before); // a duplicate changes nothing
    expect(show(view, [...log.slice(0, 2), log[0]!, log[2]!])).not.toBe(before);
  });

  it('folds each message once: a new snapshot never makes the view read (or even walk) the older messages again', () => {
    const log = [...partyLog(), ...logOf(Array.from({ length: 300 }, (_, index) => (index % 3 === 0 ? { sender: 'bo', type: 'item:done', body: { itemId: 'cake', done: index % 2 === 0 } } : chat('ana', `line ${index}`))), 9)];
    // Every body read is counted: a re-fold of the log would read the earlier messages again. Every seq
    // read too: even a walk over the earlier ones that folds nothing (a cost that grows with the log) reads them.
    const reads = new Map<string, number>();
    let seqReads = 0;
    const counted = log.map((message) => {
      const { body, seq, ...rest } = message;
      return Object.defineProperties({ ...rest }, {
        body: {
          enumerable: true,
          get() {
            reads.set(message.id, (reads.get(message.id) ?? 0) + 1);
            return body;
          },
        },
        seq: {
          enumerable: true,
          get() {
            seqReads += 1;
            return seq;
          },
        },
      }) as ViewMessage;
    });
    const view = new PartyView(ROOM);
    show(view, counted.slice(0, 100));
    expect([...reads.values()].every((count) => count === 1)).toBe(true);
    // Each snapshot is the whole view so far (a new array), one or a few messages longer.
    let folded = 100;
    for (let end = 101; folded < counted.length; end += end % 7 === 0 ? 3 : 1) {
      const last = Math.min(end, counted.length);
      const before = seqReads;
      show(view, counted.slice(0, last));
      expect(reads.size, `after message ${last}`).toBe(last);
      expect(reads.get(counted[last - 1]!.id)).toBe(1);
      expect(seqReads - before, `seq reads for messages ${folded + 1}–${last}`).toBeLessThanOrEqual(8 * (last - folded)); // a few per new message, none for the older ones
      folded = last;
      const again = seqReads;
      show(view, counted.slice(0, last)); // a snapshot with nothing new reads nothing
      expect(seqReads).toBe(again);
    }
    expect([...reads.values()].every((count) => count === 1)).toBe(true);
    // Snapshot by snapshot, it is the fold of the whole log at once.
    expect(view.folded.state).toEqual(deriveParty(log));
  });
});
