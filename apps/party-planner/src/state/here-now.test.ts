import { describe, expect, it } from 'vitest';
import { enteredName, friendsHere } from './here-now.js';
import { MAX_LABEL } from './party-state.js';

const unknown = () => 'Guest';

describe('here now', () => {
  it('lists everyone here but me, by the name they entered with, sorted', () => {
    const members = [
      { sub: 'u-cy', data: { name: 'Cy' } },
      { sub: 'u-me', data: { name: 'Ana' } },
      { sub: 'u-bo', data: { name: 'Bo' } },
    ];
    expect(friendsHere(members, 'u-me', unknown)).toEqual([
      { sub: 'u-bo', name: 'Bo' },
      { sub: 'u-cy', name: 'Cy' },
    ]);
  });

  it('nobody else here: an empty list', () => {
    expect(friendsHere([], 'u-me', unknown)).toEqual([]);
    expect(friendsHere([{ sub: 'u-me', data: { name: 'Ana' } }], 'u-me', unknown)).toEqual([]);
  });

  it('without a usable entered name, falls back (e.g. to the name they joined the party with)', () => {
    const joined: Record<string, string> = { 'u-bo': 'Bo from the log' };
    const fallback = (sub: string) => joined[sub] ?? 'Guest';
    const members = [
      { sub: 'u-bo', data: undefined },
      { sub: 'u-cy', data: { name: '   ' } },
      { sub: 'u-dee', data: ['not', 'an', 'object'] },
      { sub: 'u-eve', data: { name: 42 } },
    ];
    expect(friendsHere(members, 'u-me', fallback)).toEqual([
      { sub: 'u-bo', name: 'Bo from the log' },
      { sub: 'u-cy', name: 'Guest' },
      { sub: 'u-dee', name: 'Guest' },
      { sub: 'u-eve', name: 'Guest' },
    ]);
  });

  it('one entry per friend, two friends with one name both shown', () => {
    const members = [
      { sub: 'u-b2', data: { name: 'Bo' } },
      { sub: 'u-b1', data: { name: 'Bo' } },
      { sub: 'u-b1', data: { name: 'Bo' } },
    ];
    expect(friendsHere(members, 'u-me', unknown).map((friend) => friend.sub)).toEqual(['u-b1', 'u-b2']);
  });

  it('trims and caps entered names', () => {
    expect(enteredName({ name: '  Ana  ' })).toBe('Ana');
    expect(enteredName({ name: 'x'.repeat(500) })).toHaveLength(MAX_LABEL);
    expect(enteredName(null)).toBeUndefined();
    expect(enteredName('Ana')).toBeUndefined();
  });
});
