import { describe, expect, it } from 'vitest';
import { KeyedList, PersistentList } from './persistent-list.js';

/** A small deterministic random source (the same run every time). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

describe('PersistentList', () => {
  it('behaves like an array through pushes past three trie levels, and every version keeps its elements', () => {
    const next = random(7);
    let list = PersistentList.empty<number>();
    const model: number[] = [];
    const versions: [PersistentList<number>, number[]][] = [];
    for (let n = 0; n < 40_000; n += 1) {
      list = list.push(n);
      model.push(n);
      if (n % 3 === 0 && n > 0) {
        const index = Math.floor(next() * model.length);
        list = list.set(index, -n);
        model[index] = -n;
      }
      if ([0, 31, 32, 33, 1055, 1056, 1057, 32_799, 32_800, 32_801].includes(n)) versions.push([list, model.slice()]);
    }
    expect(list.length).toBe(model.length);
    expect(list.toArray()).toEqual(model);
    expect([...list]).toEqual(model);
    expect(list.at(-1)).toBe(model.at(-1));
    expect(list.at(model.length)).toBeUndefined();
    expect(list.at(-model.length - 1)).toBeUndefined();
    expect(list.slice(1_000, 1_100)).toEqual(model.slice(1_000, 1_100));
    expect(list.slice(-40)).toEqual(model.slice(-40));
    expect(list.map((value, index) => value + index)).toEqual(model.map((value, index) => value + index));
    for (const [version, snapshot] of versions) expect(version.toArray()).toEqual(snapshot);
    expect(() => list.set(model.length, 1)).toThrow(RangeError);
  });
});

describe('KeyedList', () => {
  const line = (id: string, text = id) => ({ id, text });
  const empty = () => KeyedList.empty<{ id: string; text: string }>((value) => value.id);

  it('finds elements by any string key, `__proto__` and `constructor` included', () => {
    let list = empty();
    for (const id of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a']) list = list.push(line(id));
    expect(list.indexOfKey('__proto__')).toBe(0);
    expect(list.get('constructor')).toEqual(line('constructor'));
    expect(list.has('valueOf')).toBe(false);
    expect(list.get('valueOf')).toBeUndefined();
    expect(list.indexOfKey('missing')).toBe(-1);
    expect(list.update('toString', (value) => ({ ...value, text: 'changed' })).get('toString')?.text).toBe('changed');
    expect(list.update('nope', () => line('x'))).toBe(list);
  });

  it('an older version does not see what a newer one added, and a branch does not disturb the list it came from', () => {
    const base = empty().push(line('a')).push(line('b'));
    const newer = base.push(line('c'));
    expect(base.has('c')).toBe(false);
    expect(newer.indexOfKey('c')).toBe(2);

    // Two versions grown from the same one each find their own element at position 3.
    const left = newer.push(line('left'));
    const right = newer.push(line('right'));
    expect([left.indexOfKey('left'), left.has('right')]).toEqual([3, false]);
    expect([right.indexOfKey('right'), right.has('left')]).toEqual([3, false]);

    // The queued overlay is a branch: what it adds stays with it; the log's list goes on without it.
    const overlay = left.branch().push(line('queued'));
    const logNext = left.push(line('logged'));
    expect(overlay.indexOfKey('queued')).toBe(4);
    expect(overlay.has('logged')).toBe(false);
    expect(logNext.indexOfKey('logged')).toBe(4);
    expect(logNext.has('queued')).toBe(false);
    expect(logNext.toArray().map((value) => value.id)).toEqual(['a', 'b', 'c', 'left', 'logged']);
  });

  it('a repeated key keeps finding its first element', () => {
    const list = empty().push(line('a', 'first')).push(line('a', 'second'));
    expect(list.length).toBe(2);
    expect(list.get('a')?.text).toBe('first');
  });
});
