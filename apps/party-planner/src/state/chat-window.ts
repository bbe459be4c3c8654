/**
 * Which chat lines are on screen. The party folds its whole log (the checklist and the votes need
 * every message), but a chat of thousands of lines would be thousands of DOM nodes: the chat shows a
 * window of its lines instead. It opens on the newest {@link CHAT_PAGE} and follows new ones (older
 * ones leave the top); while the reader is scrolled away from the end it holds still; reaching the top
 * reveals the {@link CHAT_PAGE} lines before it; back at the end it follows again.
 *
 * Pure functions over the chat lines (any objects with a stable `id`), so the component only wires
 * them to scroll events. With the party's keyed chat (`ChatLog`, see `chat-lines.ts`) every step costs
 * the lines it puts on screen, never the length of the chat: a held line is found by its id in O(1).
 */

/** Chat lines: an array, or a list that finds a line's index by its id (`KeyedList`). */
export type ChatLines<T extends { id: string }> =
  | readonly T[]
  | { readonly length: number; at(index: number): T | undefined; indexOfKey(id: string): number; slice(start: number): readonly T[] };

function indexOfId<T extends { id: string }>(chat: ChatLines<T>, id: string): number {
  return 'indexOfKey' in chat ? chat.indexOfKey(id) : chat.findIndex((line) => line.id === id);
}

/** Lines shown at first, and revealed per step. */
export const CHAT_PAGE = 50;

export type ChatWindow =
  /** Following the end: the newest `CHAT_PAGE` lines. */
  | { readonly kind: 'newest' }
  /** Held: from the line with this id to the end (new lines are added; none leave the top). */
  | { readonly kind: 'from'; readonly id: string };

export const NEWEST: ChatWindow = { kind: 'newest' };

export interface ShownChat<T> {
  /** The lines on screen, in chat order. */
  readonly lines: readonly T[];
  /** How many lines come before the first one shown (0: the start of the chat is on screen). */
  readonly hidden: number;
}

/** The index of the first line on screen. A held line that is gone (the history started over) falls back to the newest. */
function startOf<T extends { id: string }>(chat: ChatLines<T>, window: ChatWindow, page: number): number {
  if (window.kind === 'from') {
    const index = indexOfId(chat, window.id);
    if (index >= 0) return index;
  }
  return Math.max(0, chat.length - page);
}

/** The lines of `chat` that `window` puts on screen. */
export function showChat<T extends { id: string }>(chat: ChatLines<T>, window: ChatWindow, page = CHAT_PAGE): ShownChat<T> {
  const start = startOf(chat, window, page);
  return { lines: start === 0 && Array.isArray(chat) ? chat : chat.slice(start), hidden: start };
}

/** The reader reached the top: the `page` lines before the first one shown join the window, which holds from there. */
export function revealOlder<T extends { id: string }>(chat: ChatLines<T>, window: ChatWindow, page = CHAT_PAGE): ChatWindow {
  const start = startOf(chat, window, page);
  if (start === 0) return window;
  return { kind: 'from', id: chat.at(Math.max(0, start - page))!.id };
}

/** The reader scrolled away from the end: the window stops following, so the lines being read stay put. */
export function holdWindow<T extends { id: string }>(chat: ChatLines<T>, window: ChatWindow, page = CHAT_PAGE): ChatWindow {
  if (window.kind === 'from') return window;
  const first = chat.at(startOf(chat, window, page));
  return first ? { kind: 'from', id: first.id } : window;
}

/** How close (px) to an edge of the list counts as being there. */
export const EDGE_PX = 24;

/** Whether a scroller shows its end (the newest line), within {@link EDGE_PX}. */
export function atEnd(scroller: { scrollTop: number; clientHeight: number; scrollHeight: number }): boolean {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= EDGE_PX;
}

/** Whether a scroller is at its top, within {@link EDGE_PX}. */
export function atTop(scroller: { scrollTop: number }): boolean {
  return scroller.scrollTop <= EDGE_PX;
}

/**
 * What a scroll of the list does to the window: at the top, reveal older lines; away from the end,
 * hold; at the end, follow the newest again. A list too short to scroll is at its end and its top:
 * it follows (the "Load older messages" button reveals more there).
 */
export function afterScroll<T extends { id: string }>(chat: ChatLines<T>, window: ChatWindow, scroller: { scrollTop: number; clientHeight: number; scrollHeight: number }, page = CHAT_PAGE): ChatWindow {
  if (atEnd(scroller)) return window.kind === 'newest' || atTop(scroller) ? window : NEWEST;
  if (atTop(scroller)) return revealOlder(chat, window, page);
  return holdWindow(chat, window, page);
}
