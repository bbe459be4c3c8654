import { createClient, type RoomMember } from '@partyline/sdk';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { friendsHere, type FriendHere, type HereData } from '../state/here-now.js';
import { applyPending, displayName, type PartyEvent, type PartyState } from '../state/party-state.js';
import { applyTyping, expireTyping, nextTypingExpiry, NO_ONE_TYPING, parseTypingSignal, type TypingState } from '../state/typing.js';
import { identify, knownUser, recentParties, relayUrls, TokenRequestError, tokenSource } from './identity.js';
import { EMPTY_FOLD, exposeView, PartyView, type FoldedLog } from './party-view.js';

export type ConnectionState = 'connecting' | 'online' | 'offline';
/** What the friend sees next to each of their own messages and changes. */
export type OwnStatus = 'pending' | 'sent' | 'failed';

type Client = ReturnType<typeof createClient>;
type Room = ReturnType<Client['room']>;

export interface PartyRoom {
  /** This browser's user id (the `sub` of its tokens), as the server gave it; undefined until known. */
  me: string | undefined;
  state: PartyState;
  connection: ConnectionState;
  /** Own messages still in the outbox. */
  queued: number;
  statusOf(id: string): OwnStatus | undefined;
  /** Why an own message failed, when it did. */
  failureOf(id: string): string | undefined;
  /** The other friends in the party now, as the relays keep the room's presence (`room.presence` of the SDK). */
  friendsHere: FriendHere[];
  /** Who is typing (ephemeral signals). */
  typing: TypingState;
  /** Set when the party's history could not be continued as it was (the SDK's `reset`). */
  resetNotice: string | undefined;
  /** Set when an own change to another party left the outbox unsent (failed or expired). */
  elsewhereNotice: string | undefined;
  /** A fatal problem: no relays configured, no access to this party. */
  problem: string | undefined;
  ready: boolean;
  publish(type: string, body: Record<string, unknown>): Promise<void>;
  /** Tells the friends here that this one is typing (best effort). */
  signalTyping(name: string): void;
}

/** Signals and presence are best effort (a signal may drop while offline or rate-limited); nothing to report. */
function quietly(promise: Promise<unknown>): void {
  promise.catch(() => undefined);
}

/** What to tell the friend when the server would not say who they are. */
function identityProblem(error: unknown): string {
  if (error instanceof TokenRequestError && error.status === 429) {
    const minutes = Math.max(1, Math.ceil((error.retryAfterMs ?? 60_000) / 60_000));
    return `Too many new guests from your network right now. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
  }
  return 'Could not reach the party server to sign you in. Check your connection; this page tries again by itself.';
}

/**
 * One party room through the SDK, as this browser's identity (the server's to give: learned with
 * the first token, remembered for offline starts, see `identity.ts`): this tab's view of the log
 * (`history()` at open, then every `message` event, each once and in seq order — folded as it
 * comes, see `PartyView`), this profile's outbox, statuses, who is here (the room's presence, kept
 * by the relays: entered with `{ name }` once the friend has a name) and typing signals.
 */
export function useParty(party: string, name: string): PartyRoom {
  const [user, setUser] = useState<string | undefined>(knownUser);
  const [folded, setFolded] = useState<FoldedLog>(EMPTY_FOLD);
  const [pending, setPending] = useState<PartyEvent[]>([]);
  // Own messages that left the outbox (acked) but whose log copy has not been delivered yet:
  // kept on screen in between, so nothing flickers away.
  const [inFlight, setInFlight] = useState<PartyEvent[]>([]);
  const refreshRef = useRef<() => Promise<void>>(async () => undefined);
  const [failed, setFailed] = useState<Map<string, { event: PartyEvent; reason: string }>>(new Map());
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  // The room's presence members as the SDK last reported them (one per friend, however many tabs).
  const [members, setMembers] = useState<readonly RoomMember[]>([]);
  const [typing, setTyping] = useState<TypingState>(NO_ONE_TYPING);
  const [resetNotice, setResetNotice] = useState<string>();
  const [elsewhereNotice, setElsewhereNotice] = useState<string>();
  const [problem, setProblem] = useState<string>();
  const [ready, setReady] = useState(false);
  const roomRef = useRef<Room | undefined>(undefined);
  /** The name this room's presence was entered with, once entered. */
  const enteredRef = useRef<string | undefined>(undefined);

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

  useEffect(() => {
    if (user === undefined) return;
    const me = user; // narrowed, for the functions below
    let closed = false;
    let client: Client | undefined;
    const roomName = `party:${party}`;
    const view = new PartyView(roomName);

    /** After the view changed: show it, and drop acked own messages whose log copy is now in it. */
    const viewChanged = () => {
      setFolded(view.folded);
      setInFlight((previous) => (previous.some((event) => view.has(event.id)) ? previous.filter((event) => !view.has(event.id)) : previous));
    };

    const toEvent = (message: { id: string; type: string; body: unknown; sender?: string; seq?: number; ts?: number }): PartyEvent => ({
      id: message.id,
      type: message.type,
      body: message.body,
      sender: message.sender ?? me,
      seq: message.seq,
      ts: message.ts,
    });

    async function refreshPending(room: Room) {
      const entries = (await room.pending()).map((entry) => toEvent({ ...entry, sender: me }));
      if (closed) return;
      const still = new Set(entries.map((entry) => entry.id));
      const left = pendingRef.current.filter((event) => !still.has(event.id) && !view.has(event.id));
      if (left.length > 0) setInFlight((previous) => [...previous.filter((event) => !left.some((gone) => gone.id === event.id)), ...left]);
      pendingRef.current = entries;
      setPending(entries);
    }

    async function start() {
      let relays: string[];
      try {
        relays = await relayUrls();
      } catch {
        setProblem('Could not reach the party server to find a relay. Check your connection and reload.');
        return;
      }
      if (closed) return;
      // `user` binds queued messages to this profile's identity (the `sub` of its tokens), also before any token is fetched.
      // Should the server now say this browser is someone else, the party reopens as them.
      const otherUser = (other: string) => {
        if (!closed) setUser(other);
      };
      client = createClient({ relays, token: tokenSource(party, me, otherUser), user: me });
      const room = client.room(roomName);
      roomRef.current = room;
      refreshRef.current = () => refreshPending(room);
      setConnection(client.state);
      exposeView(view);

      client.on('state', (context) => setConnection(context.state));
      // The view: listen first, then history() in the same turn — events continue exactly after its answer.
      room.on('message', (message) => {
        view.message(toEvent(message));
        viewChanged();
      });
      room.on('reset', (context) => {
        view.reset(context);
        viewChanged();
        setResetNotice(
          context.reason === 'trimmed'
            ? `Older messages${context.fromSeq !== undefined ? ` (#${context.fromSeq}–#${context.toSeq ?? '?'})` : ''} left the server before this device read them; the party goes on without them.`
            : `The party's history changed on the server (${context.reason === 'diverged' ? 'some messages were lost' : 'it was reset'}); it was loaded again from there.`,
        );
      });
      const historyAtOpen = room.history();
      room.on('error', (context) => {
        if (context.error.kind === 'forbidden' || context.error.kind === 'unauthorized') setProblem('You do not have access to this party.');
      });
      // Another tab (or an earlier session) of this profile queued something: show it as pending.
      room.on('status', (context) => {
        if (context.status === 'pending') void refreshPending(room);
      });
      // Every settled outbox entry, of any party, whether this tab sent it or not: nothing fails silently.
      client.on('status', (context) => {
        if (context.room !== roomName) {
          if (context.status === 'failed' || context.status === 'expired') {
            const other = recentParties().find((recent) => `party:${recent.id}` === context.room);
            setElsewhereNotice(`A change you made to ${other ? `“${other.title}”` : 'another party'} could not be sent (${context.status === 'expired' ? 'it waited too long' : context.error?.message ?? 'refused'}).`);
          }
          return;
        }
        if (context.status === 'failed' || context.status === 'expired') {
          const reason = context.error?.message ?? (context.status === 'expired' ? 'expired before it could be sent' : 'rejected');
          if (context.error?.kind === 'forbidden' || context.error?.kind === 'unauthorized') {
            setProblem('You do not have access to this party.');
          }
          setFailed((previous) => {
            const next = new Map(previous);
            const event = [...pendingRef.current, ...inFlightRef.current].find((entry) => entry.id === context.id);
            if (event) next.set(context.id, { event, reason });
            return next;
          });
        }
        void refreshPending(room);
      });
      room.on('signal', (context) => {
        const signal = parseTypingSignal(context.sender, context.type, context.body);
        if (!signal || signal.sender === me) return;
        setTyping((previous) => applyTyping(previous, signal, Date.now()));
      });
      // Following the member list starts with the listener; members() holds it between events.
      room.on('presence', (context) => setMembers(context.members));
      setMembers(room.presence.members());

      const history = await historyAtOpen;
      if (closed) return;
      view.open(history.map(toEvent));
      viewChanged();
      await refreshPending(room);
      if (closed) return;
      setReady(true);
    }

    start().catch((error: unknown) => setProblem(`Could not open the party: ${error instanceof Error ? error.message : String(error)}`));

    return () => {
      closed = true;
      roomRef.current = undefined;
      enteredRef.current = undefined;
      // Closing the client also leaves the room's presence (as does pagehide, in the SDK).
      void client?.close().catch(() => undefined);
    };
  }, [party, user]);

  const pendingRef = useRef(pending);
  pendingRef.current = pending;
  const inFlightRef = useRef(inFlight);
  inFlightRef.current = inFlight;

  // Enter the room's presence once this friend has a name (the join form sets it after the room
  // opened); a new name updates it. The SDK enters again by itself after reconnects and failovers.
  useEffect(() => {
    const room = roomRef.current;
    if (!ready || !name || !room || enteredRef.current === name) return;
    const data: HereData = { name };
    quietly(enteredRef.current === undefined ? room.presence.enter(data) : room.presence.update(data));
    enteredRef.current = name;
  }, [ready, name]);

  // Typing fades on its own: re-render when the next one does.
  useEffect(() => {
    const next = nextTypingExpiry(typing);
    if (next === undefined) return;
    const timer = setTimeout(() => setTyping((previous) => expireTyping(previous, Date.now())), Math.max(0, next - Date.now()));
    return () => clearTimeout(timer);
  }, [typing]);

  const overlay = useMemo(() => {
    // Outbox order first (acked ones were queued earlier), one copy per id; failed ones stay visible.
    const byId = new Map<string, PartyEvent>();
    for (const event of [...inFlight, ...pending]) if (!failed.has(event.id)) byId.set(event.id, event);
    for (const { event } of failed.values()) byId.set(event.id, event);
    return [...byId.values()];
  }, [inFlight, pending, failed]);
  // The log is folded once, as it comes (PartyView); only the own queued messages are applied again.
  const state = useMemo(() => applyPending(folded.state, overlay, (id) => folded.senders.has(id)), [folded, overlay]);

  const statuses = useMemo(() => {
    const map = new Map<string, OwnStatus>();
    for (const event of pending) map.set(event.id, 'pending');
    for (const id of failed.keys()) if (!map.has(id)) map.set(id, 'failed');
    for (const event of inFlight) if (!map.has(event.id)) map.set(event.id, 'sent');
    return map;
  }, [pending, failed, inFlight]);
  // An own message in the log is sent, whatever the outbox said last.
  const statusOf = (id: string): OwnStatus | undefined => (folded.senders.get(id) === user ? 'sent' : statuses.get(id));
  // A friend here without a name in their presence data goes by the name they joined the party with.
  const here = useMemo(() => friendsHere(members, user ?? '', (sub) => displayName(state, sub)), [members, user, state]);

  const publish = useCallback(async (type: string, body: Record<string, unknown>) => {
    const room = roomRef.current;
    if (!room) throw new Error('the party is not open yet');
    await room.publish(type, body);
    await refreshRef.current();
  }, []);

  const signalTyping = useCallback((typist: string) => {
    if (roomRef.current) quietly(roomRef.current.signal('typing', { name: typist }));
  }, []);

  return {
    me: user,
    state,
    connection,
    queued: pending.length,
    statusOf,
    failureOf: (id) => failed.get(id)?.reason,
    friendsHere: here,
    typing,
    resetNotice,
    elsewhereNotice,
    problem,
    ready,
    publish,
    signalTyping,
  };
}
