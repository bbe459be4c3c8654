import { PartylineProvider, useConnectionReason, useConnectionState, useErrors, useMessages, usePresence, usePublish, useRoom } from '@partyline/react';
import { useState } from 'react';
import * as v from 'valibot';
import { relays } from './config';

// What a chat body must be. Bodies come from other members (or a backend): one that does not fit is
// listed as `invalid`, in its place, instead of breaking the page.
const Chat = v.object({ text: v.string() });
type Chat = v.InferOutput<typeof Chat>;

const ROOM = 'chat:lobby';

// The token endpoint signs a short-lived access token for the signed-in user (server.js). A refused
// or failed answer is retried by the SDK with backoff; the banner below says why it is not online.
async function token(): Promise<string> {
  const response = await fetch('/api/partyline-token');
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}: ${await response.text()}`);
  return response.text();
}

export function App({ user }: { user: string }) {
  return (
    <PartylineProvider options={{ relays, token, user }}>
      <main>
        <h1>{ROOM}</h1>
        <ConnectionBanner />
        <ChatRoom name={ROOM} me={user} />
      </main>
    </PartylineProvider>
  );
}

function ConnectionBanner() {
  const connection = useConnectionState();
  const reason = useConnectionReason();
  if (connection === 'online') return null;
  return (
    <p role="status">
      {connection}
      {reason ? ` (${reason.kind}: ${reason.message})` : ''} — messages wait in the outbox
    </p>
  );
}

function ChatRoom({ name, me }: { name: string; me: string }) {
  const room = useRoom(name);
  const { messages, invalid, pending, ready } = useMessages(room, { schema: Chat });
  const publish = usePublish<Chat>(room);
  const here = usePresence<{ name: string }>(room, { name: me });
  // The room's own error: `forbidden` when the token does not grant it (cleared once it joins).
  const { room: roomError } = useErrors(room);
  const [draft, setDraft] = useState('');
  // publish() rejects only when the message could not even be queued (e.g. invalid, or storage full).
  const [notQueued, setNotQueued] = useState<string>();
  if (roomError) return <p role="alert">{name}: {roomError.kind}, {roomError.message}</p>;
  if (!ready) return <p>Opening…</p>;
  // A body that fails the schema keeps its place in the log, as a muted line.
  const log = [...messages, ...invalid].sort((a, b) => a.seq - b.seq);
  return (
    <section>
      <p>Here: {here.map((member) => member.data?.name ?? member.sub).join(', ')}</p>
      <ul aria-label="Messages">
        {log.map((message) =>
          'issues' in message ? (
            <li key={message.id} style={{ opacity: 0.5 }}>
              a message could not be shown
            </li>
          ) : (
            <li key={message.id}>
              {message.sender}: {message.deleted ? <i>deleted</i> : message.body.text}
            </li>
          ),
        )}
        {pending.map((message) => (
          <li key={message.id} data-status={message.status}>
            {message.body.text} ({message.status}
            {message.error ? `: ${message.error.kind}, ${message.error.message}` : ''})
          </li>
        ))}
      </ul>
      {notQueued !== undefined && <p role="alert">Not sent: {notQueued}</p>}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (draft.trim() === '') return;
          publish('chat', { text: draft }).then(
            () => setNotQueued(undefined),
            (error: unknown) => setNotQueued(error instanceof Error ? error.message : String(error)),
          );
          setDraft('');
        }}
      >
        <input aria-label="Message" value={draft} onChange={(event) => setDraft(event.target.value)} />
        <button type="submit">Send</button>
      </form>
    </section>
  );
}
