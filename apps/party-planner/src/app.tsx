import { useEffect, useState } from 'react';
import { Home, type PartyDraft } from './components/home.js';
import { PartyPage } from './components/party-page.js';

function partyFromPath(pathname: string): string | undefined {
  return /^\/p\/([a-z0-9]{6,32})\/?$/.exec(pathname)?.[1];
}

export function App() {
  const [party, setParty] = useState(() => partyFromPath(location.pathname));
  const [draft, setDraft] = useState<PartyDraft>();

  useEffect(() => {
    const onPop = () => {
      setDraft(undefined);
      setParty(partyFromPath(location.pathname));
    };
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const go = (id: string | undefined, next?: PartyDraft) => {
    history.pushState(null, '', id ? `/p/${id}` : '/');
    setDraft(next);
    setParty(id);
    window.scrollTo(0, 0);
  };

  if (!party) return <Home onCreate={(id, next) => go(id, next)} onOpen={(id) => go(id)} />;
  return <PartyPage key={party} party={party} draft={draft} onHome={() => go(undefined)} />;
}
