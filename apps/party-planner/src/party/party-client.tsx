import { PartylineProvider } from '@partyline/react';
import { lazy, Suspense, useEffect, useState, type ReactNode } from 'react';
import { identify, knownUser, relayUrls, TokenRequestError, tokenSource } from './identity.js';

/** The devtools panel, behind `?devtools` only: loaded on demand, never part of the main bundle (nor of the offline shell: then it is not shown). */
const Devtools = lazy(() =>
  import('@partyline/react/devtools').then(
    (module) => ({ default: module.PartylineDevtools }),
    () => ({ default: () => null }),
  ),
);
const withDevtools = () => typeof location !== 'undefined' && new URLSearchParams(location.search).has('devtools');

/** What to tell the friend when the server would not say who they are. */
function identityProblem(error: unknown): string {
  if (error instanceof TokenRequestError && error.status === 429) {
    const minutes = Math.max(1, Math.ceil((error.retryAfterMs ?? 60_000) / 60_000));
    return `Too many new guests from your network right now. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
  }
  return 'Could not reach the party server to sign you in. Check your connection; this page tries again by itself.';
}

export interface PartyClientProps {
  party: string;
  /** What shows until the client can start: who this browser is and the relays are not known yet (`problem`: why). */
  opening: (problem: string | undefined) => ReactNode;
  /** The party, inside the client's `PartylineProvider`, as `me` (the server's user id for this browser). */
  children: (me: string) => ReactNode;
}

/**
 * The Partyline client of one party, as this browser's identity. Who that is is the server's to say:
 * learned with the first token answer, remembered for offline starts (see `identity.ts`). Once it
 * and the relays are known, a `PartylineProvider` owns the client (tokens for this party, queued
 * messages bound to `me`); should the server later say this browser is someone else, the party
 * reopens as them (a new provider, a new client).
 */
export function PartyClient({ party, opening, children }: PartyClientProps) {
  const [user, setUser] = useState<string | undefined>(knownUser);
  const [relays, setRelays] = useState<string[]>();
  const [problem, setProblem] = useState<string>();
  const [relaysProblem, setRelaysProblem] = useState<string>();

  useEffect(() => {
    let gone = false;
    relayUrls().then(
      (urls) => {
        if (!gone) setRelays(urls);
      },
      () => {
        if (!gone) setRelaysProblem('Could not reach the party server to find a relay. Check your connection and reload.');
      },
    );
    return () => {
      gone = true;
    };
  }, []);

  // The first visit of this profile: the server says who it is (and sets its cookie). When it cannot
  // be asked, the friend is told why, and it is asked again: when the server said to wait, after that;
  // otherwise when the network is back, or in 15 s.
  const [identifyAttempt, setIdentifyAttempt] = useState(0);
  useEffect(() => {
    if (user !== undefined) return;
    let gone = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const retry = () => {
      if (gone) return;
      setProblem(undefined);
      setIdentifyAttempt((attempt) => attempt + 1);
    };
    identify(party).then(
      (id) => {
        if (!gone) setUser(id);
      },
      (error: unknown) => {
        if (gone) return;
        setProblem(identityProblem(error));
        const asked = error instanceof TokenRequestError ? error.retryAfterMs : undefined;
        timer = setTimeout(retry, asked ?? 15_000);
        if (asked === undefined) window.addEventListener('online', retry, { once: true });
      },
    );
    return () => {
      gone = true;
      clearTimeout(timer);
      window.removeEventListener('online', retry);
    };
  }, [party, user, identifyAttempt]);

  if (user === undefined || relays === undefined) return opening(problem ?? relaysProblem);
  // `user` binds queued messages to this profile's identity (the `sub` of its tokens), also before any token is fetched.
  const options = { relays, user, token: tokenSource(party, user, setUser) };
  return (
    <PartylineProvider key={user} options={options}>
      {children(user)}
      {withDevtools() && (
        <Suspense fallback={null}>
          <Devtools />
        </Suspense>
      )}
    </PartylineProvider>
  );
}
