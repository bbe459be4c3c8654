import type { PresenceChange } from '@partyline/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PresenceBatcher } from '../src/presence-batcher.js';
import type { PresenceChanges } from '../src/store/presence-store.js';

const change = (version: number, sub = `u${version}`): PresenceChange => ({ version, kind: 'joined', member: { sub, since: 0 } });
const batch = (epoch: string, ...versions: number[]): PresenceChanges => ({ epoch, changes: versions.map((version) => change(version)) });

describe('presence batcher', () => {
  let sent: { room: string; epoch: string; versions: number[] }[];
  let batcher: PresenceBatcher;
  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    batcher = new PresenceBatcher((room, { epoch, changes }) => sent.push({ room, epoch, versions: changes.map((c) => c.version) }), 250);
  });
  afterEach(() => {
    batcher.flush();
    vi.useRealTimers();
  });

  it('sends a quiet room’s change at once, and what follows within the interval together, in version order', () => {
    batcher.add('a', batch('e', 1));
    expect(sent).toEqual([{ room: 'a', epoch: 'e', versions: [1] }]);
    batcher.add('a', batch('e', 3));
    batcher.add('a', batch('e', 2));
    batcher.add('b', batch('f', 1)); // another room is not held by this one
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(250);
    expect(sent.slice(2)).toEqual([{ room: 'a', epoch: 'e', versions: [2, 3] }]);
    // Sent at a tick: the room stays busy, and its next change waits for the tick after.
    batcher.add('a', batch('e', 4));
    expect(sent).toHaveLength(3);
    vi.advanceTimersByTime(250);
    expect(sent.slice(3)).toEqual([{ room: 'a', epoch: 'e', versions: [4] }]);
    // A whole interval with nothing: the room is quiet again and its next change goes at once.
    vi.advanceTimersByTime(250);
    batcher.add('a', batch('e', 5));
    expect(sent.slice(4)).toEqual([{ room: 'a', epoch: 'e', versions: [5] }]);
  });

  it('never mixes epochs in one send, and sends what waits when flushed', () => {
    batcher.add('a', batch('old', 7));
    batcher.add('a', batch('old', 8));
    batcher.add('a', batch('new', 1));
    expect(sent).toEqual([
      { room: 'a', epoch: 'old', versions: [7] },
      { room: 'a', epoch: 'old', versions: [8] },
    ]);
    batcher.flush();
    expect(sent.slice(2)).toEqual([{ room: 'a', epoch: 'new', versions: [1] }]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sends every change at once with interval 0', () => {
    const immediate = new PresenceBatcher((room, { changes }) => sent.push({ room, epoch: '', versions: changes.map((c) => c.version) }), 0);
    immediate.add('a', batch('e', 1));
    immediate.add('a', batch('e', 2));
    expect(sent.map((s) => s.versions)).toEqual([[1], [2]]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
