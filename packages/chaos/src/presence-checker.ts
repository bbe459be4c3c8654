import type { StoreMembers } from './presence-store-watch.js';

/**
 * The presence checker, a pure function over what happened (as checker.ts is for messages): every
 * `presence` event each member's app got, when its SDK was online, when it was restarted, crashed or
 * cut off (its fault log), and what every live member's `members()` showed once the run quiesced.
 *
 * - ghosts: members a view shows that are not alive and connected;
 * - missing: members alive and connected that a view does not show;
 * - stale data: shown, but with other data than the member's current life entered with;
 * - flaps: a `left` and then a `joined` of one member within the grace, in one view, that the
 *   member's own connection does not explain (the relays promise that reconnecting within the
 *   grace, here or on another relay, is never seen);
 * - legitimate leaves: a member leaves when its client is restarted (the SDK closes and leaves at
 *   once) or when its connection stays down past the grace (cut off, its relay killed, crashed);
 *   any other leave not followed by a join within the grace is an unexplained leave.
 */

/** One `presence` event as the app got it (subs only; `at` in epoch ms of this machine). */
export interface PresenceObservation {
  at: number;
  joined: string[];
  left: string[];
  updated: string[];
}

/** One life of a member's app (a start, restart or crash to its end), for presence. */
export interface PresenceSession {
  startedAt: number;
  /** `closed`: restarted or reloaded (the SDK leaves at once); `killed`: crashed (no goodbye). Absent while it lives. */
  end?: { at: number; how: 'closed' | 'killed' };
  /** Its SDK's connection state changes: online (`up`) or not. */
  links: { at: number; up: boolean }[];
  events: PresenceObservation[];
}

export interface PresenceHistory {
  member: string;
  room: string;
  sessions: PresenceSession[];
  /** The fault log of its network: cuts of its fault proxy (`to`: healed). */
  cuts: { from: number; to?: number }[];
}

/** What one member looks like once the run quiesced. */
export interface PresenceLook {
  member: string;
  room: string;
  /** Its app runs (an SDK client is open). */
  alive: boolean;
  /** Its SDK is online and its fault proxy holds an open connection (not cut). */
  connected: boolean;
  /** The data its current life entered with. */
  data: unknown;
  /** What `room.presence.members()` answers. */
  members: { sub: string; data: unknown }[];
}

export interface PresenceCheckOptions {
  /** The relays' grace after a dropped connection. */
  graceMs: number;
  /**
   * What the relays' store really held over time (presence-store-watch.ts): each flap or unexplained
   * leave is then told apart as made by the relays (the store dropped the member) or by a view alone.
   */
  store?: StoreMembers[];
  /** A leave may be seen this long after the member's connection came back (its enter was still on the way). @default 3000 */
  lateMs?: number;
  /** A leave may be seen this much before the outage's start as recorded (clocks of two processes, the relay noticing first). @default 250 */
  earlyMs?: number;
  /** Times in examples are printed relative to this (the run's start). @default 0 */
  origin?: number;
}

export interface PresenceResult {
  /** Views judged at the end (live members). */
  observers: number;
  /** `presence` events recorded. */
  events: number;
  ghosts: number;
  missing: number;
  staleData: number;
  flaps: number;
  /** Distinct leaves (member and outage) a restart or an outage past the grace explains. */
  legitimateLeaves: number;
  /** `left` entries seen, over all views. */
  leavesSeen: number;
  /** Leaves nothing explains that no join followed within the grace (a flap counts as a flap, not here). */
  unexplainedLeaves: number;
  /** With `store`: of the flaps and unexplained leaves, those the store shows the relays really made (the rest only a view made up). */
  byTheRelays?: { flaps: number; unexplainedLeaves: number };
  examples: string[];
}

/** A stretch of time a member had no connection: from a drop (or its app's end) until its SDK was online again. */
export interface Outage {
  from: number;
  /** Infinity: not back by the end of its record. */
  to: number;
  /** Its app was restarted (closed) within it: leaving is what it asked for. */
  closed: boolean;
  killed: boolean;
}

/** A member's outages, from its SDK's connection record and its lives' ends (a killed process reports nothing). */
export function outagesOf(history: PresenceHistory): Outage[] {
  type Point = { at: number; kind: 'up' | 'down' | 'closed' | 'killed' };
  const points: Point[] = [];
  for (const session of history.sessions) {
    for (const link of session.links) points.push({ at: link.at, kind: link.up ? 'up' : 'down' });
    if (session.end) points.push({ at: session.end.at, kind: session.end.how });
  }
  points.sort((a, b) => a.at - b.at);
  const outages: Outage[] = [];
  let open: Outage | undefined;
  for (const point of points) {
    if (point.kind === 'up') {
      if (open) {
        open.to = point.at;
        outages.push(open);
        open = undefined;
      }
      continue;
    }
    open ??= { from: point.at, to: Number.POSITIVE_INFINITY, closed: false, killed: false };
    if (point.kind === 'closed') open.closed = true;
    if (point.kind === 'killed') open.killed = true;
  }
  if (open) outages.push(open);
  return outages;
}

export function checkPresence(histories: PresenceHistory[], looks: PresenceLook[], options: PresenceCheckOptions): PresenceResult {
  const { graceMs } = options;
  const lateMs = options.lateMs ?? 3000;
  const earlyMs = options.earlyMs ?? 250;
  const origin = options.origin ?? 0;
  const result: PresenceResult = { observers: 0, events: 0, ghosts: 0, missing: 0, staleData: 0, flaps: 0, legitimateLeaves: 0, leavesSeen: 0, unexplainedLeaves: 0, examples: [] };
  const counts = new Map<string, number>();
  const note = (kind: string, text: string) => {
    const n = counts.get(kind) ?? 0;
    counts.set(kind, n + 1);
    if (n < 5 && result.examples.length < 40) result.examples.push(`${kind}: ${text}`);
  };
  const s = (at: number) => `t+${((at - origin) / 1000).toFixed(1)} s`;
  const key = (room: string, member: string) => `${room}\n${member}`;

  const outages = new Map(histories.map((history) => [key(history.room, history.member), outagesOf(history)]));
  const cutsOf = new Map(histories.map((history) => [key(history.room, history.member), history.cuts]));
  /** What explains member `sub` leaving at `at`, if anything. */
  const explain = (room: string, sub: string, at: number): Outage | undefined =>
    outages.get(key(room, sub))?.find((outage) => at >= outage.from + (outage.closed ? 0 : graceMs) - earlyMs && at <= outage.to + lateMs);
  /** Its connection around `at`, for an example. */
  const describe = (room: string, sub: string, at: number): string => {
    const near = (outages.get(key(room, sub)) ?? []).filter((outage) => outage.to >= at - 15_000 && outage.from <= at + 1000);
    const cuts = (cutsOf.get(key(room, sub)) ?? []).filter((cut) => (cut.to ?? Number.POSITIVE_INFINITY) >= at - 15_000 && cut.from <= at + 1000);
    const outageText = near.length
      ? near.map((o) => `down ${s(o.from)} for ${o.to === Number.POSITIVE_INFINITY ? 'good' : `${((o.to - o.from) / 1000).toFixed(1)} s`}${o.closed ? ' (restarted)' : o.killed ? ' (crashed)' : ''}`).join(', ')
      : 'its connection was not down within 15 s before';
    const cutText = cuts.length ? `; cut ${cuts.map((cut) => `${s(cut.from)}–${cut.to === undefined ? 'end' : s(cut.to)}`).join(', ')}` : '';
    return outageText + cutText;
  };

  // The store's states per room, in time order, to ask whether it lacked a member around some time.
  const storeStates = new Map<string, StoreMembers[]>();
  for (const state of options.store ?? []) storeStates.set(state.room, [...(storeStates.get(state.room) ?? []), state]);
  if (options.store) result.byTheRelays = { flaps: 0, unexplainedLeaves: 0 };
  /** When the store lacked `sub` between `from` and `to` (a state in force at any time in between), if it did. */
  const storeDropped = (room: string, sub: string, from: number, to: number): number | undefined => {
    const states = storeStates.get(room) ?? [];
    for (let i = 0; i < states.length; i++) {
      const state = states[i]!;
      const until = states[i + 1]?.at ?? Number.POSITIVE_INFINITY;
      if (until < from || state.at > to) continue;
      if (!state.members.includes(sub)) return state.at;
    }
    return undefined;
  };
  /** Who made a leave seen at `at`: the relays (the store dropped the member shortly before) or the view alone. */
  const madeBy = (room: string, sub: string, at: number, kind: 'flaps' | 'unexplainedLeaves'): string => {
    if (!options.store) return '';
    const dropped = storeDropped(room, sub, at - 5000, at + 500);
    if (dropped === undefined) return ' [the relays’ store kept it all along: only this view]';
    result.byTheRelays![kind]++;
    return ` [the relays’ store dropped it at ${s(dropped)}]`;
  };

  const explained = new Set<Outage>();
  for (const history of histories) {
    for (const session of history.sessions) {
      result.events += session.events.length;
      session.events.forEach((event, index) => {
        for (const sub of event.left) {
          result.leavesSeen++;
          const outage = explain(history.room, sub, event.at);
          if (outage) {
            explained.add(outage);
            continue;
          }
          const rejoin = session.events.slice(index + 1).find((later) => later.at - event.at <= graceMs && later.joined.includes(sub));
          if (rejoin) {
            result.flaps++;
            const by = madeBy(history.room, sub, event.at, 'flaps');
            note('flap', `${history.member} (${history.room}) saw ${sub} leave at ${s(event.at)} and join ${((rejoin.at - event.at) / 1000).toFixed(1)} s later; ${sub}: ${describe(history.room, sub, event.at)}${by}`);
          } else {
            result.unexplainedLeaves++;
            const by = madeBy(history.room, sub, event.at, 'unexplainedLeaves');
            note('unexplained leave', `${history.member} (${history.room}) saw ${sub} leave at ${s(event.at)}; ${sub}: ${describe(history.room, sub, event.at)}${by}`);
          }
        }
      });
    }
  }
  result.legitimateLeaves = explained.size;

  // The end: every live member's view against who is really there.
  const truthByRoom = new Map<string, Map<string, string>>();
  for (const look of looks) {
    if (!look.alive || !look.connected) continue;
    let truth = truthByRoom.get(look.room);
    if (!truth) truthByRoom.set(look.room, (truth = new Map()));
    truth.set(look.member, JSON.stringify(look.data));
  }
  const lookOf = new Map(looks.map((look) => [key(look.room, look.member), look]));
  for (const look of looks) {
    if (!look.alive) continue;
    result.observers++;
    const truth = truthByRoom.get(look.room) ?? new Map<string, string>();
    const shown = new Map(look.members.map((member) => [member.sub, JSON.stringify(member.data)]));
    for (const [sub, data] of shown) {
      const expected = truth.get(sub);
      if (expected === undefined) {
        result.ghosts++;
        const other = lookOf.get(key(look.room, sub));
        note('ghost', `${look.member} (${look.room}) shows ${sub}, which is ${other ? (other.alive ? 'alive but not connected' : 'not running') : 'no member of the room'}`);
      } else if (expected !== data) {
        result.staleData++;
        note('stale data', `${look.member} (${look.room}) shows ${sub} with ${data}; it entered with ${expected}`);
      }
    }
    for (const sub of truth.keys()) {
      if (shown.has(sub)) continue;
      result.missing++;
      note('missing', `${look.member} (${look.room}) does not show ${sub}, which is alive and connected`);
    }
  }
  return result;
}

/** Ghosts, missing members and stale data in the views only: what the end of a run waits to be zero. */
export function presenceSettled(looks: PresenceLook[]): boolean {
  if (looks.some((look) => !look.alive || !look.connected)) return false;
  const result = checkPresence([], looks, { graceMs: 0 });
  return result.ghosts + result.missing + result.staleData === 0;
}
