import { describe, expect, it } from 'vitest';
import { checkPresence, outagesOf, presenceSettled, type PresenceHistory, type PresenceLook, type PresenceObservation, type PresenceSession } from './presence-checker.js';

const GRACE = 5000;
const up = (at: number) => ({ at, up: true });
const down = (at: number) => ({ at, up: false });
const event = (at: number, change: Partial<Omit<PresenceObservation, 'at'>>): PresenceObservation => ({ at, joined: [], left: [], updated: [], ...change });
const session = (overrides: Partial<PresenceSession> = {}): PresenceSession => ({ startedAt: 0, links: [up(100)], events: [], ...overrides });
const history = (member: string, sessions: PresenceSession[], cuts: PresenceHistory['cuts'] = []): PresenceHistory => ({ member, room: 'r', sessions, cuts });
const look = (member: string, shown: string[], overrides: Partial<PresenceLook> = {}): PresenceLook => ({
  member,
  room: 'r',
  alive: true,
  connected: true,
  data: { name: member, life: 1 },
  members: shown.map((sub) => ({ sub, data: { name: sub, life: 1 } })),
  ...overrides,
});
const ZERO = { ghosts: 0, missing: 0, staleData: 0, flaps: 0, unexplainedLeaves: 0 };

describe('checkPresence', () => {
  it('passes views that show exactly the members alive and connected', () => {
    const result = checkPresence([history('a', [session()]), history('b', [session()])], [look('a', ['a', 'b']), look('b', ['b', 'a'])], { graceMs: GRACE });
    expect(result).toMatchObject({ ...ZERO, observers: 2, legitimateLeaves: 0 });
    expect(result.examples).toEqual([]);
  });

  it('counts ghosts, missing members and stale data in the final views', () => {
    const looks = [
      look('a', ['a', 'b', 'c']), // c is not connected: a ghost
      look('b', ['b']), // a is missing
      look('c', ['a', 'b', 'c'], { connected: false }), // judged too (alive), though not part of the truth
      look('d', ['a', 'b', 'd'], { alive: false }), // not running: not judged
    ];
    const result = checkPresence([], looks, { graceMs: GRACE });
    expect(result).toMatchObject({ observers: 3, ghosts: 2, missing: 1, staleData: 0 });
    expect(result.examples.some((example) => example.includes('alive but not connected'))).toBe(true);
    const stale = checkPresence([], [look('a', ['a', 'b']), look('b', ['a', 'b'], { data: { name: 'b', life: 2 } })], { graceMs: GRACE });
    expect(stale).toMatchObject({ ghosts: 0, missing: 0, staleData: 2 });
    expect(presenceSettled([look('a', ['a', 'b']), look('b', ['a', 'b'])])).toBe(true);
    expect(presenceSettled([look('a', ['a']), look('b', ['a', 'b'])])).toBe(false);
  });

  it('counts a leave and a join within the grace of a member that was never down as a flap', () => {
    const observer = history('a', [session({ events: [event(10_000, { left: ['b'] }), event(11_000, { joined: ['b'] })] })]);
    const result = checkPresence([observer, history('b', [session()])], [], { graceMs: GRACE });
    expect(result).toMatchObject({ flaps: 1, unexplainedLeaves: 0, legitimateLeaves: 0, leavesSeen: 1 });
    expect(result.examples[0]).toContain('not down');
  });

  it('counts a flap when the member was down for less than the grace', () => {
    const b = history('b', [session({ links: [up(100), down(8000), up(11_000)] })]);
    const observer = history('a', [session({ events: [event(10_000, { left: ['b'] }), event(11_200, { joined: ['b'] })] })]);
    expect(checkPresence([observer, b], [], { graceMs: GRACE })).toMatchObject({ flaps: 1, legitimateLeaves: 0 });
  });

  it('does not count leaves of a restarted member or of one down past the grace as flaps', () => {
    // b restarted at 10 s (its SDK left at once) and came back 1 s later.
    const restarted = history('b', [session({ end: { at: 10_000, how: 'closed' } }), session({ startedAt: 10_800, links: [down(10_800), up(11_000)] })]);
    // c was cut off at 20 s and back online at 27 s: the relays let it go after the grace.
    const cutOff = history('c', [session({ links: [up(100), down(20_000), up(27_000)] })], [{ from: 20_000, to: 24_000 }]);
    const observer = history('a', [
      session({
        events: [
          event(10_050, { left: ['b'] }),
          event(11_100, { joined: ['b'] }),
          event(25_300, { left: ['c'] }),
          event(27_200, { joined: ['c'] }),
        ],
      }),
    ]);
    const result = checkPresence([observer, restarted, cutOff], [], { graceMs: GRACE });
    expect(result).toMatchObject({ flaps: 0, unexplainedLeaves: 0, legitimateLeaves: 2, leavesSeen: 2 });
  });

  it('does not excuse a leave before the grace ran out, and counts a leave with no join after it as unexplained', () => {
    // d was down from 20 s for good (crashed), but was shown leaving 1 s later: too early.
    const crashed = history('d', [session({ end: { at: 20_000, how: 'killed' } })]);
    const observer = history('a', [session({ events: [event(21_000, { left: ['d'] })] })]);
    expect(checkPresence([observer, crashed], [], { graceMs: GRACE })).toMatchObject({ flaps: 0, unexplainedLeaves: 1, legitimateLeaves: 0 });
    const late = history('a', [session({ events: [event(25_500, { left: ['d'] })] })]);
    expect(checkPresence([late, crashed], [], { graceMs: GRACE })).toMatchObject({ flaps: 0, unexplainedLeaves: 0, legitimateLeaves: 1 });
  });

  it('tells a leave the relays made from one only a view made up, by what the store held', () => {
    const observer = history('a', [session({ events: [event(10_000, { left: ['b'] }), event(11_000, { joined: ['b'] }), event(20_000, { left: ['c'] })] })]);
    const members = [observer, history('b', [session()]), history('c', [session()])];
    const store = [
      { at: 0, room: 'r', members: ['a', 'b', 'c'] },
      { at: 9_800, room: 'r', members: ['a', 'c'] }, // the relays dropped b, and took it back
      { at: 10_900, room: 'r', members: ['a', 'b', 'c'] },
    ];
    const result = checkPresence(members, [], { graceMs: GRACE, store });
    expect(result).toMatchObject({ flaps: 1, unexplainedLeaves: 1, byTheRelays: { flaps: 1, unexplainedLeaves: 0 } });
    expect(result.examples.find((example) => example.includes('saw c leave'))).toContain('only this view');
  });

  it('pairs a leave with a join only within one life of the observer', () => {
    // The join is the new life's first look at the room, not evidence of b coming back.
    const observer = history('a', [session({ events: [event(10_000, { left: ['b'] })], end: { at: 10_500, how: 'closed' } }), session({ startedAt: 11_000, events: [event(11_500, { joined: ['a', 'b'] })] })]);
    expect(checkPresence([observer, history('b', [session()])], [], { graceMs: GRACE })).toMatchObject({ flaps: 0, unexplainedLeaves: 1 });
  });
});

describe('outagesOf', () => {
  it('joins a life’s end and the next life’s first connection into one outage', () => {
    const member = history('b', [session({ links: [up(100), down(1000), up(1500)], end: { at: 3000, how: 'killed' } }), session({ startedAt: 3500, links: [down(3500), up(4200)] })]);
    expect(outagesOf(member)).toEqual([
      { from: 1000, to: 1500, closed: false, killed: false },
      { from: 3000, to: 4200, closed: false, killed: true },
    ]);
    const gone = history('c', [session({ end: { at: 2000, how: 'closed' } })]);
    expect(outagesOf(gone)).toEqual([{ from: 2000, to: Number.POSITIVE_INFINITY, closed: true, killed: false }]);
  });
});
