import { AnnotationType, isAnnotationType, isReservedType, type LogMessage, type MessageSummary } from '@partyline/protocol';
import { parseJson } from './json-text.js';

/** A message of a room as its annotations left it: edited, deleted, reacted to. */
export interface FoldedMessage {
  id: string;
  seq: number;
  sender: string;
  type: string;
  /** The latest body (JSON-parsed); `null` once deleted. */
  body: unknown;
  /** Relay time of the message's own append, epoch ms. */
  ts: number;
  edited: boolean;
  /** Relay time of the latest edit, epoch ms. */
  editedAt?: number;
  deleted: boolean;
  /** Per reaction key: how many members hold it, and whether the caller is one of them. */
  reactions: Record<string, { count: number; mine: boolean }>;
}

/** A log entry with its page's summary, as the SDK keeps it (the cache stores both, so a reload folds the same). */
export type SummarizedMessage = LogMessage & { summary?: MessageSummary; summaryAt?: number };

/** Summaries of a page (key: the message's seq) and the seq they are as of (the page's `headSeq`). */
export interface PageSummaries {
  summaries?: Record<string, MessageSummary> | undefined;
  at: number;
}

interface Held {
  message: FoldedMessage;
  /** Annotations at or before this seq are already in `message` (its summary's `at`, or its own seq). */
  at: number;
  /**
   * Per reaction key, who is known to hold it: the summary's answer for this member (`summaryMine`) and,
   * per sender, what their latest annotation after `at` left (a react logged means they did not hold it
   * before; an unreact, that they did). `mine` is derived from these for whoever the caller is — it may
   * be learnt only after cached messages were folded (a join ack names it).
   */
  holders: Map<string, { summaryMine: boolean; by: Map<string, boolean> }>;
}

/**
 * The fold of a room's log into messages (deterministic, no I/O; the SDK's view and the chaos checker
 * share it). Rule: a held message's state is its summary as of `at` (a page's `headSeq`; for a message
 * without a page summary, `at` is its own seq and the summary empty), then every annotation with seq >
 * `at` applied in seq order. An annotation of a message not held is ignored. Holds at most `maxMessages`
 * messages: past it the lowest seqs are let go (their later annotations are then ignored).
 */
export class MessageFold {
  /** seq → held message. */
  readonly #held = new Map<number, Held>();
  /** `sender|id` → seq: how an annotation without `seq` finds its target. */
  readonly #bySenderId = new Map<string, number>();
  /** Whose reactions are `mine` (the token's sub, from the join ack). */
  #caller: string | undefined;
  readonly #maxMessages: number;

  constructor(options: { caller?: string | undefined; maxMessages?: number } = {}) {
    this.#caller = options.caller;
    this.#maxMessages = options.maxMessages ?? Infinity;
  }

  get caller(): string | undefined {
    return this.#caller;
  }

  /** Sets whose reactions are `mine`; answers the held messages whose `mine` changed with it (new values). */
  setCaller(caller: string): FoldedMessage[] {
    if (caller === this.#caller) return [];
    this.#caller = caller;
    const changed: FoldedMessage[] = [];
    for (const held of this.#held.values()) {
      const reactions = withMine(held, caller);
      if (Object.keys(reactions).some((key) => reactions[key]!.mine !== held.message.reactions[key]!.mine)) {
        held.message = { ...held.message, reactions };
        changed.push(held.message);
      }
    }
    return changed;
  }

  /** The folded message with this id from `sender`, or from anyone (the newest of that id: ids are each sender's own). */
  byId(id: string, sender?: string): FoldedMessage | undefined {
    if (sender !== undefined) {
      const seq = this.#bySenderId.get(`${sender}|${id}`);
      return seq === undefined ? undefined : this.bySeq(seq);
    }
    let found: FoldedMessage | undefined;
    for (const { message } of this.#held.values()) if (message.id === id && (!found || message.seq > found.seq)) found = message;
    return found;
  }

  bySeq(seq: number): FoldedMessage | undefined {
    return this.#held.get(seq)?.message;
  }

  /** Every held message, in seq order. */
  messages(): FoldedMessage[] {
    return [...this.#held.values()].map(({ message }) => message).sort((a, b) => a.seq - b.seq);
  }

  /** Lets every message go (a reset of the view). */
  clear(): void {
    this.#held.clear();
    this.#bySenderId.clear();
  }

  /**
   * Folds one log entry in: a message is held (with its page summary when `page` has one), an
   * annotation applied to its target. Returns the message whose state it changed or added, if any.
   */
  apply(entry: LogMessage, page?: PageSummaries): FoldedMessage | undefined {
    if (isAnnotationType(entry.type)) return this.#annotate(entry);
    if (isReservedType(entry.type)) return undefined;
    return this.#hold(entry, page);
  }

  #hold(entry: LogMessage, page: PageSummaries | undefined): FoldedMessage | undefined {
    const summary = page?.summaries?.[String(entry.seq)];
    const at = summary && page ? Math.max(page.at, entry.seq) : entry.seq;
    const held = this.#held.get(entry.seq);
    // Held already (a page overlapping the view): only a later summary knows more.
    if (held && held.message.id === entry.id && held.at >= at) return undefined;
    const message = fromSummary(entry, summary);
    const holders: Held['holders'] = new Map();
    for (const [key, { mine }] of Object.entries(summary?.reactions ?? {})) holders.set(key, { summaryMine: mine === true, by: new Map() });
    this.#held.set(entry.seq, { message, at, holders });
    this.#bySenderId.set(`${entry.sender}|${entry.id}`, entry.seq);
    this.#bound();
    return message;
  }

  #annotate(entry: LogMessage): FoldedMessage | undefined {
    const annotation = parseJson(entry.body) as AnnotationBody | null;
    if (!annotation || typeof annotation !== 'object') return undefined;
    const sender = annotation.from ?? entry.sender;
    const seq = annotation.seq ?? this.#bySenderId.get(`${sender}|${annotation.id}`);
    const held = seq === undefined ? undefined : this.#held.get(seq);
    if (!held || held.message.id !== annotation.id || held.message.sender !== sender) return undefined;
    // Already in its summary, or a message deleted (the relay refuses changes to it).
    if (entry.seq <= held.at || held.message.deleted) return undefined;
    held.message = change(held, entry.type, annotation, entry, this.#caller);
    held.at = entry.seq;
    return held.message;
  }

  #bound(): void {
    while (this.#held.size > this.#maxMessages) {
      let lowest = Infinity;
      for (const seq of this.#held.keys()) lowest = Math.min(lowest, seq);
      const { message } = this.#held.get(lowest)!;
      this.#held.delete(lowest);
      const key = `${message.sender}|${message.id}`;
      if (this.#bySenderId.get(key) === lowest) this.#bySenderId.delete(key);
    }
  }
}

/** The page form of an entry's own summary, if it has one. */
export function summaryPage(entry: SummarizedMessage): PageSummaries | undefined {
  return entry.summary && entry.summaryAt !== undefined ? { at: entry.summaryAt, summaries: { [entry.seq]: entry.summary } } : undefined;
}

/** Folds entries (in seq order) and page summaries into the messages they leave, in seq order. */
export function foldMessages(entries: Iterable<LogMessage>, options: { page?: PageSummaries; caller?: string } = {}): FoldedMessage[] {
  const fold = new MessageFold({ caller: options.caller });
  for (const entry of entries) fold.apply(entry, options.page);
  return fold.messages();
}

function fromSummary(entry: LogMessage, summary: MessageSummary | undefined): FoldedMessage {
  const reactions: FoldedMessage['reactions'] = {};
  for (const [key, { count, mine }] of Object.entries(summary?.reactions ?? {})) setReaction(reactions, key, { count, mine: mine === true });
  const deleted = summary?.deleted === true;
  const body = deleted ? null : parseJson(summary?.body ?? entry.body);
  return {
    id: entry.id,
    seq: entry.seq,
    sender: entry.sender,
    type: entry.type,
    body,
    ts: entry.ts,
    edited: summary?.editedAt !== undefined || summary?.body !== undefined,
    ...(summary?.editedAt !== undefined ? { editedAt: summary.editedAt } : {}),
    deleted,
    reactions: deleted ? {} : reactions,
  };
}

/**
 * An annotation's body as the relay accepted it (it checked the shape: the fold only reads it, and
 * ignores what names no held message). The client bundle carries no parser for it.
 */
interface AnnotationBody {
  id: string;
  from?: string;
  seq?: number;
  body?: string;
  key?: string;
}

/** A new value of the held message with one annotation applied (values handed out are never mutated). */
function change(held: Held, type: string, annotation: AnnotationBody, entry: LogMessage, caller: string | undefined): FoldedMessage {
  const { message } = held;
  if (type === AnnotationType.Edit) return typeof annotation.body === 'string' ? { ...message, body: parseJson(annotation.body), edited: true, editedAt: entry.ts } : message;
  if (type === AnnotationType.Delete) {
    held.holders.clear();
    return { ...message, body: null, deleted: true, reactions: {} };
  }
  const { key } = annotation;
  if (typeof key !== 'string') return message;
  const react = type === AnnotationType.React;
  let holders = held.holders.get(key);
  if (!holders) held.holders.set(key, (holders = { summaryMine: false, by: new Map() }));
  holders.by.set(entry.sender, react);
  const was = Object.hasOwn(message.reactions, key) ? message.reactions[key]!.count : 0;
  const count = was + (react ? 1 : -1);
  if (count <= 0) held.holders.delete(key);
  const reactions = { ...message.reactions };
  if (count <= 0) delete reactions[key];
  else setReaction(reactions, key, { count, mine: holds(holders, caller) });
  return { ...message, reactions };
}

/** Whether `caller` holds a reaction: its latest annotation after the summary decides, else the summary. */
function holds(holders: { summaryMine: boolean; by: Map<string, boolean> }, caller: string | undefined): boolean {
  if (caller === undefined) return false;
  return holders.by.get(caller) ?? holders.summaryMine;
}

/** The held message's reactions with `mine` for `caller`. */
function withMine(held: Held, caller: string): FoldedMessage['reactions'] {
  const reactions: FoldedMessage['reactions'] = {};
  for (const key of Object.keys(held.message.reactions)) {
    const holders = held.holders.get(key);
    setReaction(reactions, key, { count: held.message.reactions[key]!.count, mine: holders ? holds(holders, caller) : false });
  }
  return reactions;
}

/** Sets an own property: a key such as `__proto__` is a reaction like any other. */
function setReaction(reactions: FoldedMessage['reactions'], key: string, value: { count: number; mine: boolean }): void {
  Object.defineProperty(reactions, key, { value, enumerable: true, writable: true, configurable: true });
}
