import { Fragment, useEffect, useRef, useState, type FormEvent, type RefObject } from 'react';
import { hasJoined, markJoined, rememberParty, saveName, savedName } from '../party/identity.js';
import { PartyClient } from '../party/party-client.js';
import { useParty } from '../party/use-party.js';
import { formatPartyDate } from '../state/countdown.js';
import { leadingOption, PartyMessageType } from '../state/party-state.js';
import { typingLine, typingNames } from '../state/typing.js';
import { Chat } from './chat.js';
import { Checklist } from './checklist.js';
import { CountdownClock } from './countdown-clock.js';
import type { PartyDraft } from './home.js';
import { PollCard } from './polls.js';

export function PartyPage({ party, draft, onHome }: { party: string; draft: PartyDraft | undefined; onHome: () => void }) {
  // The draft founds the party once, whoever this browser turns out to be.
  const created = useRef(false);
  return (
    <PartyClient party={party} opening={(problem) => <Opening problem={problem} onHome={onHome} />}>
      {(me) => <PartyScreen party={party} me={me} draft={draft} created={created} onHome={onHome} />}
    </PartyClient>
  );
}

/** Until the client can start: who this browser is, and the relays, are not known yet. */
function Opening({ problem, onHome }: { problem: string | undefined; onHome: () => void }) {
  return (
    <div className="party">
      {problem && <div className="banner error" role="alert">{problem}</div>}
      <header className="party-head">
        <button type="button" className="ghost small back" onClick={onHome}>← Parties</button>
        <h1 data-testid="party-title">Opening the party…</h1>
      </header>
    </div>
  );
}

interface PartyScreenProps {
  party: string;
  /** Who "you" are: the server's to say (learned with the first token). */
  me: string;
  draft: PartyDraft | undefined;
  created: RefObject<boolean>;
  onHome: () => void;
}

function PartyScreen({ party, me, draft, created, onHome }: PartyScreenProps) {
  const [name, setName] = useState(() => (hasJoined(party) || draft ? savedName() : ''));
  const room = useParty(party, me, name);
  const { state } = room;

  // The creator's first message founds the party (queued in the outbox like any other).
  useEffect(() => {
    if (!room.ready || !draft || created.current) return;
    created.current = true;
    markJoined(party, name);
    void room.publish(PartyMessageType.Create, { title: draft.title, name, date: draft.date, venue: draft.venue });
  }, [room.ready, draft, party, name, room, created]);

  useEffect(() => {
    if (state.title) rememberParty({ id: party, title: state.title });
    document.title = state.title ? `${state.title} · Party planner` : 'Party planner';
  }, [state.title, party]);

  const invite = `${location.origin}/p/${party}`;
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(invite);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      (document.getElementById('invite-link') as HTMLInputElement | null)?.select();
    }
  };

  const typing = typingLine(typingNames(room.typing, Date.now()));
  const date = leadingOption(state.polls.date)?.label;
  const venue = leadingOption(state.polls.venue)?.label;

  return (
    <div className="party">
      <a className="skip" href="#chat-input">Skip to chat</a>
      {room.connection !== 'online' && (
        <div className={`banner ${room.connection}`} role="status" data-testid="offline-banner">
          {room.connection === 'offline' ? "You're offline." : 'Connecting…'}{' '}
          {room.queued === 0 ? 'Nothing waiting to be sent.' : `${room.queued} ${room.queued === 1 ? 'change' : 'changes'} queued — they'll be sent when you're back.`}
        </div>
      )}
      {room.problem && <div className="banner error" role="alert">{room.problem}</div>}
      {room.resetNotice && <div className="banner warn" role="status">{room.resetNotice}</div>}
      {room.elsewhereNotice && <div className="banner warn" role="status">{room.elsewhereNotice}</div>}
      {room.changeNotice && <div className="banner warn" role="status">{room.changeNotice}</div>}

      <header className="party-head">
        <button type="button" className="ghost small back" onClick={onHome}>← Parties</button>
        <h1 data-testid="party-title">{state.title ?? (room.ready ? 'A surprise party' : 'Opening the party…')}</h1>
        <p className="facts">
          {date ? <span>📅 {formatPartyDate(date)}</span> : <span className="muted">📅 date not set</span>}
          {venue ? <span>📍 {venue}</span> : <span className="muted">📍 place not set</span>}
        </p>
        <CountdownClock date={date} />
        <div className="invite">
          <label htmlFor="invite-link">Invite link</label>
          <div className="row">
            <input id="invite-link" readOnly value={invite} onFocus={(event) => event.target.select()} />
            <button type="button" onClick={() => void copy()}>{copied ? 'Copied!' : 'Copy'}</button>
          </div>
        </div>
        <p className="presence" data-testid="presence" aria-live="polite">
          <span className={`dot ${room.connection}`} aria-hidden="true" />
          Here now: <strong>You{name ? ` (${name})` : ''}</strong>
          {room.friendsHere.map((friend) => (
            <Fragment key={friend.sub}>
              , <span className="friend" data-sub={friend.sub}>{friend.name}</span>
            </Fragment>
          ))}
        </p>
      </header>

      <div className="grid">
        <Chat room={room} me={me} typing={typing} />
        <div className="stack">
          <Checklist room={room} me={me} />
          <PollCard room={room} me={me} kind="date" />
          <PollCard room={room} me={me} kind="venue" />
        </div>
      </div>

      {!name && room.ready && <JoinDialog title={state.title} onJoin={(chosen) => {
        saveName(chosen);
        markJoined(party, chosen);
        setName(chosen);
        void room.publish(PartyMessageType.Join, { name: chosen });
      }} />}
    </div>
  );
}

function JoinDialog({ title, onJoin }: { title: string | undefined; onJoin: (name: string) => void }) {
  const [value, setValue] = useState(savedName);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (value.trim()) onJoin(value.trim());
  };
  return (
    <div className="overlay">
      <form className="card dialog" role="dialog" aria-modal="true" aria-labelledby="join-title" onSubmit={submit}>
        <h2 id="join-title">You're invited{title ? ` to ${title}` : ''} 🎉</h2>
        <p className="muted">Shh — it's a surprise. Tell your friends who you are.</p>
        <label>
          Your name
          <input autoFocus required maxLength={60} value={value} autoComplete="nickname" onChange={(event) => setValue(event.target.value)} />
        </label>
        <button type="submit" className="primary">Join the party</button>
      </form>
    </div>
  );
}
