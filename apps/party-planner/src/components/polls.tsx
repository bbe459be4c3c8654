import { useState, type FormEvent } from 'react';
import { newLocalId } from '../party/identity.js';
import type { PartyRoom } from '../party/use-party.js';
import { formatPartyDate, parsePartyDate } from '../state/countdown.js';
import { displayName, leadingOption, MAX_LABEL, PartyMessageType, type PollKind } from '../state/party-state.js';
import { StatusBadge } from './status-badge.js';

const TITLES: Record<PollKind, string> = { date: 'When?', venue: 'Where?' };

export function PollCard({ room, me, kind }: { room: PartyRoom; me: string; kind: PollKind }) {
  const [draft, setDraft] = useState('');
  const poll = room.state.polls[kind];
  const leader = leadingOption(poll);
  const total = poll.votes.size;
  const offline = room.connection !== 'online';
  const labelOf = (label: string) => (kind === 'date' ? formatPartyDate(label) : label);

  const propose = (event: FormEvent) => {
    event.preventDefault();
    const label = draft.trim();
    if (!label || (kind === 'date' && !parsePartyDate(label))) return;
    setDraft('');
    const optionId = newLocalId();
    void room.publish(PartyMessageType.PollOption, { poll: kind, optionId, label }).then(() => room.publish(PartyMessageType.PollVote, { poll: kind, optionId }));
  };

  return (
    <section className="card poll" aria-labelledby={`poll-${kind}`}>
      <h2 id={`poll-${kind}`}>
        {TITLES[kind]} <span className="count">{total === 1 ? '1 vote' : `${total} votes`}</span>
      </h2>
      <ul className="options" data-testid={`poll-${kind}`}>
        {poll.options.length === 0 && <li className="empty">No {kind === 'date' ? 'dates' : 'places'} proposed yet.</li>}
        {poll.options.map((option) => {
          const mine = poll.votes.get(me) === option.optionId;
          const share = total === 0 ? 0 : Math.round((option.voters.length / total) * 100);
          const latest = option.changedBy.get(me);
          const myChange = latest !== undefined && room.statusOf(latest) ? latest : undefined;
          return (
            <li key={option.optionId} className={mine ? 'option mine' : 'option'} data-option={option.label} data-votes={option.voters.length}>
              <button
                type="button"
                className="vote"
                aria-pressed={mine}
                aria-label={`Vote for ${labelOf(option.label)} (${option.voters.length} ${option.voters.length === 1 ? 'vote' : 'votes'})`}
                onClick={() => void room.publish(PartyMessageType.PollVote, { poll: kind, optionId: option.optionId })}
              >
                <span className="bar" style={{ width: `${share}%` }} aria-hidden="true" />
                <span className="option-label">{option === leader ? '★ ' : ''}{labelOf(option.label)}</span>
                <span className="votes">{option.voters.length}</span>
              </button>
              <span className="voters">{option.voters.map((voter) => (voter === me ? 'you' : displayName(room.state, voter))).join(', ')}</span>
              {myChange && <StatusBadge status={room.statusOf(myChange)} offline={offline} reason={room.failureOf(myChange)} />}
            </li>
          );
        })}
      </ul>
      <form className="row" onSubmit={propose}>
        <label className="visually-hidden" htmlFor={`propose-${kind}`}>{kind === 'date' ? 'Propose a date' : 'Propose a place'}</label>
        <input
          id={`propose-${kind}`}
          type={kind === 'date' ? 'datetime-local' : 'text'}
          value={draft}
          maxLength={MAX_LABEL}
          placeholder={kind === 'date' ? '' : 'Propose a place…'}
          onChange={(event) => setDraft(event.target.value)}
        />
        <button type="submit" disabled={!draft.trim()}>Propose</button>
      </form>
    </section>
  );
}
