import { describe, expect, it } from 'vitest';
import { deriveParty, type PartyEvent } from '../state/party-state.js';
import { PartyView } from './party-view.js';

const ROOM = 'party:abcdef';

/** A room log: seq 1..n in the order given. */
function logOf(specs: { sender: string; type: string; body: unknown }[], firstSeq = 1, prefix = 'm'): PartyEvent[] {
  return specs.map((spec, index) => ({ id: `${prefix}${firstSeq + index}`, ...spec, seq: firstSeq + index, ts: 1_000 + index }));
}

const chat = (sender: string, text: string) => ({ sender, type: 'chat', body: { text } });

function partyLog(): PartyEvent[] {
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

describe('PartyView', () => {
  it('folds history then events to the state of the whole log, wherever the view splits them, and records them raw', () => {
    const log = partyLog();
    const expected = deriveParty(log);
    for (let split = 0; split <= log.length; split += 1) {
      const view = new PartyView(ROOM);
      view.open(log.slice(0, split));
      for (const event of log.slice(split)) view.message(event);
      expect(view.folded.state).toEqual(expected);
      expect(view.folded.lastSeq).toBe(log.length);
      expect(view.raw).toMatchObject({ opened: true, history: log.slice(0, split).map((e) => e.seq), events: log.slice(split).map((e) => e.seq), anomalies: [], resets: [] });
    }
  });

  it('records a repeated message as a duplicate and does not fold it twice', () => {
    const log = logOf([chat('ana', 'one'), chat('bo', 'two'), chat('ana', 'three')]);
    const view = new PartyView(ROOM);
    view.open(log.slice(0, 2));
    view.message(log[1]!); // the SDK handed seq 2 again
    view.message(log[2]!);
    expect(view.raw.events).toEqual([2, 3]);
    expect(view.raw.anomalies).toEqual([{ kind: 'duplicate', source: 'event', seq: 2, expected: 3 }]);
    expect(view.folded.state.chat.map((line) => line.text)).toEqual(['one', 'two', 'three']);
  });

  it('records a gap and folds what came, in order', () => {
    const log = logOf([chat('ana', 'one'), chat('bo', 'two'), chat('ana', 'three'), chat('bo', 'four')]);
    const view = new PartyView(ROOM);
    view.open(log.slice(0, 1));
    view.message(log[2]!);
    view.message(log[3]!);
    expect(view.raw.anomalies).toEqual([{ kind: 'gap', source: 'event', seq: 3, expected: 2 }]);
    expect(view.folded.state.chat.map((line) => line.text)).toEqual(['one', 'three', 'four']);
    // A history that does not start at seq 1 is a gap too (a missing prefix).
    const late = new PartyView(ROOM);
    late.open(log.slice(1));
    expect(late.raw.anomalies).toEqual([{ kind: 'gap', source: 'history', seq: 2, expected: 1 }]);
  });

  it('starts over on diverged and epoch_changed: the old history goes, the new log is folded from its first seq', () => {
    const old = partyLog();
    const fresh = logOf([{ sender: 'cy', type: 'party:create', body: { title: 'Another party', name: 'Cy' } }, chat('cy', 'hello')], 1, 'n');
    for (const reason of ['diverged', 'epoch_changed'] as const) {
      const view = new PartyView(ROOM);
      view.open(old.slice(0, 5));
      view.message(old[5]!);
      view.reset({ room: ROOM, reason, epoch: 'e2', ...(reason === 'diverged' ? { toSeq: 6 } : { previousEpoch: 'e1' }) });
      expect(view.folded.state).toEqual(deriveParty([]));
      expect(view.has(old[0]!.id)).toBe(false);
      for (const event of fresh) view.message(event);
      expect(view.folded.state).toEqual(deriveParty(fresh));
      expect(view.raw.anomalies).toEqual([]);
      expect(view.raw.resets).toEqual([{ reason, epoch: 'e2', ...(reason === 'diverged' ? { toSeq: 6 } : { previousEpoch: 'e1' }), afterEvents: 1 }]);
      expect(view.raw.events).toEqual([6, 1, 2]);
    }
  });

  it('continues after the hole on trimmed', () => {
    const log = logOf([chat('ana', 'one'), chat('bo', 'two'), chat('ana', 'three'), chat('bo', 'four')]);
    const view = new PartyView(ROOM);
    view.open(log.slice(0, 1));
    view.reset({ room: ROOM, reason: 'trimmed', epoch: 'e1', fromSeq: 2, toSeq: 3 });
    view.message(log[3]!);
    expect(view.raw.anomalies).toEqual([]);
    expect(view.folded.state.chat.map((line) => line.text)).toEqual(['one', 'four']);
  });

  it('holds events that come before history() answered, counts them, and folds them after it', () => {
    const log = partyLog();
    const view = new PartyView(ROOM);
    view.message(log[3]!);
    view.message(log[4]!);
    expect(view.folded.lastSeq).toBe(0);
    view.open(log.slice(0, 3));
    for (const event of log.slice(5)) view.message(event);
    expect(view.raw).toMatchObject({ history: [1, 2, 3], events: [4, 5, 6, 7, 8], early: 2, anomalies: [] });
    expect(view.folded.state).toEqual(deriveParty(log));
  });

  it('keeps title, early items and votes of a party past 500 messages (a reload folds the whole cached log)', () => {
    const log = [...partyLog(), ...logOf(Array.from({ length: 650 }, (_, index) => chat(index % 2 ? 'ana' : 'bo', `chat ${index}`)), 9)];
    const view = new PartyView(ROOM);
    view.open(log); // what history() answers after a reload: the whole room, from seq 1
    const { state } = view.folded;
    expect(state.title).toBe("Sam's 30th");
    expect(state.items.map((item) => [item.label, item.claimedBy])).toEqual([['Cake', 'bo']]);
    expect(state.polls.venue.votes).toEqual(new Map([['ana', 'v2']]));
    expect(state.chat).toHaveLength(651);
    expect(view.raw.history).toEqual(log.map((_, index) => index + 1));
  });

  it('answers the same fold object until something changes (a stable snapshot for React)', () => {
    const log = partyLog();
    const view = new PartyView(ROOM);
    view.open(log.slice(0, 2));
    const before = view.folded;
    view.message(log[0]!); // a duplicate changes nothing
    expect(view.folded).toBe(before);
    view.message(log[2]!);
    expect(view.folded).not.toBe(before);
  });

  it('folds each message once: a new message never makes the view read the older ones again', () => {
    const log = [...partyLog(), ...logOf(Array.from({ length: 300 }, (_, index) => (index % 3 === 0 ? { sender: 'bo', type: 'item:done', body: { itemId: 'cake', done: index % 2 === 0 } } : chat('ana', `line ${index}`))), 9)];
    // Every body read is counted: a re-fold of the log would read the earlier messages again.
    const reads = new Map<string, number>();
    const counted = log.map((event) => {
      const { body, ...rest } = event;
      return Object.defineProperty({ ...rest }, 'body', {
        enumerable: true,
        get() {
          reads.set(event.id, (reads.get(event.id) ?? 0) + 1);
          return body;
        },
      }) as PartyEvent;
    });
    const view = new PartyView(ROOM);
    view.open(counted.slice(0, 100));
    expect([...reads.values()].every((count) => count === 1)).toBe(true);
    for (const [index, event] of counted.slice(100).entries()) {
      view.message(event);
      expect(reads.size, `after message ${index + 101}`).toBe(index + 101);
      expect(reads.get(event.id)).toBe(1);
    }
    expect([...reads.values()].every((count) => count === 1)).toBe(true);
    // One by one, it is the fold of the whole log at once.
    expect(view.folded.state).toEqual(deriveParty(log));
  });
});
