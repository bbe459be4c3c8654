/**
 * A member's read position in one room and how many messages after it are unread (no I/O). The relay
 * says both on a join (`read`, as of the page's head); from then on the room counts itself: messages
 * from others after the position add one, the position moving (own `markRead`, own posts, own other
 * tabs' `room:reads`) takes off the unread messages it passes. Messages up to the join's head that this
 * view never held are known only as a count, taken off when the position passes the head.
 * Memory: one number per unread message the view held, at most MAX_SEEN (past it the oldest are
 * only counted, until the position passes them).
 */
export class ReadState {
  #readSeq = 0;
  /** The join's head: unread messages up to it that the view does not hold are only counted. */
  #head = 0;
  /** Unread messages in (readSeq, head] not in `#seen`. */
  #hidden = 0;
  /** Seqs of messages after readSeq this view held, ascending. */
  #seen: number[] = [];
  /** Unread messages let go of `#seen` (it was full), and the highest seq among them. */
  #dropped = 0;
  #droppedUpTo = 0;

  get readSeq(): number {
    return this.#readSeq;
  }

  get unread(): number {
    return this.#hidden + this.#dropped + this.#seen.length;
  }

  /** The relay's answer on a join: its position wins unless this one is further (a markRead still queued). */
  joined(read: { seq: number; unread: number }, head: number): void {
    if (read.seq < this.#readSeq) return;
    this.#readSeq = read.seq;
    this.#head = head;
    this.#seen = this.#seen.filter((seq) => seq > read.seq);
    const seenUpToHead = this.#seen.filter((seq) => seq <= head).length;
    // The relay's count includes those let go.
    if (head >= this.#droppedUpTo) this.#dropped = 0;
    this.#hidden = Math.max(0, read.unread - seenUpToHead);
  }

  /** A message of the view (from `sender`; own posts move the position to them). */
  message(seq: number, mine: boolean): void {
    if (mine) {
      this.moveTo(seq);
      return;
    }
    // At or before the position, or counted among those let go already.
    if (seq <= this.#readSeq || (this.#dropped > 0 && seq <= this.#droppedUpTo)) return;
    const at = insertionPoint(this.#seen, seq);
    if (this.#seen[at] === seq) return;
    this.#seen.splice(at, 0, seq);
    // Counted in the join's number already: it is held now.
    if (seq <= this.#head && this.#hidden > 0) this.#hidden--;
    if (this.#seen.length > MAX_SEEN) {
      this.#droppedUpTo = this.#seen.shift()!;
      this.#dropped++;
    }
  }

  /** Moves the position forwards (never back); answers whether it moved. */
  moveTo(seq: number): boolean {
    if (seq <= this.#readSeq) return false;
    this.#readSeq = seq;
    if (seq >= this.#head) this.#hidden = 0;
    if (seq >= this.#droppedUpTo) this.#dropped = 0;
    this.#seen = this.#seen.slice(insertionPoint(this.#seen, seq + 1));
    return true;
  }
}

/** Unread messages a room remembers the seqs of. */
const MAX_SEEN = 10_000;

/** The index of the first element ≥ value in an ascending array. */
function insertionPoint(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
