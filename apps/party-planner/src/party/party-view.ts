import type { MessagesView, ViewMessage } from '@partyline/react';
import type { ResetContext, Room, RoomMessage } from '@partyline/sdk';
import { emptyPartyState, reduceParty, type PartyState } from '../state/party-state.js';

/**
 * This tab's view of a party room, folded exactly as the SDK hands it through `useMessages`: a
 * `messages` array (and an `annotations` array: edits, deletions, reactions) that only grow at their
 * end (the first ready ones are what `history()` answered), started over by an `epoch_changed`/`diverged`
 * reset. A message the SDK's fold changed (edited, deleted, reacted to) is a new object in its place:
 * the same message (id and seq), not folded again — the party's own state (checklist, votes) does not
 * take edits; the chat reads the SDK's folded messages directly (see `state/chat-lines.ts`). Annotations
 * are only recorded here (their seqs belong to the gap-free run). The fold is resumable: each snapshot folds
 * only what was added since the last one (how far it got is kept with the array's last message), into the
 * state the earlier ones left — never the whole log again, at a cost that does not grow with the log
 * (see `PartyState`). The SDK promises one gap-free, duplicate-free run in seq order, so folding is a
 * plain append — no sort, no de-duplication that would hide an SDK bug. A message that does not continue
 * the run is kept in the raw record (tests read it) and handled so the screen stays sane: a repeat is
 * not folded twice, a message after a gap is folded in order.
 */

/** A `reset` as the view saw it. */
export interface ViewReset {
  reason: ResetContext['reason'];
  epoch: string;
  previousEpoch?: string;
  fromSeq?: number;
  toSeq?: number;
  /** How many messages this view had folded after its history when the reset came. */
  afterEvents: number;
}

/** A message that did not continue the view exactly. Never expected; recorded so tests can see it. */
export interface ViewAnomaly {
  kind: 'duplicate' | 'gap';
  /** Where it came from: the history the view opened with, or a message added after it. */
  source: 'history' | 'event';
  seq: number;
  /** The seq that would have continued the view. */
  expected: number;
}

/**
 * The raw record of one view, plain data only (about one number per message): what the SDK handed,
 * before the app interprets it. Tests compare it with the room log.
 */
export interface RawView {
  room: string;
  /** Whether the view is ready (`history()` has answered). */
  opened: boolean;
  /** Seqs of the view the room opened with (what `history()` answered: messages and annotations), in order. */
  history: number[];
  /** Seqs of the entries added after it, in arrival order (after a reset: the log again). */
  events: number[];
  resets: ViewReset[];
  anomalies: ViewAnomaly[];
}

/** What the view folded so far (a new object on every change, so React sees it). */
export interface FoldedLog {
  /** The party as the log says, without own queued messages. */
  readonly state: PartyState;
  /** Entry id → sender, for every message and annotation in the view (a queued copy of one is not applied again). */
  readonly senders: ReadonlyMap<string, string>;
  /** The last seq the view holds (0 = none). */
  readonly lastSeq: number;
}

export const EMPTY_FOLD: FoldedLog = { state: emptyPartyState(), senders: new Map(), lastSeq: 0 };

/** What `PartyView.follow` reads of a `useMessages` snapshot. */
export type MessagesSnapshot = Pick<MessagesView, 'messages' | 'annotations' | 'ready' | 'reset'>;

export class PartyView {
  readonly raw: RawView;
  #state: PartyState = emptyPartyState();
  #senders = new Map<string, string>();
  #lastSeq = 0;
  /** How many messages of the current run are folded, and the last of them (the array that holds it, or a new state of it, there continues the run). */
  #count = 0;
  #last: ViewMessage | undefined;
  #lastSeqOfRun = 0;
  /** The same for annotations (entries never replaced). */
  #annotationCount = 0;
  #lastAnnotation: RoomMessage | undefined;
  /** The last reset seen (snapshots hand the latest one until another comes). */
  #reset: ResetContext | undefined;
  /** After a `trimmed` reset: the last seq of the hole, passed by the next message after it. */
  #hole: number | undefined;
  #snapshot: FoldedLog = EMPTY_FOLD;

  constructor(room: string) {
    this.raw = { room, opened: false, history: [], events: [], resets: [], anomalies: [] };
  }

  /** The current fold; the same object until the view changes. */
  get folded(): FoldedLog {
    return this.#snapshot;
  }

  /**
   * Brings the fold up to a `useMessages` snapshot: a new reset first (recorded; `epoch_changed` and
   * `diverged` start the fold over), then the messages added since the last snapshot. Snapshots must
   * come in order; the same one again changes nothing. Answers the fold.
   */
  follow({ messages, annotations, ready, reset }: MessagesSnapshot): FoldedLog {
    if (!ready) return this.#snapshot;
    const opening = !this.raw.opened;
    this.raw.opened = true;
    let changed = opening;
    let from = this.#count;
    let fromAnnotation = this.#annotationCount;
    if (reset !== this.#reset) {
      this.#reset = reset;
      if (reset && this.#restart(reset)) {
        changed = true;
        from = fromAnnotation = 0;
      }
    }
    // Not a continuation of the run folded so far (never expected without a reset): fold it all again,
    // so the repeats are recorded as duplicates rather than skipped unseen. (A message the SDK's fold
    // changed is another object for the same id and seq: that continues the run.)
    const tail = messages[from - 1];
    if (from > 0 && tail !== this.#last && (tail?.id !== this.#last?.id || tail?.seq !== this.#lastSeqOfRun)) from = 0;
    if (fromAnnotation > 0 && annotations[fromAnnotation - 1] !== this.#lastAnnotation) fromAnnotation = 0;
    const seqs = opening ? this.raw.history : this.raw.events;
    // The new messages and annotations, merged in seq order (each array is in seq order).
    let next = from;
    let nextAnnotation = fromAnnotation;
    if (from === 0) this.#lastSeqOfRun = 0;
    while (next < messages.length || nextAnnotation < annotations.length) {
      const isMessage = nextAnnotation >= annotations.length || (next < messages.length && messages[next]!.seq < annotations[nextAnnotation]!.seq);
      const entry = isMessage ? messages[next++]! : annotations[nextAnnotation++]!;
      const { seq } = entry;
      seqs.push(seq);
      if (isMessage) this.#lastSeqOfRun = seq;
      if (this.#fold(entry, opening ? 'history' : 'event', isMessage)) changed = true;
    }
    this.#last = messages.at(-1); // (or a new state of the same last message)
    this.#count = messages.length;
    this.#annotationCount = annotations.length;
    this.#lastAnnotation = annotations.at(-1);
    if (changed) this.#snapshot = { state: this.#state, senders: this.#senders, lastSeq: this.#lastSeq };
    return this.#snapshot;
  }

  /** Records a reset; answers whether the view starts over (`epoch_changed`, `diverged`) rather than continuing after a hole (`trimmed`). */
  #restart(context: ResetContext): boolean {
    this.raw.resets.push({
      reason: context.reason,
      epoch: context.epoch,
      ...(context.previousEpoch !== undefined ? { previousEpoch: context.previousEpoch } : {}),
      ...(context.fromSeq !== undefined ? { fromSeq: context.fromSeq } : {}),
      ...(context.toSeq !== undefined ? { toSeq: context.toSeq } : {}),
      afterEvents: this.raw.events.length,
    });
    if (context.reason === 'trimmed') {
      // The log no longer holds fromSeq..toSeq: what follows it continues after the hole.
      this.#hole = context.toSeq;
      return false;
    }
    // Another history than the one folded: everything the view built goes; the log comes again from its start.
    this.#state = emptyPartyState();
    this.#senders = new Map();
    this.#lastSeq = 0;
    this.#hole = undefined;
    return true;
  }

  /** Folds one entry (a message into the party's state; an annotation only takes its place) if it belongs in the view; answers whether it did. */
  #fold(entry: ViewMessage | RoomMessage, source: ViewAnomaly['source'], isMessage: boolean): boolean {
    const { seq } = entry;
    if (this.#hole !== undefined && seq > this.#hole) {
      this.#lastSeq = Math.max(this.#lastSeq, this.#hole);
      this.#hole = undefined;
    }
    const expected = this.#lastSeq + 1;
    if (seq < expected) {
      // Already folded: applying it again would double a chat line or a vote change.
      this.raw.anomalies.push({ kind: 'duplicate', source, seq, expected });
      return false;
    }
    // After a gap: the missing messages cannot be waited for here (the SDK owns that), so fold in order.
    if (seq > expected) this.raw.anomalies.push({ kind: 'gap', source, seq, expected });
    if (isMessage) this.#state = reduceParty(this.#state, entry);
    this.#senders.set(entry.id, entry.sender);
    this.#lastSeq = seq;
    return true;
  }
}

/** Where tests find every view of this page: `window.__partyline.views[room]`, and its SDK room: `rooms[room]`. */
export interface PartylineDebug {
  views: Record<string, RawView>;
  /** The SDK room behind each view: tests compare its fold (`message(id)`, `messages()`) with the log. */
  rooms: Record<string, Room>;
}

declare global {
  interface Window {
    __partyline?: PartylineDebug;
  }
}

/** Publishes a view's raw record and its room on `window.__partyline` (a newer view of the same room replaces it). */
export function exposeView(view: PartyView, room: Room): void {
  if (typeof window === 'undefined') return;
  // Null-prototype records: room names are keys, never inherited properties.
  const debug = (window.__partyline ??= { views: Object.create(null) as Record<string, RawView>, rooms: Object.create(null) as Record<string, Room> });
  debug.views[view.raw.room] = view.raw;
  debug.rooms[view.raw.room] = room;
}
