import { describe, expect, it } from 'vitest';
import { applyPending, deriveParty, emptyPartyState, leadingOption, reduceParty, type PartyEvent } from './party-state.js';

let counter = 0;
function msg(sender: string, type: string, body: unknown, seq?: number): PartyEvent {
  counter += 1;
  return { id: `${sender}-${counter}`, sender, type, body, seq };
}

function logOf(events: PartyEvent[]): PartyEvent[] {
  return events.map((event, index) => ({ ...event, seq: index + 1 }));
}

describe('deriveParty', () => {
  it('builds the party from its create message: title, host, first date and venue options voted by the host', () => {
    const state = deriveParty(logOf([msg('ana', 'party:create', { title: "Jo's 30th", name: 'Ana', date: '2031-06-14T19:00', venue: 'Rooftop' })]));
    expect(state.title).toBe("Jo's 30th");
    expect(state.host).toBe('ana');
    expect(state.members).toEqual({ ana: 'Ana' });
    expect(state.polls.date.options.map((o) => [o.label, o.voters])).toEqual([['2031-06-14T19:00', ['ana']]]);
    expect(state.polls.venue.options.map((o) => [o.label, o.voters])).toEqual([['Rooftop', ['ana']]]);
    expect(state.lastSeq).toBe(1);
  });

  it('counts only the first create message', () => {
    const state = deriveParty(logOf([msg('ana', 'party:create', { title: 'A', name: 'Ana' }), msg('bo', 'party:create', { title: 'B', name: 'Bo' })]));
    expect(state.title).toBe('A');
    expect(state.host).toBe('ana');
  });

  it('keeps chat in log order with names from member:join (a later join renames)', () => {
    const state = deriveParty(
      logOf([
        msg('ana', 'member:join', { name: 'Ana' }),
        msg('bo', 'member:join', { name: 'Bo' }),
        msg('bo', 'chat', { text: ' hi ' }),
        msg('ana', 'chat', { text: 'hello' }),
        msg('bo', 'member:join', { name: 'Bobby' }),
      ]),
    );
    expect(state.chat.map((line) => [line.sender, line.text, line.seq])).toEqual([
      ['bo', 'hi', 3],
      ['ana', 'hello', 4],
    ]);
    expect(state.members).toEqual({ ana: 'Ana', bo: 'Bobby' });
    expect(state.memberOrder).toEqual(['ana', 'bo']);
  });

  it('checklist: the first claim in log order wins, only the claimer can unclaim, anyone can tick', () => {
    const state = deriveParty(
      logOf([
        msg('ana', 'item:add', { itemId: 'cake', label: 'Cake' }),
        msg('bo', 'item:claim', { itemId: 'cake' }),
        msg('cy', 'item:claim', { itemId: 'cake' }),
        msg('cy', 'item:unclaim', { itemId: 'cake' }),
        msg('ana', 'item:done', { itemId: 'cake', done: true }),
      ]),
    );
    expect(state.items).toHaveLength(1);
    expect(state.items[0]).toMatchObject({ itemId: 'cake', label: 'Cake', addedBy: 'ana', claimedBy: 'bo', done: true });

    const released = reduceParty(state, { ...msg('bo', 'item:unclaim', { itemId: 'cake' }), seq: 6 });
    expect(released.items[0]?.claimedBy).toBeUndefined();
    expect(state.items[0]?.claimedBy).toBe('bo'); // the old state is untouched
  });

  it('votes: one current vote per person, options proposed twice are one option, ties go to the first proposed', () => {
    const state = deriveParty(
      logOf([
        msg('ana', 'poll:option', { poll: 'venue', optionId: 'v1', label: 'Park' }),
        msg('bo', 'poll:option', { poll: 'venue', optionId: 'v2', label: 'Bar' }),
        msg('cy', 'poll:option', { poll: 'venue', optionId: 'v3', label: 'park' }),
        msg('ana', 'poll:vote', { poll: 'venue', optionId: 'v2' }),
        msg('bo', 'poll:vote', { poll: 'venue', optionId: 'v2' }),
        msg('ana', 'poll:vote', { poll: 'venue', optionId: 'v1' }),
        msg('cy', 'poll:vote', { poll: 'venue', optionId: 'v3' }), // v3 was never created
        msg('cy', 'poll:vote', { poll: 'venue', optionId: 'park' }), // by label
      ]),
    );
    const venue = state.polls.venue;
    expect(venue.options.map((o) => [o.label, o.voters])).toEqual([
      ['Park', ['ana', 'cy']],
      ['Bar', ['bo']],
    ]);
    expect(venue.votes).toEqual({ ana: 'v1', bo: 'v2', cy: 'v1' });
    expect(leadingOption(venue)?.label).toBe('Park');
    expect(state.ignored).toBe(1);

    const tie = deriveParty(
      logOf([
        msg('ana', 'poll:option', { poll: 'date', optionId: 'd1', label: '2031-01-01' }),
        msg('bo', 'poll:option', { poll: 'date', optionId: 'd2', label: '2031-01-02' }),
        msg('bo', 'poll:vote', { poll: 'date', optionId: 'd2' }),
        msg('ana', 'poll:vote', { poll: 'date', optionId: 'd1' }),
      ]),
    );
    expect(leadingOption(tie.polls.date)?.optionId).toBe('d1');
    expect(leadingOption(emptyPartyState().polls.date)).toBeUndefined();
  });

  it('ignores malformed and unknown messages without throwing', () => {
    const state = deriveParty(
      logOf([
        msg('x', 'chat', 'not an object'),
        msg('x', 'chat', { text: '' }),
        msg('x', 'chat', { text: 'a'.repeat(5000) }),
        msg('x', 'item:claim', { itemId: 'nope' }),
        msg('x', 'item:done', { itemId: 'nope', done: 'yes' }),
        msg('x', 'poll:option', { poll: 'colour', optionId: 'c', label: 'Red' }),
        msg('x', 'something:else', {}),
        msg('x', 'party:create', { name: 'no title' }),
      ]),
    );
    expect(state.chat).toEqual([]);
    expect(state.items).toEqual([]);
    expect(state.ignored).toBe(8);
    expect(state.lastSeq).toBe(8);
  });

  it('applies own pending messages after the log, once, even when one of them is already logged', () => {
    const add = msg('me', 'item:add', { itemId: 'chips', label: 'Chips' });
    const claim = msg('me', 'item:claim', { itemId: 'chips' });
    const line = msg('me', 'chat', { text: 'on my way' });
    const log = logOf([msg('ana', 'chat', { text: 'first' }), add]);
    const state = deriveParty(log, [add, claim, line]);
    expect(state.items.map((item) => [item.label, item.claimedBy])).toEqual([['Chips', 'me']]);
    expect(state.chat.map((l) => [l.text, l.seq])).toEqual([
      ['first', 1],
      ['on my way', undefined],
    ]);
    expect(state.items[0]?.changeIds).toEqual([add.id, claim.id]);
  });

  it('folds in log order, and order decides: the same messages in another order make another party', () => {
    const add = msg('ana', 'item:add', { itemId: 'i1', label: 'Balloons' });
    const boClaims = msg('bo', 'item:claim', { itemId: 'i1' });
    const anaClaims = msg('ana', 'item:claim', { itemId: 'i1' });
    const line = msg('bo', 'chat', { text: 'mine!' });
    // No sorting anywhere: each array is a log, folded as given.
    expect(deriveParty(logOf([add, boClaims, anaClaims, line])).items[0]?.claimedBy).toBe('bo');
    expect(deriveParty(logOf([add, anaClaims, boClaims, line])).items[0]?.claimedBy).toBe('ana');
    // A claim folded before its item is lost: an app that folded messages as they trickled in, out of
    // log order, would show an unclaimed item where every other friend sees Bo's claim.
    const early = deriveParty(logOf([boClaims, add, line]));
    expect(early.items[0]?.claimedBy).toBeUndefined();
    expect(early.ignored).toBe(1);
    // The fold trusts the order it is handed: it does not sort by seq behind the caller's back.
    const handedOutOfOrder = deriveParty([{ ...boClaims, seq: 2 }, { ...add, seq: 1 }]);
    expect(handedOutOfOrder.items[0]?.claimedBy).toBeUndefined();
  });

  it('applyPending on a folded log equals deriving log and queue together', () => {
    const add = msg('ana', 'item:add', { itemId: 'i1', label: 'Cake' });
    const claim = msg('me', 'item:claim', { itemId: 'i1' });
    const vote = msg('me', 'chat', { text: 'mine' });
    const log = logOf([add, claim]);
    const folded = log.reduce(reduceParty, emptyPartyState());
    const logged = new Set(log.map((event) => event.id));
    expect(applyPending(folded, [claim, vote], (id) => logged.has(id))).toEqual(deriveParty(log, [claim, vote]));
  });
});
