import { useClient, useConnectionState, useMessages, usePresence, usePublish, useReadReceipts, useRoom, type OwnMessage } from '@partyline/react';
import { AnnotationType, isAnnotationType, PartylineErrorKind, type ConnectionState, type PartylineError, type PublishHandle, type ReadPosition, type ResetContext } from '@partyline/sdk';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { chatLog, type ChatLog, type ReactionKey } from '../state/chat-lines.js';
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
  /** The chat: the SDK's folded chat messages (edits, deletions, reactions) with own changes on their way on top. */
  chat: ChatLog;
  /** Highest seq of the view (messages and annotations; 0 = none). */
  lastSeq: number;
  /** How far the members have read, furthest first (`useReadReceipts`). */
  receipts: readonly ReadPosition[];
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
  /** Set when an own edit, deletion or reaction here was refused (e.g. the message was deleted meanwhile). */
  changeNotice: string | undefined;
  /** A fatal problem: no access to this party. */
  problem: string | undefined;
  ready: boolean;
  publish(type: string, body: Record<string, unknown>): Promise<PublishHandle>;
  /** Tells the friends here that this one is typing (best effort). */
  signalTyping(name: string): void;
  /** Replaces the text of an own chat message. */
  editChat(id: string, text: string): void;
  /** Deletes an own chat message. */
  deleteChat(id: string): void;
  /** Adds (`on`) or takes back this friend's reaction `key` on a chat message. */
  react(id: string, key: ReactionKey, on: boolean): void;
  /** Marks the room read up to the newest entry the view holds (never backwards). */
  markRead(): void;
}

const NO_ACCESS = 'You do not have access to this party.';
const refused = (error: PartylineError | undefined) => error?.kind === 'forbidden' || error?.kind === 'unauthorized';

function noticeOf(reset: ResetContext): string {
  return reset.reason === 'trimmed'
    ? `Older messages${reset.fromSeq !== undefined ? ` (#${reset.fromSeq}–#${reset.toSeq ?? '?'})` : ''} left the server before this device read them; the party goes on without them.`
    : `The party's history changed on the server (${reset.reason === 'diverged' ? 'some messages were lost' : 'it was reset'}); it was loaded again from there.`;
}

/** Why the relay refused an own edit, deletion or reaction, in the friend's words. */
function changeRefusal(error: PartylineError | undefined): string {
  switch (error?.kind) {
    case PartylineErrorKind.MessageDeleted:
      return 'the message was deleted meanwhile';
    case PartylineErrorKind.NotFound:
      return 'the message is no longer there';
    case PartylineErrorKind.Forbidden:
      return 'only its author can change a message';
    default:
      return error?.message ?? 'refused';
  }
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
  const [changeNotice, setChangeNotice] = useState<string>();
  const receipts = useReadReceipts(room);

  // The log is folded once, as it comes: each snapshot adds its new messages only. Tests read its raw record.
  const partyView = useMemo(() => new PartyView(room.name), [room]);
  useEffect(() => exposeView(partyView, room), [partyView, room]);
  const folded = useMemo(() => partyView.follow(view), [partyView, view]);

  // Own messages not in the view yet (pending, sent on their way, failed) are applied on top, in publish order.
  const own = view.pending;
  const state = useMemo(
    () => applyPending(folded.state, own.filter(({ type }) => !isAnnotationType(type) && type !== AnnotationType.Read).map(({ id, type, body }) => ({ id, type, body, sender: me })), (id) => folded.senders.has(id)),
    [folded, own, me],
  );
  const chat = useMemo(() => chatLog(view.messages, own, me, (id) => folded.senders.has(id)), [view.messages, own, me, folded]);
  const ownById = useMemo(() => new Map(own.map((message) => [message.id, message])), [own]);
  // Read by the status listener: whether a refused entry was an edit, deletion or reaction (not a lost access).
  const ownNow = useRef(ownById);
  ownNow.current = ownById;

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
      client.on('status', ({ room: other, id, status, error }) => {
        if (status !== 'failed' && status !== 'expired') return;
        if (other === room.name) {
          const type = ownNow.current.get(id)?.type;
          if (type !== undefined && isAnnotationType(type)) setChangeNotice(`A change to a chat message could not be made: ${status === 'expired' ? 'it waited too long' : changeRefusal(error)}.`);
          else if (refused(error)) setProblem(NO_ACCESS);
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
  // Edits, deletions and reactions go through the outbox like messages; a refusal comes as a `status` event (above).
  const editChat = useCallback((id: string, text: string) => void room.edit(id, { text }).catch(() => undefined), [room]);
  const deleteChat = useCallback((id: string) => void room.delete(id).catch(() => undefined), [room]);
  const react = useCallback((id: string, key: ReactionKey, on: boolean) => void (on ? room.react(id, key) : room.unreact(id, key)).catch(() => undefined), [room]);
  const markRead = useCallback(() => void room.markRead().catch(() => undefined), [room]);
  // A friend here without a name in their presence data goes by the name they joined the party with.
  const here = useMemo(() => friendsHere(members, me, (sub) => displayName(state, sub)), [members, me, state]);

  return {
    me,
    state,
    chat,
    lastSeq: folded.lastSeq,
    receipts,
    connection,
    // (Read positions go through the outbox too, but they are no change of the friend's.)
    queued: own.filter((message) => message.status === 'pending' && message.type !== AnnotationType.Read).length,
    // An own message in the log is sent, whatever the outbox said last.
    statusOf: (id) => (folded.senders.get(id) === me ? 'sent' : ownStatus(ownById.get(id))),
    failureOf: (id) => ownFailure(ownById.get(id)),
    friendsHere: here,
    typing,
    resetNotice: view.reset && noticeOf(view.reset),
    elsewhereNotice,
    changeNotice,
    problem,
    ready: view.ready,
    publish,
    signalTyping,
    editChat,
    deleteChat,
    react,
    markRead,
  };
}
