import { useState, type FormEvent } from 'react';
import { newPartyId, recentParties, saveName, savedName } from '../party/identity.js';
import { PartiesClient } from '../party/parties-client.js';

export interface PartyDraft {
  title: string;
  date: string;
  venue: string;
}

export function Home({ onCreate, onOpen }: { onCreate: (id: string, draft: PartyDraft) => void; onOpen: (id: string) => void }) {
  const [title, setTitle] = useState('');
  const [name, setName] = useState(savedName);
  const [date, setDate] = useState('');
  const [venue, setVenue] = useState('');
  const [recent] = useState(recentParties);
  const ids = recent.map((party) => party.id);

  const create = (event: FormEvent) => {
    event.preventDefault();
    if (!title.trim() || !name.trim()) return;
    saveName(name.trim());
    onCreate(newPartyId(), { title: title.trim(), date, venue: venue.trim() });
  };

  return (
    <main className="home">
      <header className="hero">
        <p className="eyebrow">Partyline demo</p>
        <h1>Plan a surprise party 🎈</h1>
        <p className="lede">Chat, split who brings what and vote on when and where — together, even on a flaky train Wi-Fi. Everything you do is saved on your device first and sent the moment you're back online.</p>
      </header>
      <form className="card create" onSubmit={create} aria-labelledby="create-title">
        <h2 id="create-title">New party</h2>
        <label>
          Whose party is it?
          <input required value={title} maxLength={120} placeholder="Sam's 30th" onChange={(event) => setTitle(event.target.value)} />
        </label>
        <label>
          Your name
          <input required value={name} maxLength={60} autoComplete="nickname" placeholder="Ana" onChange={(event) => setName(event.target.value)} />
        </label>
        <div className="two">
          <label>
            <span>Date idea <span className="muted">(optional)</span></span>
            <input type="datetime-local" value={date} onChange={(event) => setDate(event.target.value)} />
          </label>
          <label>
            <span>Place idea <span className="muted">(optional)</span></span>
            <input value={venue} maxLength={120} placeholder="The rooftop" onChange={(event) => setVenue(event.target.value)} />
          </label>
        </div>
        <button type="submit" className="primary">Create party</button>
      </form>
      {recent.length > 0 && (
        <nav className="card recent" aria-labelledby="recent-title">
          <h2 id="recent-title">Your parties</h2>
          <PartiesClient parties={ids}>
            {(unread) => (
              <ul>
                {recent.map((party) => {
                  const count = unread[party.id] ?? 0;
                  return (
                    <li key={party.id}>
                      <a href={`/p/${party.id}`} onClick={(event) => { event.preventDefault(); onOpen(party.id); }}>
                        {party.title}
                        {count > 0 && <span className="unread-badge" data-testid="unread-badge" aria-label={`${count} unread`}>{count}</span>}
                      </a>
                    </li>
                  );
                })}
              </ul>
            )}
          </PartiesClient>
        </nav>
      )}
    </main>
  );
}
