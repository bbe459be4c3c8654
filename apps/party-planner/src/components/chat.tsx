import { memo, useEffect, useRef, useState, type FormEvent } from 'react';
import { displayName, MAX_TEXT, PartyMessageType } from '../state/party-state.js';
import type { OwnStatus, PartyRoom } from '../party/use-party.js';
import { StatusBadge } from './status-badge.js';

const TYPING_EVERY_MS = 2_000;

export function Chat({ room, me, typing }: { room: PartyRoom; me: string; typing: string }) {
  const [draft, setDraft] = useState('');
  const lastTyping = useRef(0);
  const list = useRef<HTMLOListElement>(null);
  const { state } = room;
  const offline = room.connection !== 'online';

  useEffect(() => {
    const element = list.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [state.chat.length]);

  const send = (event: FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    if (!text) return;
    setDraft('');
    void room.publish(PartyMessageType.Chat, { text });
  };

  const onInput = (value: string) => {
    setDraft(value);
    const now = Date.now();
    if (value && now - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = now;
      room.signalTyping(state.members[me] ?? '');
    }
  };

  return (
    <section className="card chat" aria-labelledby="chat-title">
      <h2 id="chat-title">Chat</h2>
      <ol className="chat-lines" ref={list} aria-live="polite" aria-label="Chat history" data-testid="chat">
        {state.chat.length === 0 && <li className="empty">No messages yet. Say hi 👋</li>}
        {state.chat.map((line) => {
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
