import { describe, expect, it } from 'vitest';
import { ReadState } from '../src/read-state.js';

describe('ReadState', () => {
  it('starts from the join: position and unread as the relay counted them', () => {
    const state = new ReadState();
    state.joined({ seq: 4, unread: 3 }, 10);
    expect({ readSeq: state.readSeq, unread: state.unread }).toEqual({ readSeq: 4, unread: 3 });
  });

  it('does not count twice a message the join counted and the view then holds', () => {
    const state = new ReadState();
    state.joined({ seq: 4, unread: 2 }, 6);
    state.message(5, false);
    state.message(6, false);
    expect(state.unread).toBe(2);
    state.message(7, false); // after the join's head: new
    expect(state.unread).toBe(3);
    state.message(7, false); // the same message again (history() after the event)
    expect(state.unread).toBe(3);
  });

  it('counts messages the view held before the join only once', () => {
    const state = new ReadState();
    state.message(5, false);
    state.message(6, false);
    state.joined({ seq: 4, unread: 2 }, 6);
    expect(state.unread).toBe(2);
  });

  it('moving the position takes off the unread messages it passes, never goes back', () => {
    const state = new ReadState();
    state.joined({ seq: 0, unread: 0 }, 0);
    for (const seq of [1, 2, 3, 4]) state.message(seq, false);
    expect(state.moveTo(2)).toBe(true);
    expect(state.unread).toBe(2);
    expect(state.moveTo(1)).toBe(false);
    expect({ readSeq: state.readSeq, unread: state.unread }).toEqual({ readSeq: 2, unread: 2 });
    state.moveTo(4);
    expect(state.unread).toBe(0);
  });

  it('messages the view never held are dropped from the count once the position passes the join head', () => {
    const state = new ReadState();
    state.joined({ seq: 10, unread: 50 }, 80); // a window: the view holds only the newest few
    state.message(79, false);
    state.message(80, false);
    expect(state.unread).toBe(50);
    state.moveTo(79);
    expect(state.unread).toBe(49); // the 48 not held stay counted
    state.moveTo(80);
    expect(state.unread).toBe(0);
  });

  it('an own post reads the room up to it; messages at or before the position are not unread', () => {
    const state = new ReadState();
    state.joined({ seq: 3, unread: 0 }, 3);
    state.message(2, false);
    state.message(4, false);
    state.message(5, true);
    expect({ readSeq: state.readSeq, unread: state.unread }).toEqual({ readSeq: 5, unread: 0 });
  });

  it('a join behind the local position (a markRead still queued) keeps the local one', () => {
    const state = new ReadState();
    state.joined({ seq: 0, unread: 0 }, 0);
    state.message(1, false);
    state.message(2, false);
    state.moveTo(2);
    state.joined({ seq: 1, unread: 1 }, 2);
    expect({ readSeq: state.readSeq, unread: state.unread }).toEqual({ readSeq: 2, unread: 0 });
  });

  it('remembers at most 10 000 unread seqs, counting the rest until the position passes them', () => {
    const state = new ReadState();
    state.joined({ seq: 0, unread: 0 }, 0);
    for (let seq = 1; seq <= 10_005; seq++) state.message(seq, false);
    state.message(3, false); // let go already: not counted twice
    expect(state.unread).toBe(10_005);
    state.moveTo(4);
    expect(state.unread).toBe(10_005); // the ones let go are not known one by one: counted until passed
    state.moveTo(5);
    expect(state.unread).toBe(10_000);
    state.moveTo(10_005);
    expect(state.unread).toBe(0);
  });
});
