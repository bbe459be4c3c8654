/**
 * Immutable lists that grow by one message at a time without copying what came before, so folding
 * a party's log costs the same per message whether it is the 10th or the 100,000th (see
 * `party-state.ts`). Every version stays valid: React and the own-queued overlay keep older ones.
 */

const BITS = 5;
const WIDTH = 1 << BITS;
const MASK = WIDTH - 1;

type Branch = readonly unknown[];

function newPath(level: number, node: Branch): Branch {
  return level === 0 ? node : [newPath(level - BITS, node)];
}

/**
 * A persistent vector (Clojure's, Bagwell's): a 32-way trie plus a tail of up to 32 elements.
 * `push` copies at most the tail and one path (amortized O(1)), `set` and `get` touch one path
 * (O(log₃₂ n): 4 levels for a million elements). Iterates in order; `toEqual` compares it by its elements.
 */
export class PersistentList<T> implements Iterable<T> {
  static readonly #EMPTY = new PersistentList<never>(0, BITS, [], []);

  /** The empty list. */
  static empty<T>(): PersistentList<T> {
    return PersistentList.#EMPTY;
  }

  /** A list of the elements of `values`, in order. */
  static from<T>(values: Iterable<T>): PersistentList<T> {
    let list = PersistentList.empty<T>();
    for (const value of values) list = list.push(value);
    return list;
  }

  readonly #size: number;
  readonly #shift: number;
  readonly #root: Branch;
  readonly #tail: readonly T[];

  private constructor(size: number, shift: number, root: Branch, tail: readonly T[]) {
    this.#size = size;
    this.#shift = shift;
    this.#root = root;
    this.#tail = tail;
  }

  get length(): number {
    return this.#size;
  }

  #tailOffset(): number {
    return this.#size < WIDTH ? 0 : ((this.#size - 1) >>> BITS) << BITS;
  }

  /** The 32-element leaf holding `index` (which must be in range). */
  #leafFor(index: number): readonly T[] {
    if (index >= this.#tailOffset()) return this.#tail;
    let node = this.#root;
    for (let level = this.#shift; level > 0; level -= BITS) node = node[(index >>> level) & MASK] as Branch;
    return node as readonly T[];
  }

  /** The element at `index`; negative counts from the end (`at(-1)` is the last). */
  at(index: number): T | undefined {
    const i = index < 0 ? this.#size + index : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.#size) return undefined;
    return this.#leafFor(i)[i & MASK];
  }

  /** This list and `value` after it. */
  push(value: T): PersistentList<T> {
    if (this.#size - this.#tailOffset() < WIDTH) return new PersistentList(this.#size + 1, this.#shift, this.#root, [...this.#tail, value]);
    // The tail is full: it goes into the trie, a new tail starts.
    let root: Branch;
    let shift = this.#shift;
    if (this.#size >>> BITS > 1 << this.#shift) {
      root = [this.#root, newPath(this.#shift, this.#tail)];
      shift += BITS;
    } else {
      root = this.#pushTail(this.#shift, this.#root, this.#tail);
    }
    return new PersistentList(this.#size + 1, shift, root, [value]);
  }

  #pushTail(level: number, parent: Branch, tail: Branch): Branch {
    const index = ((this.#size - 1) >>> level) & MASK;
    const node = parent.slice();
    if (level === BITS) node[index] = tail;
    else {
      const child = parent[index] as Branch | undefined;
      node[index] = child ? this.#pushTail(level - BITS, child, tail) : newPath(level - BITS, tail);
    }
    return node;
  }

  /** This list with `value` at `index` (which must be in range). */
  set(index: number, value: T): PersistentList<T> {
    if (!Number.isInteger(index) || index < 0 || index >= this.#size) throw new RangeError(`index ${index} out of 0..${this.#size - 1}`);
    if (index >= this.#tailOffset()) {
      const tail = this.#tail.slice();
      tail[index & MASK] = value;
      return new PersistentList(this.#size, this.#shift, this.#root, tail);
    }
    const assoc = (level: number, node: Branch): Branch => {
      const copy = node.slice();
      if (level === 0) copy[index & MASK] = value;
      else copy[(index >>> level) & MASK] = assoc(level - BITS, node[(index >>> level) & MASK] as Branch);
      return copy;
    };
    return new PersistentList(this.#size, this.#shift, assoc(this.#shift, this.#root), this.#tail);
  }

  /** The elements from `start` (inclusive) to `end` (exclusive), as an array. */
  slice(start = 0, end = this.#size): T[] {
    const from = Math.max(0, start < 0 ? this.#size + start : start);
    const to = Math.min(this.#size, end < 0 ? this.#size + end : end);
    const out: T[] = [];
    for (let i = from; i < to; ) {
      const leaf = this.#leafFor(i);
      const stop = Math.min(to, (i | MASK) + 1);
      for (let j = i & MASK; i < stop; i += 1, j += 1) out.push(leaf[j] as T);
    }
    return out;
  }

  toArray(): T[] {
    return this.slice();
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.#size; i += WIDTH) {
      const leaf = this.#leafFor(i);
      const stop = Math.min(WIDTH, this.#size - i);
      for (let j = 0; j < stop; j += 1) yield leaf[j] as T;
    }
  }

  map<U>(project: (value: T, index: number) => U): U[] {
    const out: U[] = [];
    let index = 0;
    for (const value of this) out.push(project(value, index++));
    return out;
  }
}

/**
 * Keys → positions of an append-only list, shared by every version that extends the same run: the
 * newest version (the one whose positions end where the shared map's do) adds to the shared map
 * in O(1); any other version — an older one, or a branch such as the own-queued overlay — keeps its
 * additions in a small map of its own. A version only trusts shared positions below its own length,
 * so what later versions add is invisible to it.
 */
class KeyIndex {
  static create(): KeyIndex {
    return new KeyIndex({ map: new Map(), size: 0 }, 0, undefined);
  }

  readonly #shared: { map: Map<string, number>; size: number };
  /** Shared positions below this belong to this version. */
  readonly #limit: number;
  /** Additions of a version that is not the newest; an empty map marks a branch that never writes the shared map. */
  readonly #own: ReadonlyMap<string, number> | undefined;

  private constructor(shared: { map: Map<string, number>; size: number }, limit: number, own: ReadonlyMap<string, number> | undefined) {
    this.#shared = shared;
    this.#limit = limit;
    this.#own = own;
  }

  /** The same keys, for a short-lived branch: it adds to a map of its own, so the version it came from stays the newest. */
  branch(): KeyIndex {
    return this.#own !== undefined ? this : new KeyIndex(this.#shared, this.#limit, new Map());
  }

  get(key: string): number | undefined {
    const own = this.#own?.get(key);
    if (own !== undefined) return own;
    const position = this.#shared.map.get(key);
    return position !== undefined && position < this.#limit ? position : undefined;
  }

  /** This index with `key` at `position` (the list's length before the append). The first position of a key is kept. */
  with(key: string, position: number): KeyIndex {
    if (this.#own === undefined && this.#limit === this.#shared.size && position === this.#limit) {
      if (!this.#shared.map.has(key)) this.#shared.map.set(key, position);
      this.#shared.size = position + 1;
      return new KeyIndex(this.#shared, position + 1, undefined);
    }
    if (this.get(key) !== undefined) return this;
    return new KeyIndex(this.#shared, this.#limit, new Map(this.#own).set(key, position));
  }
}

/**
 * A persistent list whose elements are found by key in O(1) (chat lines by message id, checklist
 * items by item id, poll options by option id). Keys are plain strings in a `Map`: an id such as
 * `__proto__` or `constructor` is a key like any other.
 */
export class KeyedList<T> implements Iterable<T> {
  static empty<T>(keyOf: (value: T) => string): KeyedList<T> {
    return new KeyedList(keyOf, PersistentList.empty(), KeyIndex.create());
  }

  readonly #keyOf: (value: T) => string;
  readonly #list: PersistentList<T>;
  readonly #index: KeyIndex;

  private constructor(keyOf: (value: T) => string, list: PersistentList<T>, index: KeyIndex) {
    this.#keyOf = keyOf;
    this.#list = list;
    this.#index = index;
  }

  get length(): number {
    return this.#list.length;
  }

  at(index: number): T | undefined {
    return this.#list.at(index);
  }

  /** The position of the element with this key, -1 if none. */
  indexOfKey(key: string): number {
    return this.#index.get(key) ?? -1;
  }

  get(key: string): T | undefined {
    const index = this.#index.get(key);
    return index === undefined ? undefined : this.#list.at(index);
  }

  has(key: string): boolean {
    return this.#index.get(key) !== undefined;
  }

  /**
   * The same list, for a short-lived branch (the own-queued messages on top of the log): what it
   * adds stays with it, so this list keeps growing in O(1) per element.
   */
  branch(): KeyedList<T> {
    return new KeyedList(this.#keyOf, this.#list, this.#index.branch());
  }

  /** This list and `value` after it (a key already present keeps finding its first element). */
  push(value: T): KeyedList<T> {
    const position = this.#list.length;
    return new KeyedList(this.#keyOf, this.#list.push(value), this.#index.with(this.#keyOf(value), position));
  }

  /** This list with the element of `key` replaced by `change(element)`; itself when there is none or `change` answers undefined. */
  update(key: string, change: (value: T) => T | undefined): KeyedList<T> {
    const index = this.#index.get(key);
    const current = index === undefined ? undefined : this.#list.at(index);
    if (index === undefined || current === undefined) return this;
    const next = change(current);
    return next === undefined ? this : new KeyedList(this.#keyOf, this.#list.set(index, next), this.#index);
  }

  slice(start?: number, end?: number): T[] {
    return this.#list.slice(start, end);
  }

  toArray(): T[] {
    return this.#list.toArray();
  }

  [Symbol.iterator](): Iterator<T> {
    return this.#list[Symbol.iterator]();
  }

  map<U>(project: (value: T, index: number) => U): U[] {
    return this.#list.map(project);
  }
}
