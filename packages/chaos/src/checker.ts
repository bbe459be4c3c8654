/**
 * The exactly-once checker, a pure function over what happened: which messages each member had
 * queued (publish resolved) and got acked, what each member's app was handed — per session (each
 * start, reload, restart or crash): `history()` at open, then every `message` and `reset` event —
 * and the final room logs. Jepsen-style: collect histories under faults, then judge them against
 * the guarantees (DESIGN.md G1–G3) and the SDK's receive contract:
 *
 * - A member's app view is one run of the room log from seq 1, each seq once, in order, no gap;
 *   each new session's `history()` is the view so far (or more, never less) and events continue it.
 * - `trimmed` {fromSeq, toSeq} continues the view after a hole retention made; `diverged` and
 *   `epoch_changed` restart it at seq 1 (the log lost what the member had).
 * - Every reset must be explained by what the final log shows the log really lost.
 * - Annotations (edits, deletes, reactions) are entries like messages: each queued one is appended
 *   once, unless acked `noop` (changed nothing: never appended) or refused. What they did to their
 *   messages is judged by annotation-checker.ts.
 */

import { isAnnotationType, type LogMessage } from '@partyline/protocol';

export interface Delivery {
  seq: number;
  id: string;
}

export type ResetReason = 'epoch_changed' | 'trimmed' | 'diverged';

/** One thing the app saw, in the order it saw it. */
export type ViewEntry =
  | { kind: 'history'; messages: Delivery[] }
  | { kind: 'message'; seq: number; id: string }
  | { kind: 'reset'; reason: ResetReason; epoch: string; previousEpoch?: string; fromSeq?: number; toSeq?: number };

/** One life of a member's app: from a start (first, after a restart or reload, after a crash) to its end. */
export interface Session {
  start: 'first' | 'restart' | 'crash';
  entries: ViewEntry[];
}

/** An annotation whose edit(), delete(), react() or unreact() resolved (written to the outbox), and the message it targets as the member held it. */
export interface QueuedAnnotation {
  id: string;
  type: 'pl:edit' | 'pl:delete' | 'pl:react' | 'pl:unreact';
  target: { id: string; seq: number; from: string };
  key?: string;
}

export interface MemberHistory {
  member: string;
  room: string;
  /** The token's sub: two members of one user are two devices of it. @default member */
  user?: string;
  /** Ids whose publish() resolved (written to the outbox): G1 says each is appended exactly once. */
  queued: string[];
  /** Annotations queued: G1 like messages, except that a `noop` ack (changed nothing) is never appended. */
  annotations?: QueuedAnnotation[];
  /** Ids reported `failed` or `expired` (allowed to be missing from the log). */
  failed: string[];
  /** Why each failed id was refused (the error kind; `expired` for an expiry). */
  refusals?: Record<string, string>;
  /** Ids acked with `noop: true`. */
  noops?: string[];
  /** Read positions markRead() queued (resolved). */
  marks?: number[];
  /** Ids reported `sent`, with the seq and the time (ms) the member heard it. */
  acks: { id: string; seq: number; at: number }[];
  sessions: Session[];
}

/** A log entry; the chaos run reads it whole, the checker's own tests may give only its place and id. */
export type LogEntry = Delivery & Partial<Pick<LogMessage, 'type' | 'body' | 'sender' | 'ts'>>;

export interface RoomLog {
  room: string;
  epoch: string;
  /** The oldest retained message (headSeq + 1 if none is). */
  firstSeq: number;
  headSeq: number;
  /** Every entry: messages and annotations. */
  messages: LogEntry[];
}

/**
 * A store crash that may really lose acked messages: Redis with `appendfsync everysec` lost what it
 * had not fsynced. Acks heard in [from, to] may name such messages (the caller sets the window: from
 * its last fsync, less how long the store may ack a write it has not written yet, to its restart).
 */
export interface StoreLoss {
  from: number;
  to: number;
}

export interface CheckOptions {
  /** Appends a store crash is known to have lost (the XADDs of a dropped AOF tail): acked or not, they may be missing. */
  lostAppends?: { room: string; seq: number; id: string }[];
  /** Windows in which an acked write may have been lost without a trace (a store acking before writing). */
  storeLosses?: StoreLoss[];
}

export interface CheckResult {
  /** Messages queued (annotations: see AnnotationResult). */
  published: number;
  /** Messages in the final logs (not annotations). */
  appended: number;
  /** `message` events handed to apps. */
  delivered: number;
  /** Messages `history()` answered when a session opened. */
  replayed: number;
  sessions: number;
  /** Queued messages and annotations missing from their log (an annotation acked `noop` is not missing), plus log messages a member's view skipped (gaps, a missing prefix, a missing tail). */
  lost: number;
  /** Queued messages missing from the log whose append a store crash lost (allowed with `appendfsync everysec`). */
  lostByStore: number;
  /** Of those, the ones acked while the crashed store was holding writes back (never in its file, so in no dropped tail). */
  lostUnwritten: number;
  /** Messages and annotations appended more than once (or appended though acked `noop`), plus messages handed to one view more than once (also across restarts). */
  duplicated: number;
  /** Messages handed below the view's position that it had not been handed. */
  reordered: number;
  /** Messages a member's app holds that the log does not (another id at that seq, or past the head), with no reset after them; or a view that changed across a restart with no reset. */
  divergedSilently: number;
  resets: number;
  resetsByReason: Record<ResetReason, number>;
  resetsExplained: number;
  resetsUnexplained: number;
  /** Why each non-zero count is non-zero, a few examples each. */
  examples: string[];
}

interface Hole {
  fromSeq: number;
  toSeq: number;
  /** Seen as a reset (false: a restart's history() skipped it with no reset recorded). */
  announced: boolean;
  /** The same reset told again (a crash came before it was stored). */
  repeats: number;
  judged: boolean;
}

/** A member's view as the app holds it: what it was handed, holes retention made, its position. */
interface View {
  items: Delivery[];
  bySeq: Map<number, string>;
  holes: Hole[];
  pos: number;
  /** Every (seq, id) handed in this view, also ones a restart forgot: handing one again is a duplicate. */
  handed: Map<number, string>;
}

const emptyView = (): View => ({ items: [], bySeq: new Map(), holes: [], pos: 0, handed: new Map() });

export function checkHistories(histories: MemberHistory[], logs: RoomLog[], options: CheckOptions = {}): CheckResult {
  const result: CheckResult = {
    published: 0,
    appended: 0,
    delivered: 0,
    replayed: 0,
    sessions: 0,
    lost: 0,
    lostByStore: 0,
    lostUnwritten: 0,
    duplicated: 0,
    reordered: 0,
    divergedSilently: 0,
    resets: 0,
    resetsByReason: { epoch_changed: 0, trimmed: 0, diverged: 0 },
    resetsExplained: 0,
    resetsUnexplained: 0,
    examples: [],
  };
  const note = exampleNoter(result.examples);
  const logByRoom = new Map(logs.map((log) => [log.room, log]));

  for (const log of logs) {
    result.appended += log.messages.filter((message) => !isAnnotationType(message.type ?? '')).length;
    const seen = new Map<string, number>();
    for (const message of log.messages) {
      const first = seen.get(message.id);
      if (first !== undefined) {
        result.duplicated++;
        note('duplicated', `room ${log.room}: id ${message.id} appended at seq ${first} and ${message.seq}`);
      } else seen.set(message.id, message.seq);
    }
  }

  const droppedAt = new Map((options.lostAppends ?? []).map((append) => [`${append.room}\n${append.id}`, append.seq]));

  // Where each id was seen at (any member), to tell a trimmed message from a lost one.
  const seenAt = new Map<string, number>();
  for (const history of histories) {
    for (const session of history.sessions) {
      for (const entry of session.entries) {
        if (entry.kind === 'message') seenAt.set(`${history.room}\n${entry.id}`, entry.seq);
        else if (entry.kind === 'history') for (const m of entry.messages) seenAt.set(`${history.room}\n${m.id}`, m.seq);
      }
    }
  }

  for (const history of histories) {
    const who = `${history.member} (${history.room})`;
    const log = logByRoom.get(history.room) ?? { room: history.room, epoch: '', firstSeq: 1, headSeq: 0, messages: [] };
    const idAt = new Map(log.messages.map((m) => [m.seq, m.id]));
    const seqOf = new Map(log.messages.map((m) => [m.id, m.seq]));
    /** The final log shows this pair is not (any more) its message: another id there, past the head, or the id elsewhere. */
    const gone = (pair: Delivery): boolean => {
      const at = seqOf.get(pair.id);
      if (at !== undefined && at !== pair.seq) return true;
      if (pair.seq < log.firstSeq) return false; // trimmed since: cannot tell
      return pair.seq > log.headSeq || idAt.get(pair.seq) !== pair.id;
    };

    // ---- G1 on the way in: every queued message appended, unless refused, trimmed, or lost by the store.
    const failed = new Set(history.failed);
    const ackOf = new Map(history.acks.map((ack) => [ack.id, ack]));
    const noops = noopIds(history);
    result.published += history.queued.length;
    for (const id of noops) {
      if (!seqOf.has(id)) continue;
      result.duplicated++;
      note('duplicated', `${who}: annotation ${id} was acked as a noop, yet the log holds it at seq ${seqOf.get(id)}`);
    }
    const annotationType = new Map((history.annotations ?? []).map((annotation) => [annotation.id, annotation.type]));
    for (const id of new Set([...history.queued, ...annotationType.keys()])) {
      if (failed.has(id) || noops.has(id)) continue;
      const what = annotationType.has(id) ? `${annotationType.get(id)} ${id}` : id;
      const ack = ackOf.get(id);
      const at = seqOf.get(id);
      // An ack names the message's place for good: a log holding it elsewhere lost the acked append
      // (e.g. a failover to a replica that never got it) and took the message again when it was resent.
      const moved = at !== undefined && ack !== undefined && ack.seq !== at && ack.seq >= log.firstSeq;
      if (at !== undefined && !moved) continue;
      const seenSeq = ack?.seq ?? seenAt.get(`${history.room}\n${id}`);
      if (seenSeq !== undefined && seenSeq < log.firstSeq) continue; // appended, then trimmed by retention
      const dropped = droppedAt.get(`${history.room}\n${id}`);
      if (dropped !== undefined) {
        result.lostByStore++;
        note('lost by the store', `${who}: ${id}${ack ? ` (acked as seq ${ack.seq})` : ''} was appended as seq ${dropped} in the AOF tail a Redis crash dropped`);
        continue;
      }
      if (ack && (options.storeLosses ?? []).some((loss) => ack.at >= loss.from && ack.at <= loss.to)) {
        result.lostByStore++;
        result.lostUnwritten++;
        note('lost by the store', `${who}: ${id} acked as seq ${ack.seq} at ${ack.at}, while the crashed Redis may have held it unwritten`);
        continue;
      }
      result.lost++;
      if (moved) {
        note('lost', `${who}: ${what} acked as seq ${ack.seq} at ${ack.at}, but the log holds it at seq ${at}: the acked append was lost and the message appended again`);
        continue;
      }
      const seen = seenAt.get(`${history.room}\n${id}`);
      note('lost', `${who}: queued ${what}${ack ? ` (acked as seq ${ack.seq} at ${ack.at})` : ' (never acked)'} is not in the log${seen !== undefined ? `; a member was handed it as seq ${seen}` : '; no member was ever handed it'}`);
    }

    // ---- G2 on the way out: the app's view, session by session.
    let view = emptyView();
    /** Views the previous session discarded with a restarting reset (newest first): a crash before that reset was stored brings one back. */
    let discarded: View[] = [];

    const hand = (seq: number, id: string) => {
      if (seq <= view.pos) {
        if (view.bySeq.get(seq) === id) {
          result.duplicated++;
          note('duplicated', `${who}: seq ${seq} (${id}) handed again at position ${view.pos}`);
        } else {
          result.reordered++;
          note('reordered', `${who}: seq ${seq} (${id}) handed at position ${view.pos}${view.bySeq.has(seq) ? `, where the view holds ${view.bySeq.get(seq)}` : ''}`);
          // Handed late, not never: it covers its position (an id clash there is judged against the log).
          if (!view.bySeq.has(seq)) {
            view.bySeq.set(seq, id);
            view.items.push({ seq, id });
            view.items.sort((a, b) => a.seq - b.seq);
          }
        }
        return;
      }
      if (view.handed.get(seq) === id) {
        result.duplicated++;
        note('duplicated', `${who}: seq ${seq} (${id}) handed again after a restart had forgotten it`);
      }
      // A gap (seq > pos + 1) is counted as lost when the view is judged.
      view.items.push({ seq, id });
      view.bySeq.set(seq, id);
      view.handed.set(seq, id);
      view.pos = seq;
    };

    /** Lost: positions 1..upTo the view neither holds nor explains with a hole. */
    const judgeCoverage = (judged: View, upTo: number, context: string) => {
      const covered = (seq: number) => judged.bySeq.has(seq) || judged.holes.some((hole) => seq >= hole.fromSeq && seq <= hole.toSeq);
      let missing = 0;
      let firstMissing = 0;
      for (let seq = 1; seq <= upTo; seq++) {
        if (covered(seq)) continue;
        missing++;
        firstMissing ||= seq;
      }
      if (missing > 0) {
        result.lost += missing;
        const firstHeld = judged.items[0]?.seq;
        note('lost', `${who}: ${context} view skipped ${missing} seq(s) from ${firstMissing}${firstMissing === 1 && firstHeld ? ` (missing prefix: the view starts at ${firstHeld} without a trimmed reset)` : ''}`);
      }
    };

    const judgeHoles = (judged: View, logLost: boolean) => {
      for (const hole of judged.holes) {
        if (hole.judged) continue;
        hole.judged = true;
        const explained = hole.toSeq < log.firstSeq || logLost;
        const told = (hole.announced ? 1 : 0) + hole.repeats;
        if (told > 0) {
          if (explained) result.resetsExplained += told;
          else {
            result.resetsUnexplained += told;
            note('unexplained reset', `${who}: trimmed ${hole.fromSeq}..${hole.toSeq}, but the log still starts at ${log.firstSeq}`);
          }
        } else if (!explained) {
          const missing = hole.toSeq - hole.fromSeq + 1;
          result.lost += missing;
          note('lost', `${who}: history() after a restart skipped ${hole.fromSeq}..${hole.toSeq} with no reset, and the log still holds them`);
        }
      }
    };

    for (const session of history.sessions) {
      result.sessions++;
      let sessionDiscarded: View[] = [];
      /** Events the app got before history() answered: history() must not hold them too. */
      let early: Delivery[] | undefined = [];
      for (const entry of session.entries) {
        if (entry.kind === 'history') {
          result.replayed += entry.messages.length;
          for (const event of early ?? []) {
            if (entry.messages.some((m) => m.seq === event.seq && m.id === event.id)) {
              result.duplicated++;
              note('duplicated', `${who}: seq ${event.seq} (${event.id}) handed by an event before history() answered, and by history() too`);
            }
          }
          early = undefined;
          view = adoptHistory(entry.messages, view, discarded);
          continue;
        }
        if (entry.kind === 'message') {
          result.delivered++;
          early?.push({ seq: entry.seq, id: entry.id });
          hand(entry.seq, entry.id);
          continue;
        }
        result.resets++;
        result.resetsByReason[entry.reason]++;
        if (entry.reason === 'trimmed') {
          const { fromSeq, toSeq } = entry;
          const told = view.holes.find((hole) => hole.fromSeq === fromSeq && hole.toSeq === toSeq);
          if (told && view.pos === toSeq) {
            // Told again after a restart: it had not been stored. Judged with the hole (or now, as its view's was).
            if (told.judged) result.resetsExplained++;
            else told.repeats++;
            continue;
          }
          if (fromSeq === undefined || toSeq === undefined || fromSeq !== view.pos + 1 || toSeq < fromSeq) {
            result.resetsUnexplained++;
            note('unexplained reset', `${who}: trimmed ${fromSeq}..${toSeq} at position ${view.pos}`);
            continue;
          }
          view.holes.push({ fromSeq, toSeq, announced: true, repeats: 0, judged: false });
          view.pos = toSeq;
          continue;
        }
        // diverged / epoch_changed: the view restarts; explained if the log lost something the view holds.
        const lostPair = view.items.find(gone);
        const epochReallyChanged = entry.reason === 'epoch_changed' && entry.previousEpoch !== undefined && entry.previousEpoch !== entry.epoch && entry.previousEpoch !== log.epoch;
        if (lostPair || epochReallyChanged) result.resetsExplained++;
        else {
          result.resetsUnexplained++;
          note('unexplained reset', `${who}: ${entry.reason} (toSeq ${entry.toSeq ?? '-'}) at position ${view.pos}, but the log still holds all ${view.items.length} messages the view had`);
        }
        judgeCoverage(view, view.pos, 'a discarded');
        judgeHoles(view, true);
        sessionDiscarded = [view, ...sessionDiscarded];
        view = emptyView();
      }
      // Only the session right before may come back (a session that recorded nothing changed nothing).
      if (session.entries.length > 0) discarded = sessionDiscarded;
    }

    /**
     * A new session's history(): the view so far (or more: stored before a crash, not yet handed),
     * or — after a crash between emitting a restarting reset and storing it — a view that reset discarded.
     */
    function adoptHistory(messages: Delivery[], previous: View, candidates: View[]): View {
      const base = [previous, ...candidates].find((candidate) => prefixCompatible(messages, candidate.items)) ?? previous;
      const next: View = { items: [], bySeq: new Map(), holes: [], pos: 0, handed: new Map(base.handed) };
      if (base !== previous && base.items.length === 0) next.handed = new Map();
      const agrees = prefixCompatible(messages, base.items);
      if (!agrees) {
        const at = messages.findIndex((m, i) => base.items[i] && (base.items[i]!.seq !== m.seq || base.items[i]!.id !== m.id));
        result.divergedSilently++;
        note('diverged silently', `${who}: history() after a restart answered seq ${messages[at]?.seq} as ${messages[at]?.id}, the view had ${base.items[at]?.id} there, with no reset`);
        next.handed = new Map();
      }
      view = next;
      for (const message of messages) {
        // Holes of the previous view carry over; a skip with no known hole is recorded as one (judged against the log).
        while (message.seq > view.pos + 1) {
          const hole = base.holes.find((h) => h.fromSeq === view.pos + 1);
          if (hole && hole.toSeq < message.seq) {
            view.holes.push(hole);
            view.pos = hole.toSeq;
          } else {
            view.holes.push({ fromSeq: view.pos + 1, toSeq: message.seq - 1, announced: false, repeats: 0, judged: false });
            view.pos = message.seq - 1;
          }
        }
        view.items.push(message);
        view.bySeq.set(message.seq, message.id);
        view.pos = message.seq;
        view.handed.set(message.seq, message.id);
      }
      // Holes announced after the last message (trimmed at the end of the view) still hold.
      for (const hole of base.holes) {
        if (hole.fromSeq === view.pos + 1) {
          view.holes.push(hole);
          view.pos = hole.toSeq;
        }
      }
      // Forgotten across the restart (a shorter history): view.handed keeps them, so handing them again counts as a duplicate.
      return view;
    }

    // The final view: against the final log.
    for (const pair of view.items) {
      if (gone(pair)) {
        result.divergedSilently++;
        note('diverged silently', `${who}: the app holds seq ${pair.seq} as ${pair.id}; the log ${pair.seq > log.headSeq ? `ends at ${log.headSeq}` : `has ${idAt.get(pair.seq) ?? 'nothing'} there`}${seqOf.has(pair.id) ? ` (and ${pair.id} at ${seqOf.get(pair.id)})` : ''}, and no reset followed`);
      }
    }
    judgeCoverage(view, Math.max(view.pos, log.headSeq), 'the final');
    judgeHoles(view, false);
  }
  return result;
}

/**
 * Annotations of the history acked as changing nothing: flagged `noop`, or acked with their target's
 * seq (an appended annotation always comes after its target).
 */
export function noopIds(history: MemberHistory): Set<string> {
  const noops = new Set(history.noops ?? []);
  const targetSeq = new Map((history.annotations ?? []).map((annotation) => [annotation.id, annotation.target.seq]));
  for (const ack of history.acks) if (targetSeq.get(ack.id) === ack.seq) noops.add(ack.id);
  return noops;
}

/** `a` and `b` agree on every position both hold (one is a prefix of the other). */
function prefixCompatible(a: Delivery[], b: Delivery[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i]!.seq !== b[i]!.seq || a[i]!.id !== b[i]!.id) return false;
  return true;
}

/**
 * Where a member's current view stands: its last seq, or the end of a trimmed hole it was told of;
 * undefined until the current session's history() answered.
 */
export function viewPosition(history: MemberHistory): number | undefined {
  let pos: number | undefined;
  let holes = new Map<number, number>();
  for (const session of history.sessions) {
    pos = undefined;
    for (const entry of session.entries) {
      if (entry.kind === 'history') {
        pos = entry.messages.at(-1)?.seq ?? 0;
        for (let end = holes.get(pos + 1); end !== undefined; end = holes.get(pos + 1)) pos = end;
      } else if (pos === undefined) continue;
      else if (entry.kind === 'message') pos = Math.max(pos, entry.seq);
      else if (entry.reason === 'trimmed') {
        if (entry.fromSeq !== undefined && entry.toSeq !== undefined) holes.set(entry.fromSeq, entry.toSeq);
        pos = Math.max(pos, entry.toSeq ?? pos);
      } else {
        pos = 0;
        holes = new Map();
      }
    }
  }
  return pos;
}

/** Keeps a few examples of each kind of finding (5 per kind, 40 in all), for the report. */
export function exampleNoter(examples: string[]): (kind: string, text: string) => void {
  const counts = new Map<string, number>();
  return (kind, text) => {
    const n = counts.get(kind) ?? 0;
    counts.set(kind, n + 1);
    if (n < 5 && examples.length < 40) examples.push(`${kind}: ${text}`);
  };
}
