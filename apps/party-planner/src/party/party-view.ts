import type { ResetContext } from '@partyline/sdk';
import { emptyPartyState, reduceParty, type PartyEvent, type PartyState } from '../state/party-state.js';

/**
 * This tab's view of a party room, folded exactly as the SDK hands it: what `room.history()`
 * answered at open, then every `message` event, broken only by a `reset`. The fold is resumable:
 * each message is folded once, into the state the earlier ones left (never the whole log again),
 * at a cost that does not grow with the log (see `PartyState`). The SDK promises one
 * gap-free, duplicate-free run in seq order, so folding is a plain append — no sort, no de-duplication
 * that would hide an SDK bug. A message that does not continue the run is kept in the raw record
 * (tests read it) and handled so the screen stays sane: a repeat is not folded twice, a message after
 * a gap is folded in order.
 */

/** A `reset` as the view saw it. */
export interface ViewReset {
  reason: ResetContext['reason'];
  epoch: string;
  previousEpoch?: string;
  fromSeq?: number;
  toSeq?: number;
  /** How many `message` events this view had seen when the reset came. */
  afterEvents: number;
}

/** A message that did not continue the view exactly. Never expected; recorded so tests can see it. */
export interface ViewAnomaly {
  kind: 'duplicate' | 'gap';
  /** Where it came from: the `history()` answer or a `message` event. */
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
  /** Whether `history()` has answered yet. */
  opened: boolean;
  /** Seqs `history()` answered at open, in the order answered. */
  history: number[];
  /** Seqs of the `message` events, in arrival order. */
  events: number[];
  /** `message` events that came before `history()` answered (folded after it). */
  early: number;
  resets: ViewReset[];
  anomalies: ViewAnomaly[];
}

/** What the view folded so far (a new object on every change, so React sees it). */
export interface FoldedLog {
  /** The party as the log says, without own queued messages. */
  readonly state: PartyState;
  /** Message id → sender, for every message in the view (a queued copy of one is not applied again). */
  readonly senders: ReadonlyMap<string, string>;
  /** The last seq the view holds (0 = none). */
  readonly lastSeq: number;
}

export const EMPTY_FOLD: FoldedLog = { state: emptyPartyState(), senders: new Map(), lastSeq: 0 };

type Early = { kind: 'message'; event: PartyEvent } | { kind: 'reset'; context: ResetContext };

export class PartyView {
  readonly raw: RawView;
  #state: PartyState = emptyPartyState();
  #senders = new Map<string, string>();
  #lastSeq = 0;
  /** Events and resets that came before `history()` answered, in order. */
  #early: Early[] | undefined = [];
  #snapshot: FoldedLog = EMPTY_FOLD;

  constructor(room: string) {
    this.raw = { room, opened: false, history: [], events: [], early: 0, resets: [], anomalies: [] };
  }

  /** The current fold; the same object until the view changes. */
  get folded(): FoldedLog {
    return this.#snapshot;
  }

  /** Whether the view holds the message with this id. */
  has(id: string): boolean {
    return this.#senders.has(id);
  }

  /** `history()` answered: fold it, then whatever came while waiting for it. */
  open(history: readonly PartyEvent[]): void {
    if (this.raw.opened) return;
    this.raw.opened = true;
    for (const event of history) {
      if (event.seq !== undefined) this.raw.history.push(event.seq);
      this.#fold(event, 'history');
    }
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const item of early) {
      if (item.kind === 'message') this.#fold(item.event, 'event');
      else this.#restart(item.context);
    }
    this.#changed();
  }

  /** A `message` event. */
  message(event: PartyEvent): void {
    if (event.seq !== undefined) this.raw.events.push(event.seq);
    if (this.#early) {
      this.raw.early += 1;
      this.#early.push({ kind: 'message', event });
      return;
    }
    if (this.#fold(event, 'event')) this.#changed();
  }

  /** A `reset` event: `epoch_changed` and `diverged` start the view over, `trimmed` continues after the hole. */
  reset(context: ResetContext): void {
    this.raw.resets.push({
      reason: context.reason,
      epoch: context.epoch,
      ...(context.previousEpoch !== undefined ? { previousEpoch: context.previousEpoch } : {}),
      ...(context.fromSeq !== undefined ? { fromSeq: context.fromSeq } : {}),
      ...(context.toSeq !== undefined ? { toSeq: context.toSeq } : {}),
      afterEvents: this.raw.events.length,
    });
    if (this.#early) {
      this.#early.push({ kind: 'reset', context });
      return;
    }
    this.#restart(context);
    this.#changed();
  }

  #restart(context: ResetContext): void {
    if (context.reason === 'trimmed') {
      // The log no longer holds fromSeq..toSeq: what follows continues after the hole.
      if (context.toSeq !== undefined && context.toSeq > this.#lastSeq) this.#lastSeq = context.toSeq;
      return;
    }
    // Another history than the one folded: everything the view built goes; the log comes again from its start.
    this.#state = emptyPartyState();
    this.#senders = new Map();
    this.#lastSeq = 0;
  }

  /** Folds one message if it belongs in the view; answers whether the fold changed. */
  #fold(event: PartyEvent, source: ViewAnomaly['source']): boolean {
    const seq = event.seq;
    if (seq === undefined) return false;
    const expected = this.#lastSeq + 1;
    if (seq < expected) {
      // Already folded: applying it again would double a chat line or a vote change.
      this.raw.anomalies.push({ kind: 'duplicate', source, seq, expected });
      return false;
    }
    // After a gap: the missing messages cannot be waited for here (the SDK owns that), so fold in order.
    if (seq > expected) this.raw.anomalies.push({ kind: 'gap', source, seq, expected });
    this.#state = reduceParty(this.#state, event);
    this.#senders.set(event.id, event.sender);
    this.#lastSeq = seq;
    return true;
  }

  #changed(): void {
    this.#snapshot = { state: this.#state, senders: this.#senders, lastSeq: this.#lastSeq };
  }
}

/** Where tests find every view of this page: `window.__partyline.views[room]`. */
export interface PartylineDebug {
  views: Record<string, RawView>;
}

declare global {
  interface Window {
    __partyline?: PartylineDebug;
  }
}

/** Publishes a view's raw record on `window.__partyline` (a newer view of the same room replaces it). */
export function exposeView(view: PartyView): void {
  if (typeof window === 'undefined') return;
  // A null-prototype record: room names are keys, never inherited properties.
  const debug = (window.__partyline ??= { views: Object.create(null) as Record<string, RawView> });
  debug.views[view.raw.room] = view.raw;
}
