import { describe, expect, it } from 'vitest';
import { applyPending, deriveParty, displayName, emptyPartyState, labelKey, leadingOption, reduceParty, type PartyEvent } from './party-state.js';

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
    expect(state.members).toEqual(new Map([['ana', 'Ana']]));
    expect(state.polls.date.options.map((o) => [o.label, o.voters])).toEqual([['2031-06-14T19:00', ['ana']]]);
    expect(state.polls.venue.options.map((o) => [o.label, o.voters])).toEqual([['Rooftop', ['ana']]]);
    expect(state.lastSeq).toBe(1);
  });

  it('counts only the first create message', () => {
    const state = deriveParty(logOf([msg('ana', 'party:create', { title: 'A', name: 'Ana' }), msg('bo', 'party:create', { title: 'B', name: 'Bo' })]));
    expect(state.title).toBe('A');
    expect(state.host).toBe('ana');
  });

  it('knows chat senders as members, with names from member:join (a later join renames); chat lines are the SDK\'s (chat-lines.ts)', () => {
    const state = deriveParty(
      logOf([
        msg('ana', 'member:join', { name: 'Ana' }),
        msg('bo', 'member:join', { name: 'Bo' }),
        msg('bo', 'chat', { text: ' hi ' }),
        msg('ana', 'chat', { text: 'hello' }),
        msg('bo', 'member:join', { name: 'Bobby' }),
      ]),
    );
    expect(state.members).toEqual(new Map([['ana', 'Ana'], ['bo', 'Bobby']]));
    expect([...state.members.keys()]).toEqual(['ana', 'bo']); // order of first appearance, a rename keeps it
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
    expect(state.items.at(0)).toMatchObject({ itemId: 'cake', label: 'Cake', addedBy: 'ana', claimedBy: 'bo', done: true });

    const released = reduceParty(state, { ...msg('bo', 'item:unclaim', { itemId: 'cake' }), seq: 6 });
    expect(released.items.at(0)?.claimedBy).toBeUndefined();
    expect(state.items.at(0)?.claimedBy).toBe('bo'); // the old state is untouched
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
    expect(venue.votes).toEqual(new Map([['ana', 'v1'], ['bo', 'v2'], ['cy', 'v1']]));
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
    expect(state.members.size).toBe(0); // (no valid chat line made its sender a member)
    expect(state.items.toArray()).toEqual([]);
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
    expect(state.members.has('me')).toBe(true); // the queued line's sender
    expect(state.items.at(0)?.changedBy).toEqual(new Map([['me', claim.id]])); // my latest change to it: the queued claim
  });

  it('folds in log order, and order decides: the same messages in another order make another party', () => {
    const add = msg('ana', 'item:add', { itemId: 'i1', label: 'Balloons' });
    const boClaims = msg('bo', 'item:claim', { itemId: 'i1' });
    const anaClaims = msg('ana', 'item:claim', { itemId: 'i1' });
    const line = msg('bo', 'chat', { text: 'mine!' });
    // No sorting anywhere: each array is a log, folded as given.
    expect(deriveParty(logOf([add, boClaims, anaClaims, line])).items.at(0)?.claimedBy).toBe('bo');
    expect(deriveParty(logOf([add, anaClaims, boClaims, line])).items.at(0)?.claimedBy).toBe('ana');
    // A claim folded before its item is lost: an app that folded messages as they trickled in, out of
    // log order, would show an unclaimed item where every other friend sees Bo's claim.
    const early = deriveParty(logOf([boClaims, add, line]));
    expect(early.items.at(0)?.claimedBy).toBeUndefined();
    expect(early.ignored).toBe(1);
    // The fold trusts the order it is handed: it does not sort by seq behind the caller's back.
    const handedOutOfOrder = deriveParty([{ ...boClaims, seq: 2 }, { ...add, seq: 1 }]);
    expect(handedOutOfOrder.items.at(0)?.claimedBy).toBeUndefined();
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

  it('treats ids that are names of Object.prototype members as ids like any other', () => {
    const odd = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    // Nobody named these has joined: they are guests, not functions or prototypes.
    const empty = emptyPartyState();
    for (const sub of odd) expect(displayName(empty, sub)).toBe('Guest');

    const events: PartyEvent[] = [msg('__proto__', 'party:create', { title: 'Odd ids', name: 'Proto', venue: 'Hall' })];
    for (const sub of odd.slice(1)) events.push(msg(sub, 'member:join', { name: `Name of ${sub}` }));
    for (const itemId of odd) events.push(msg('constructor', 'item:add', { itemId, label: `Item ${itemId}` }));
    events.push(msg('toString', 'item:claim', { itemId: '__proto__' }));
    events.push(msg('hasOwnProperty', 'item:claim', { itemId: 'constructor' }));
    events.push(msg('__proto__', 'item:done', { itemId: 'toString', done: true }));
    events.push(msg('toString', 'item:claim', { itemId: 'hasOwnProperty' }));
    events.push(msg('toString', 'item:unclaim', { itemId: 'hasOwnProperty' }));
    for (const optionId of odd) events.push(msg('hasOwnProperty', 'poll:option', { poll: 'date', optionId, label: `2031-01-0${odd.indexOf(optionId) + 1}` }));
    events.push(msg('__proto__', 'poll:vote', { poll: 'date', optionId: 'constructor' }));
    events.push(msg('constructor', 'poll:vote', { poll: 'date', optionId: 'constructor' }));
    events.push(msg('toString', 'poll:vote', { poll: 'date', optionId: 'toString' }));
    events.push(msg('hasOwnProperty', 'poll:vote', { poll: 'date', optionId: '__proto__' }));
    events.push(msg('hasOwnProperty', 'poll:vote', { poll: 'date', optionId: 'hasOwnProperty' })); // changes their vote
    events.push(msg('valueOf', 'poll:vote', { poll: 'date', optionId: 'valueOf' })); // no such option
    events.push(msg('__proto__', 'chat', { text: 'hello from __proto__' }));
    const state = deriveParty(logOf(events));

    expect(state.title).toBe('Odd ids');
    expect(state.host).toBe('__proto__');
    expect([...state.members]).toEqual([
      ['__proto__', 'Proto'],
      ['constructor', 'Name of constructor'],
      ['toString', 'Name of toString'],
      ['hasOwnProperty', 'Name of hasOwnProperty'],
    ]);
    for (const sub of odd) expect(typeof displayName(state, sub)).toBe('string');
    expect(displayName(state, 'valueOf')).toBe('Guest');

    expect(state.items.map((item) => [item.itemId, item.claimedBy, item.done])).toEqual([
      ['__proto__', 'toString', false],
      ['constructor', 'hasOwnProperty', false],
      ['toString', undefined, true],
      ['hasOwnProperty', undefined, false],
    ]);
    expect(state.items.get('toString')?.changedBy.get('__proto__')).toBeDefined();

    const date = state.polls.date;
    expect(date.options.map((option) => [option.optionId, option.voters])).toEqual([
      ['__proto__', []],
      ['constructor', ['__proto__', 'constructor']],
      ['toString', ['toString']],
      ['hasOwnProperty', ['hasOwnProperty']],
    ]);
    expect([...date.votes]).toEqual([
      ['__proto__', 'constructor'],
      ['constructor', 'constructor'],
      ['toString', 'toString'],
      ['hasOwnProperty', 'hasOwnProperty'],
    ]);
    expect(date.votes.has('valueOf')).toBe(false);
    expect(leadingOption(date)?.optionId).toBe('constructor');
    expect(state.members.get('__proto__')).toBe('Proto'); // a member like any other (it joined by that name)
    expect(state.ignored).toBe(1); // the vote for an option that does not exist
    // Nothing leaked onto Object.prototype.
    expect(({} as Record<string, unknown>).Proto).toBeUndefined();
    expect(Object.prototype.toString.call({})).toBe('[object Object]');
  });

  it('matches option labels the same way for every friend, whatever their locale: case-insensitive, accent-sensitive', () => {
    expect(labelKey('Park')).toBe(labelKey('PARK'));
    expect(labelKey('Café')).toBe(labelKey('Cafe\u0301')); // composed or not, one label
    expect(labelKey('Café')).not.toBe(labelKey('Cafe'));
    expect(labelKey('Ｒｏｏｆｔｏｐ')).toBe(labelKey('rooftop')); // full-width forms
    expect(labelKey('Straße')).toBe(labelKey('STRASSE'));
    expect(labelKey('Istanbul')).toBe(labelKey('ISTANBUL')); // the same in a Turkish locale: no locale is asked
  });
});
