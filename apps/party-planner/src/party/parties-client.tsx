import { PartylineProvider, useUnread } from '@partyline/react';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { knownUser, listTokenSource, relayUrls } from './identity.js';

/** Unread messages per party id (a party missing: none known). */
export type PartyUnread = Readonly<Record<string, number>>;

export interface PartiesClientProps {
  /** The party ids listed. */
  parties: readonly string[];
  children: (unread: PartyUnread) => ReactNode;
}

/**
 * The unread counts of the listed parties, for the list on the home page: a client of its own that
 * only reads (a token for reading these parties, see `listTokenSource`), with a database of its own —
 * it must never send the profile's queued messages with that token. Until a client can start (no
 * identity yet, relays unknown) the list shows no counts.
 */
export function PartiesClient({ parties, children }: PartiesClientProps) {
  const [user] = useState(knownUser);
  const [relays, setRelays] = useState<string[]>();
  useEffect(() => {
    let gone = false;
    relayUrls().then(
      (urls) => {
        if (!gone) setRelays(urls);
      },
      () => {}, // no counts: the list works without them
    );
    return () => {
      gone = true;
    };
  }, []);
  const key = parties.join(',');
  const options = useMemo(
    () => (user && relays ? { relays, user, dbName: 'partyline-list', token: listTokenSource(parties, user) } : undefined),
    [user, relays, key], // the parties compared by value
  );
  if (!options || parties.length === 0) return children({});
  return (
    <PartylineProvider key={key} options={options}>
      <Unread>{children}</Unread>
    </PartylineProvider>
  );
}

function Unread({ children }: { children: (unread: PartyUnread) => ReactNode }) {
  const rooms = useUnread();
  const unread = useMemo(() => {
    const byParty: Record<string, number> = {};
    for (const [room, count] of Object.entries(rooms)) if (room.startsWith('party:')) byParty[room.slice('party:'.length)] = count;
    return byParty;
  }, [rooms]);
  return children(unread);
}
