import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { afterScroll, atEnd, CHAT_PAGE, NEWEST, revealOlder, showChat, type ChatWindow } from '../state/chat-window.js';
import { displayName, MAX_TEXT, PartyMessageType } from '../state/party-state.js';
import type { OwnStatus, PartyRoom } from '../party/use-party.js';
import { StatusBadge } from './status-badge.js';

const TYPING_EVERY_MS = 2_000;

/** Where a line sits in the list's viewport (px from the list's top edge). */
function offsetIn(list: HTMLElement, id: string): number | undefined {
  const line = list.querySelector(`[data-id="${CSS.escape(id)}"]`);
  return line ? line.getBoundingClientRect().top - list.getBoundingClientRect().top : undefined;
}

/**
 * The chat: the whole party's lines are folded (see `useParty`), but only a window of them is on
 * screen — the newest 50 at first; scrolling to the top (or "Load older messages") reveals 50 more
 * without moving the lines being read; back at the end it follows the newest again (see
 * `state/chat-window.ts`).
 */
export function Chat({ room, me, typing }: { room: PartyRoom; me: string; typing: string }) {
  const [draft, setDraft] = useState('');
  const lastTyping = useRef(0);
  const list = useRef<HTMLOListElement>(null);
  const { state } = room;
  const offline = room.connection !== 'online';

  const [chatWindow, setChatWindow] = useState<ChatWindow>(NEWEST);
  const shown = useMemo(() => showChat(state.chat, chatWindow), [state.chat, chatWindow]);
  /** The reader is at the end of the list: new lines scroll into view. */
  const stick = useRef(true);
  /** A line to keep in place across the next render (older lines are being put above it). */
  const anchor = useRef<{ id: string; offset: number } | undefined>(undefined);
  const focusList = useRef(false);
  const [revealed, setRevealed] = useState('');

  useLayoutEffect(() => {
    const element = list.current;
    if (!element) return;
    const kept = anchor.current;
    anchor.current = undefined;
    const now = kept && offsetIn(element, kept.id);
    if (kept && now !== undefined) element.scrollTop += now - kept.offset;
    else if (stick.current) element.scrollTop = element.scrollHeight;
    if (focusList.current) {
      focusList.current = false;
      element.focus();
    }
  }, [shown]);

  /**
   * Moves the window. When that puts older lines on screen, the line that was first stays put: where
   * it was, for a reader who scrolled to the top; right below the list's bottom edge for one who
   * pressed "Load older messages" (from anywhere), so the older lines are what they see next.
   */
  const moveWindow = (next: ChatWindow, by: 'scroll' | 'button') => {
    const element = list.current;
    const first = shown.lines[0];
    const hidden = showChat(state.chat, next).hidden;
    if (element && first && hidden < shown.hidden) {
      const offset = by === 'button' ? element.clientHeight : offsetIn(element, first.id);
      if (offset !== undefined) anchor.current = { id: first.id, offset };
      stick.current = false;
      const count = shown.hidden - hidden;
      setRevealed(`${count} older ${count === 1 ? 'message' : 'messages'} shown${hidden === 0 ? ', back to the start of the chat' : ''}.`);
      // The button goes away with the last older page: keyboard focus moves to the list, not the page.
      if (by === 'button' && hidden === 0) focusList.current = true;
    }
    setChatWindow(next);
  };

  const onScroll = () => {
    const element = list.current;
    if (!element) return;
    stick.current = atEnd(element);
    const next = afterScroll(state.chat, chatWindow, element);
    if (next !== chatWindow) moveWindow(next, 'scroll');
  };

  // Screen readers hear the newest line from a friend. The list itself is not a live region: revealing
  // 50 older lines would read them all out.
  const newest = state.chat.at(-1);
  const [heard, setHeard] = useState('');
  const lastHeard = useRef<string | undefined>(undefined);
  const listening = useRef(false);
  useEffect(() => {
    const previous = lastHeard.current;
    lastHeard.current = newest?.id;
    if (!room.ready) return;
    if (!listening.current) {
      listening.current = true; // the chat as it opened is not read out
      return;
    }
    if (newest && newest.id !== previous && newest.sender !== me) setHeard(`${displayName(state, newest.sender)}: ${newest.text}`);
  }, [newest, room.ready, me, state]);

  const send = (event: FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    if (!text) return;
    setDraft('');
    stick.current = true; // your own line scrolls into view
    void room.publish(PartyMessageType.Chat, { text });
  };

  const onInput = (value: string) => {
    setDraft(value);
    const now = Date.now();
    if (value && now - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = now;
      room.signalTyping(state.members.get(me) ?? '');
    }
  };

  return (
    <section className="card chat" aria-labelledby="chat-title">
      <h2 id="chat-title">Chat</h2>
      {shown.hidden > 0 ? (
        <p className="chat-older">
          <button type="button" className="ghost small" onClick={() => moveWindow(revealOlder(state.chat, chatWindow), 'button')}>Load older messages</button>
          <span className="muted" data-testid="chat-hidden">{shown.hidden.toLocaleString('en')} earlier</span>
        </p>
      ) : (
        state.chat.length > CHAT_PAGE && <p className="chat-older muted">Start of the chat</p>
      )}
      <ol className="chat-lines" ref={list} tabIndex={0} aria-label="Chat history" data-testid="chat" onScroll={onScroll}>
        {state.chat.length === 0 && <li className="empty">No messages yet. Say hi 👋</li>}
        {shown.lines.map((line) => {
          const mine = line.sender === me;
          return (
            <ChatLine
              key={line.id}
              id={line.id}
              seq={line.seq}
              text={line.text}
              mine={mine}
              who={mine ? 'You' : displayName(state, line.sender)}
              status={mine ? room.statusOf(line.id) : undefined}
              offline={offline}
              reason={mine ? room.failureOf(line.id) : undefined}
            />
          );
        })}
      </ol>
      <p className="visually-hidden" aria-live="polite">{heard}</p>
      <p className="visually-hidden" role="status">{revealed}</p>
      <p className="typing" aria-live="polite">{typing}</p>
      <form className="row" onSubmit={send}>
        <label className="visually-hidden" htmlFor="chat-input">Message</label>
        <input
          id="chat-input"
          value={draft}
          maxLength={MAX_TEXT}
          autoComplete="off"
          placeholder="Write a message…"
          onChange={(event) => onInput(event.target.value)}
        />
        <button type="submit" disabled={!draft.trim()}>Send</button>
      </form>
    </section>
  );
}

interface ChatLineProps {
  id: string;
  seq: number | undefined;
  text: string;
  mine: boolean;
  who: string;
  /** Own lines only. */
  status: OwnStatus | undefined;
  offline: boolean;
  reason: string | undefined;
}

/** One line; plain props, so a busy room re-renders only the lines that changed, not hundreds per message. */
const ChatLine = memo(function ChatLine({ id, seq, text, mine, who, status, offline, reason }: ChatLineProps) {
  return (
    <li className={mine ? 'line mine' : 'line'} data-seq={seq ?? ''} data-id={id}>
      <span className="who">{who}</span>
      <span className="text">{text}</span>
      {status && <StatusBadge status={status} offline={offline} reason={reason} />}
    </li>
  );
});
