import type { OwnMessage, Reaction, ViewMessage } from '@partyline/react';
import { chatText, MAX_TEXT, PartyMessageType } from './party-state.js';

/**
 * The chat is the SDK's fold of the room: each chat message as its edits, deletion and reactions left
 * it (`useMessages`), in log order — the planner does not fold chat itself. On top go this friend's own
 * changes still on their way (the outbox, in publish order): new lines (no seq yet), and edits,
 * deletions and reactions shown as if done, so the screen answers a tap at once, also offline.
 */

/** The reactions the chat offers, in this order. */
export const REACTIONS = ['👍', '🎉', '❤️', '😂'] as const;
export type ReactionKey = (typeof REACTIONS)[number];

/** The outbox types of edits, deletions and reactions (the SDK's `room.edit`, `delete`, `react`, `unreact`). */
const Annotation = { Edit: 'pl:edit', Delete: 'pl:delete', React: 'pl:react', Unreact: 'pl:unreact' } as const;

export interface ChatLine {
  id: string;
  /** Log position; undefined while the message waits in the outbox. */
  seq: number | undefined;
  sender: string;
  /** The latest text; empty once deleted. */
  text: string;
  edited: boolean;
  deleted: boolean;
  reactions: Readonly<Record<string, Reaction>>;
  /** Own edits, deletions or reactions of it: `pending` while on their way (shown as done), `failed` when one was refused. */
  change?: { status: 'pending' | 'failed'; reason?: string | undefined } | undefined;
}

/** Chat lines in log order, found by message id in O(1) (what `chat-window.ts` moves over). */
export class ChatLog implements Iterable<ChatLine> {
  static readonly EMPTY = new ChatLog([]);
  readonly #lines: readonly ChatLine[];
  #index: Map<string, number> | undefined;

  constructor(lines: readonly ChatLine[]) {
    this.#lines = lines;
  }

  get length(): number {
    return this.#lines.length;
  }

  at(index: number): ChatLine | undefined {
    return this.#lines.at(index);
  }

  /** Where the line with this id is (-1: none); the index is built on the first look-up. */
  indexOfKey(id: string): number {
    this.#index ??= new Map(this.#lines.map((line, index) => [line.id, index]));
    return this.#index.get(id) ?? -1;
  }

  get(id: string): ChatLine | undefined {
    return this.#lines[this.indexOfKey(id)];
  }

  slice(start?: number, end?: number): ChatLine[] {
    return this.#lines.slice(start, end);
  }

  [Symbol.iterator](): Iterator<ChatLine> {
    return this.#lines[Symbol.iterator]();
  }
}

/** One line per message object: a message the fold did not change keeps its line (and its memoized row). */
const linesOf = new WeakMap<ViewMessage, ChatLine | null>();

function lineOf(message: ViewMessage): ChatLine | undefined {
  let line = linesOf.get(message);
  if (line === undefined) {
    const text = message.deleted ? '' : chatText(message.body);
    line = text === undefined ? null : { id: message.id, seq: message.seq, sender: message.sender, text, edited: message.edited, deleted: message.deleted, reactions: message.reactions };
    linesOf.set(message, line);
  }
  return line ?? undefined;
}

/** An own change on its way: `body` as the outbox holds it (an annotation's JSON text, or already parsed). */
export type OwnChange = Pick<OwnMessage, 'id' | 'type' | 'body' | 'status' | 'error'>;

function parsed(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/**
 * The chat: the chat messages of the view (`messages`, folded by the SDK) with `me`'s changes on their
 * way on top (`own`, in publish order): new lines (also refused ones: their status says so), and
 * edits, deletions and reactions shown as done (marked `pending`); a refused change is not shown as
 * done, its line is marked `failed`. `isLogged` tells
 * own new lines the view already holds (they are not added twice).
 */
export function chatLog(messages: readonly ViewMessage[], own: readonly OwnChange[], me: string, isLogged: (id: string) => boolean): ChatLog {
  const lines: ChatLine[] = [];
  for (const message of messages) {
    if (message.type !== PartyMessageType.Chat) continue;
    const line = lineOf(message);
    if (line) lines.push(line);
  }
  if (own.length === 0) return new ChatLog(lines);
  const logged = new ChatLog(lines);
  /** Own new lines not in the log yet, which own changes may target too. */
  const added: ChatLine[] = [];
  const addedAt = new Map<string, number>();
  for (const change of own) {
    const onItsWay = change.status === 'pending' || change.status === 'sent';
    if (change.type === PartyMessageType.Chat) {
      const text = chatText(change.body);
      // (A refused one stays on screen, marked failed by its status.)
      if (text === undefined || isLogged(change.id)) continue;
      addedAt.set(change.id, added.length);
      added.push({ id: change.id, seq: undefined, sender: me, text, edited: false, deleted: false, reactions: {} });
      continue;
    }
    const body = parsed(change.body);
    const target = field(body, 'id');
    if (typeof target !== 'string') continue;
    const [list, index] = addedAt.has(target) ? [added, addedAt.get(target)!] : [lines, logged.indexOfKey(target)];
    const line = list[index];
    if (!line) continue;
    if (!onItsWay) list[index] = { ...line, change: { status: 'failed', reason: change.error?.message ?? 'it waited too long' } };
    else {
      const next = line.deleted ? undefined : applyOwn(line, change.type, body, me);
      if (next && change.status === 'pending' && next.change?.status !== 'failed') next.change = { status: 'pending' };
      if (next) list[index] = next;
    }
  }
  return new ChatLog(added.length > 0 ? [...lines, ...added] : lines);
}

/** `line` as it will be once an own edit, deletion or reaction lands; undefined for anything else. */
function applyOwn(line: ChatLine, type: string, body: unknown, me: string): ChatLine | undefined {
  switch (type) {
    case Annotation.Edit: {
      // Only the sender edits (the relay refuses others' edits), so `from` is `me`.
      if (line.sender !== me) return undefined;
      const text = chatText(parsed(field(body, 'body')));
      return text === undefined ? undefined : { ...line, text, edited: true };
    }
    case Annotation.Delete:
      return line.sender === me ? { ...line, text: '', deleted: true, reactions: {} } : undefined;
    case Annotation.React:
    case Annotation.Unreact: {
      const key = field(body, 'key');
      if (typeof key !== 'string') return undefined;
      const held = line.reactions[key] ?? { count: 0, mine: false };
      const mine = type === Annotation.React;
      if (held.mine === mine) return undefined; // landed already
      const count = held.count + (mine ? 1 : -1);
      const reactions = { ...line.reactions };
      if (count > 0) reactions[key] = { count, mine };
      else delete reactions[key];
      return { ...line, reactions };
    }
    default:
      return undefined;
  }
}

/** An edit's text as the chat accepts it (the same rule as a new message), or undefined. */
export function editedText(draft: string): string | undefined {
  const text = draft.trim();
  return text.length > 0 && text.length <= MAX_TEXT ? text : undefined;
}
