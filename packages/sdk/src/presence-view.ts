import type { PresenceChange, PresenceMember, PresenceSnapshot } from '@partyline/protocol';

/** What changed for the app between two looks at a room's members. */
export interface PresenceDiff {
  joined: PresenceMember[];
  left: PresenceMember[];
  updated: PresenceMember[];
}

/** Changes held beyond a gap before the view asks for a snapshot instead. */
const MAX_HELD = 1_000;

export const isEmptyDiff = (diff: PresenceDiff): boolean => diff.joined.length + diff.left.length + diff.updated.length === 0;

/**
 * One room's members as this client knows them: a snapshot, then exactly the changes after it, in
 * version order. Changes that arrive early wait for the ones before them; a change of another epoch
 * (the relays' presence state was lost) or a gap that does not fill asks for a snapshot, whose diff
 * against what the app saw is what the app is told — so a reconnect shows only real changes.
 * Pure: no I/O, no timers.
 */
export class PresenceView {
  epoch = '';
  version = 0;
  readonly members = new Map<string, PresenceMember>();
  readonly #held = new Map<number, PresenceChange>();

  /** Takes a snapshot as the truth; answers what differs from before (nothing, for an unchanged room). */
  reset(snapshot: PresenceSnapshot): PresenceDiff {
    const diff: PresenceDiff = { joined: [], left: [], updated: [] };
    const next = new Map(snapshot.members.map((member) => [member.sub, member]));
    for (const [sub, member] of this.members) if (!next.has(sub)) diff.left.push(member);
    for (const [sub, member] of next) {
      const before = this.members.get(sub);
      if (!before) diff.joined.push(member);
      else if (before.data !== member.data) diff.updated.push(member);
    }
    this.members.clear();
    for (const [sub, member] of next) this.members.set(sub, member);
    this.epoch = snapshot.epoch;
    this.version = snapshot.version;
    // Held changes of this epoch beyond the snapshot may still continue it.
    for (const version of [...this.#held.keys()]) if (version <= this.version) this.#held.delete(version);
    this.#drain(diff);
    return diff;
  }

  /**
   * Applies live changes. `stale` means the view cannot continue on its own (another epoch, or
   * changes waiting beyond a gap): fetch a snapshot and `reset`.
   */
  apply(epoch: string, changes: PresenceChange[]): { diff: PresenceDiff; stale: boolean } {
    const diff: PresenceDiff = { joined: [], left: [], updated: [] };
    // A room whose presence began after our snapshot (epoch '' at version 0) is continued by its first change.
    if (epoch !== this.epoch && !(this.version === 0 && changes.some((change) => change.version === 1))) return { diff, stale: true };
    this.epoch = epoch;
    let overflow = false;
    for (const change of changes) {
      if (change.version <= this.version) continue;
      if (this.#held.size < MAX_HELD) this.#held.set(change.version, change);
      else overflow = true;
    }
    this.#drain(diff);
    return { diff, stale: overflow || this.#held.size > 0 };
  }

  /** Forgets everything (the app left the room): the next snapshot is all joins. */
  clear(): void {
    this.members.clear();
    this.#held.clear();
    this.epoch = '';
    this.version = 0;
  }

  #drain(diff: PresenceDiff): void {
    for (let next = this.#held.get(this.version + 1); next; next = this.#held.get(this.version + 1)) {
      this.#held.delete(next.version);
      this.version = next.version;
      const { member } = next;
      if (next.kind === 'left') {
        if (this.members.delete(member.sub)) diff.left.push(member);
      } else {
        const known = this.members.has(member.sub);
        this.members.set(member.sub, member);
        (known ? diff.updated : diff.joined).push(member);
      }
    }
  }
}
