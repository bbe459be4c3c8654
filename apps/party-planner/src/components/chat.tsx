import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent, type RefObject } from 'react';
import { editedText, REACTIONS, type ChatLine, type ReactionKey } from '../state/chat-lines.js';
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
 * Whether the element is on screen: the tab is visible and some of it is in the viewport, not clipped
 * by a scroller (without IntersectionObserver: whenever the tab is visible).
 */
function useOnScreen(target: RefObject<Element | null>): boolean {
  const [intersecting, setIntersecting] = useState(() => typeof IntersectionObserver === 'undefined');
  const [visible, setVisible] = useState(() => typeof document === 'undefined' || document.visibilityState === 'visible');
  useEffect(() => {
    const onVisibility = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', onVisibility);
    const element = target.current;
    const observer = element && typeof IntersectionObserver !== 'undefined' ? new IntersectionObserver((entries) => setIntersecting(entries.some((entry) => entry.isIntersecting))) : undefined;
    if (element) observer?.observe(element);
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      observer?.disconnect();
    };
  }, [target]);
  return visible && intersecting;
}

/**
 * The chat: the party's chat lines (the SDK's folded messages, see `useParty`), but only a window of
 * them is on screen — the newest 50 at first; scrolling to the top (or "Load older messages") reveals
 * 50 more without moving the lines being read; back at the end it follows the newest again (see
 * `state/chat-window.ts`). Own lines can be edited and deleted, any logged line reacted to; while the
 * end of the list is on screen, the party is marked read; "Seen by" under the newest line.
 */
export function Chat({ room, me, typing }: { room: PartyRoom; me: string; typing: string }) {
  const [draft, setDraft] = useState('');
  const lastTyping = useRef(0);
  const list = useRef<HTMLOListElement>(null);
  const { state, chat } = room;
  const offline = room.connection !== 'online';

  const [chatWindow, setChatWindow] = useState<ChatWindow>(NEWEST);
  const shown = useMemo(() => showChat(chat, chatWindow), [chat, chatWindow]);
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
    const hidden = showChat(chat, next).hidden;
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
    const next = afterScroll(chat, chatWindow, element);
    if (next !== chatWindow) moveWindow(next, 'scroll');
  };

  // Screen readers hear the newest line from a friend. The list itself is not a live region: revealing
  // 50 older lines would read them all out.
  const newest = chat.at(-1);
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

  // Read: the newest line is on screen (the end of the list, in a visible tab). markRead never moves back,
  // and asks nothing while the position stays.
  const end = useRef<HTMLLIElement>(null);
  const readingNewest = useOnScreen(end);
  const { ready, lastSeq, markRead } = room;
  useEffect(() => {
    if (ready && readingNewest && lastSeq > 0) markRead();
  }, [ready, readingNewest, lastSeq, markRead]);

  // "Seen by" the friends whose read position is at the newest logged line or past it.
  const seenBy = useMemo(() => {
    let last: ChatLine | undefined;
    for (let index = chat.length - 1; index >= 0 && !last; index -= 1) if (chat.at(index)!.seq !== undefined) last = chat.at(index);
    if (!last?.seq) return [];
    const here = new Map(room.friendsHere.map((friend) => [friend.sub, friend.name]));
    return room.receipts.filter((position) => position.sub !== me && position.seq >= last.seq!).map((position) => here.get(position.sub) ?? displayName(state, position.sub));
  }, [chat, room.receipts, room.friendsHere, me, state]);

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
          <button type="button" className="ghost small" onClick={() => moveWindow(revealOlder(chat, chatWindow), 'button')}>Load older messages</button>
          <span className="muted" data-testid="chat-hidden">{shown.hidden.toLocaleString('en')} earlier</span>
        </p>
      ) : (
        chat.length > CHAT_PAGE && <p className="chat-older muted">Start of the chat</p>
      )}
      <ol className="chat-lines" ref={list} tabIndex={0} aria-label="Chat history" data-testid="chat" onScroll={onScroll}>
        {chat.length === 0 && <li className="empty">No messages yet. Say hi 👋</li>}
        {shown.lines.map((line) => {
          const mine = line.sender === me;
          const own = mine ? room.statusOf(line.id) : undefined;
          // A refused change of the line outranks the line's own status; a change on its way shows over `sent`.
          const status = line.change?.status === 'failed' || own === undefined || own === 'sent' ? (line.change?.status ?? own) : own;
          return (
            <ChatRow
              key={line.id}
              line={line}
              mine={mine}
              who={mine ? 'You' : displayName(state, line.sender)}
              status={status}
              offline={offline}
              reason={line.change?.status === 'failed' ? line.change.reason : mine ? room.failureOf(line.id) : undefined}
              onEdit={room.editChat}
              onDelete={room.deleteChat}
              onReact={room.react}
            />
          );
        })}
        <li className="chat-end" ref={end} aria-hidden="true" />
      </ol>
      {seenBy.length > 0 && <p className="seen-by" data-testid="seen-by">Seen by {seenBy.join(', ')}</p>}
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

interface ChatRowProps {
  line: ChatLine;
  mine: boolean;
  who: string;
  /** Own lines, and lines with own changes. */
  status: OwnStatus | undefined;
  offline: boolean;
  reason: string | undefined;
  onEdit: (id: string, text: string) => void;
  onDelete: (id: string) => void;
  onReact: (id: string, key: ReactionKey, on: boolean) => void;
}

/**
 * One line; plain props, so a busy room re-renders only the lines that changed, not hundreds per
 * message. Its controls are always there (a phone has no hover), each at least 40 px to tap.
 */
const ChatRow = memo(function ChatRow({ line, mine, who, status, offline, reason, onEdit, onDelete, onReact }: ChatRowProps) {
  const { id, seq, text, deleted, edited, reactions } = line;
  const [draft, setDraft] = useState<string>();
  const editing = draft !== undefined && !deleted;

  const save = (event: FormEvent) => {
    event.preventDefault();
    const next = editedText(draft ?? '');
    if (next === undefined) return;
    if (next !== text) onEdit(id, next);
    setDraft(undefined);
  };

  return (
    <li className={mine ? 'line mine' : 'line'} data-seq={seq ?? ''} data-id={id} data-edited={String(edited)} data-deleted={String(deleted)}>
      <span className="who">{who}</span>
      {editing ? (
        <form className="edit-row" onSubmit={save}>
          <label className="visually-hidden" htmlFor={`edit-${id}`}>Edit your message</label>
          <input
            id={`edit-${id}`}
            autoFocus
            value={draft}
            maxLength={MAX_TEXT}
            autoComplete="off"
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={(event) => event.key === 'Escape' && setDraft(undefined)}
          />
          <button type="submit" className="small" disabled={editedText(draft) === undefined}>Save</button>
          <button type="button" className="ghost small" onClick={() => setDraft(undefined)}>Cancel</button>
        </form>
      ) : deleted ? (
        <span className="deleted-note">Message deleted</span>
      ) : (
        <span className="text">{text}</span>
      )}
      {edited && !deleted && !editing && <span className="edited">edited</span>}
      {status && <StatusBadge status={status} offline={offline} reason={reason} />}
      {!deleted && !editing && (
        <div className="line-actions">
          {/* Reactions need the line in the log (an own line still on its way has no place to react to yet). */}
          {seq !== undefined &&
            REACTIONS.map((key) => {
              const held = reactions[key];
              const count = held?.count ?? 0;
              return (
                <button
                  key={key}
                  type="button"
                  className={held?.mine ? 'reaction mine' : 'reaction'}
                  data-testid={`reaction-${key}`}
                  data-count={count}
                  aria-pressed={held?.mine ?? false}
                  aria-label={`${key} ${count}`}
                  onClick={() => onReact(id, key, !held?.mine)}
                >
                  {key}
                  {count > 0 && <span className="count">{count}</span>}
                </button>
              );
            })}
          {mine && (
            <span className="own-actions">
              <button type="button" className="ghost small" data-testid="message-edit" onClick={() => setDraft(text)}>Edit</button>
              <button type="button" className="ghost small" data-testid="message-delete" onClick={() => onDelete(id)}>Delete</button>
            </span>
          )}
        </div>
      )}
    </li>
  );
});
