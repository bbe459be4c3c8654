import { useClient, useConnectionState, useMessages, usePresence, usePublish, useRoom, type OwnMessage } from '@partyline/react';
import type { ConnectionState, PartylineError, PublishHandle, ResetContext } from '@partyline/sdk';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { friendsHere, type FriendHere, type HereData } from '../state/here-now.js';
import { applyPending, displayName, type PartyState } from '../state/party-state.js';
import { applyTyping, expireTyping, nextTypingExpiry, NO_ONE_TYPING, parseTypingSignal, type TypingState } from '../state/typing.js';
import { recentParties } from './identity.js';
import { exposeView, PartyView } from './party-view.js';

/** What the friend sees next to each of their own messages and changes. */
export type OwnStatus = 'pending' | 'sent' | 'failed';

export interface PartyRoom {
  /** This browser's user id (the `sub` of its tokens), as the server gave it. */
  me: string;
  state: PartyState;
  connection: ConnectionState;
  /** Own messages still in the outbox. */
  queued: number;
  statusOf(id: string): OwnStatus | undefined;
  /** Why an own message failed, when it did. */
  failureOf(id: string): string | undefined;
  /** The other friends in the party now, as the relays keep the room's presence. */
  friendsHere: FriendHere[];
  /** Who is typing (ephemeral signals). */
  typing: TypingState;
  /** Set when the party's history could not be continued as it was (the SDK's `reset`). */
  resetNotice: string | undefined;
  /** Set when an own change to another party left the outbox unsent (failed or expired). */
  elsewhereNotice: string | undefined;
  /** A fatal problem: no access to this party. */
  problem: string | undefined;
  ready: boolean;
  publish(type: string, body: Record<string, unknown>): Promise<PublishHandle>;
  /** Tells the friends here that this one is typing (best effort). */
  signalTyping(name: string): void;
}

const NO_ACCESS = 'You do not have access to this party.';
const refused = (error: PartylineError | undefined) => error?.kind === 'forbidden' || error?.kind === 'unauthorized';

function noticeOf(reset: ResetContext): string {
  return reset.reason === 'trimmed'
    ? `Older messages${reset.fromSeq !== undefined ? ` (#${reset.fromSeq}–#${reset.toSeq ?? '?'})` : ''} left the server before this device read them; the party goes on without them.`
    : `The party's history changed on the server (${reset.reason === 'diverged' ? 'some messages were lost' : 'it was reset'}); it was loaded again from there.`;
}

/** Own messages the relay refused or that waited too long are shown as failed. */
const ownStatus = (own: OwnMessage | undefined): OwnStatus | undefined => (own?.status === 'expired' ? 'failed' : own?.status);

function ownFailure(own: OwnMessage | undefined): string | undefined {
  if (own?.status !== 'failed' && own?.status !== 'expired') return undefined;
  return own.error?.message ?? (own.status === 'expired' ? 'expired before it could be sent' : 'rejected');
}

/**
 * One party room, through the bindings of the nearest `PartylineProvider` (see `PartyClient`), as
 * `me`: this tab's view of the log (`useMessages`, folded as it grows, see `PartyView`) with own
 * unsent changes on top, who is here (`usePresence`: entered with `{ name }` once the friend has a
 * name), the connection, typing signals, and the refusals the planner tells the friend about.
 */
export function useParty(party: string, me: string, name: string): PartyRoom {
  const client = useClient();
  const room = useRoom(`party:${party}`);
  const view = useMessages(room);
  const publish = usePublish<Record<string, unknown>>(room);
  const connection = useConnectionState();
  // In "Here now" once the friend has a name (the SDK enters again by itself after reconnects and failovers).
  const members = usePresence<HereData>(room, name ? { name } : undefined);
  const [typing, setTyping] = useState<TypingState>(NO_ONE_TYPING);
  const [problem, setProblem] = useState<string>();
  const [elsewhereNotice, setElsewhereNotice] = useState<string>();

  // The log is folded once, as it comes: each snapshot adds its new messages only. Tests read its raw record.
  const partyView = useMemo(() => new PartyView(room.name), [room]);
  useEffect(() => exposeView(partyView), [partyView]);
  const folded = useMemo(() => partyView.follow(view), [partyView, view]);

  // Own messages not in the view yet (pending, sent on their way, failed) are applied on top, in publish order.
  const own = view.pending;
  const state = useMemo(
    () => applyPending(folded.state, own.map(({ id, type, body }) => ({ id, type, body, sender: me })), (id) => folded.senders.has(id)),
    [folded, own, me],
  );
  const ownById = useMemo(() => new Map(own.map((message) => [message.id, message])), [own]);

  useEffect(() => {
    const stops = [
      room.on('signal', ({ sender, type, body }) => {
        const signal = parseTypingSignal(sender, type, body);
        if (signal && signal.sender !== me) setTyping((previous) => applyTyping(previous, signal, Date.now()));
      }),
      room.on('error', ({ error }) => {
        if (refused(error)) setProblem(NO_ACCESS);
      }),
      // Every settled outbox entry of any party, whether this tab sent it or not: nothing fails silently.
      client.on('status', ({ room: other, status, error }) => {
        if (status !== 'failed' && status !== 'expired') return;
        if (other === room.name) {
          if (refused(error)) setProblem(NO_ACCESS);
          return;
        }
        const recent = recentParties().find((each) => `party:${each.id}` === other);
        setElsewhereNotice(`A change you made to ${recent ? `“${recent.title}”` : 'another party'} could not be sent (${status === 'expired' ? 'it waited too long' : error?.message ?? 'refused'}).`);
      }),
    ];
    return () => stops.forEach((stop) => stop());
  }, [client, room, me]);

  // Typing fades on its own: re-render when the next one does.
  useEffect(() => {
    const next = nextTypingExpiry(typing);
    if (next === undefined) return;
    const timer = setTimeout(() => setTyping((previous) => expireTyping(previous, Date.now())), Math.max(0, next - Date.now()));
    return () => clearTimeout(timer);
  }, [typing]);

  const signalTyping = useCallback((typist: string) => void room.signal('typing', { name: typist }).catch(() => undefined), [room]);
  // A friend here without a name in their presence data goes by the name they joined the party with.
  const here = useMemo(() => friendsHere(members, me, (sub) => displayName(state, sub)), [members, me, state]);

  return {
    me,
    state,
    connection,
    queued: own.filter((message) => message.status === 'pending').length,
    // An own message in the log is sent, whatever the outbox said last.
    statusOf: (id) => (folded.senders.get(id) === me ? 'sent' : ownStatus(ownById.get(id))),
    failureOf: (id) => ownFailure(ownById.get(id)),
    friendsHere: here,
    typing,
    resetNotice: view.reset && noticeOf(view.reset),
    elsewhereNotice,
    problem,
    ready: view.ready,
    publish,
    signalTyping,
  };
}
