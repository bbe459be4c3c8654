import { describe, expect, it } from 'vitest';
import { afterScroll, atEnd, atTop, CHAT_PAGE, holdWindow, NEWEST, revealOlder, showChat, type ChatWindow } from './chat-window.js';
import { KeyedList } from './persistent-list.js';

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ id: `m${from + i}` }));
const ids = (shown: { lines: readonly { id: string }[] }) => shown.lines.map((line) => line.id);
/** A 500 px list scrolled to `scrollTop`, its content `scrollHeight` high. */
const scroller = (scrollTop: number, scrollHeight = 5_000) => ({ scrollTop, clientHeight: 500, scrollHeight });

describe('chat window', () => {
  it('opens on the newest 50 and follows new lines while it does', () => {
    const chat = lines(1, 130);
    expect(CHAT_PAGE).toBe(50);
    expect(showChat(chat, NEWEST)).toEqual({ lines: chat.slice(80), hidden: 80 });
    const more = lines(1, 140);
    expect(ids(showChat(more, NEWEST))).toEqual(ids({ lines: lines(91, 140) }));
    // A short chat is shown whole.
    expect(showChat(lines(1, 12), NEWEST)).toEqual({ lines: lines(1, 12), hidden: 0 });
    expect(showChat([], NEWEST)).toEqual({ lines: [], hidden: 0 });
  });

  it('reveals 50 older lines per step, each once, down to the first; then holds there', () => {
    const chat = lines(1, 130);
    let window: ChatWindow = NEWEST;
    const steps: number[] = [];
    for (let shown = showChat(chat, window); shown.hidden > 0; shown = showChat(chat, window)) {
      window = revealOlder(chat, window);
      steps.push(showChat(chat, window).hidden);
    }
    expect(steps).toEqual([30, 0]);
    const all = showChat(chat, window);
    expect(ids(all)).toEqual(chat.map((line) => line.id));
    expect(new Set(ids(all)).size).toBe(130);
    expect(revealOlder(chat, window)).toBe(window); // nothing before the first line
  });

  it('holds while revealed: new lines are added at the end, none leave the top', () => {
    const chat = lines(1, 130);
    const window = revealOlder(chat, NEWEST);
    expect(window).toEqual({ kind: 'from', id: 'm31' });
    expect(ids(showChat(lines(1, 400), window))).toEqual(ids({ lines: lines(31, 400) }));
  });

  it('holds where it is once the reader scrolls away from the end, so the lines being read stay put', () => {
    const chat = lines(1, 130);
    const held = holdWindow(chat, NEWEST);
    expect(held).toEqual({ kind: 'from', id: 'm81' });
    expect(holdWindow(chat, held)).toBe(held);
    expect(showChat(lines(1, 135), held).lines[0]).toEqual({ id: 'm81' });
    expect(holdWindow([], NEWEST)).toBe(NEWEST);
  });

  it('falls back to the newest when the held line is gone (the history started over)', () => {
    const held: ChatWindow = { kind: 'from', id: 'gone' };
    expect(showChat(lines(1, 70), held)).toEqual({ lines: lines(21, 70), hidden: 20 });
    expect(revealOlder(lines(1, 70), held)).toEqual({ kind: 'from', id: 'm1' });
  });

  it('turns scrolling into window moves: top reveals, middle holds, end follows again', () => {
    const chat = lines(1, 130);
    expect(atEnd(scroller(4_500))).toBe(true);
    expect(atEnd(scroller(4_470))).toBe(false);
    expect(atTop(scroller(10))).toBe(true);
    expect(atTop(scroller(40))).toBe(false);

    // At the end, following: nothing changes.
    expect(afterScroll(chat, NEWEST, scroller(4_500))).toBe(NEWEST);
    // Scrolled up a little: hold.
    const held = afterScroll(chat, NEWEST, scroller(3_000));
    expect(held).toEqual({ kind: 'from', id: 'm81' });
    // At the top: the previous 50.
    const revealed = afterScroll(chat, held, scroller(0));
    expect(showChat(chat, revealed).hidden).toBe(30);
    // Back at the end: the newest 50 again.
    expect(afterScroll(chat, revealed, scroller(4_500))).toBe(NEWEST);
    // A list too short to scroll is at both ends: scrolling there changes nothing (the button reveals).
    expect(afterScroll(chat, held, { scrollTop: 0, clientHeight: 500, scrollHeight: 500 })).toBe(held);
  });

  it('moves the same way over the party\'s keyed chat as over an array (a held line found by id, not by a scan)', () => {
    const array = lines(1, 130);
    const keyed = array.reduce((list, line) => list.push(line), KeyedList.empty<{ id: string }>((line) => line.id));
    let window: ChatWindow = NEWEST;
    for (const step of ['hold', 'reveal', 'reveal', 'reveal'] as const) {
      const next = step === 'hold' ? holdWindow(keyed, window) : revealOlder(keyed, window);
      expect(next).toEqual(step === 'hold' ? holdWindow(array, window) : revealOlder(array, window));
      window = next;
      expect(showChat(keyed, window)).toEqual(showChat(array, window));
    }
    expect(showChat(keyed, window).hidden).toBe(0);
    expect(afterScroll(keyed, window, scroller(4_500))).toBe(NEWEST);
  });
});
