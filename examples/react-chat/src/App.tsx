import { PartylineProvider, useConnectionReason, useConnectionState, useMessages, usePresence, usePublish, useRoom } from '@partyline/react';
import { useState } from 'react';
import { relays } from './config';

type Chat = { text: string };

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
  const { messages, pending, ready } = useMessages<Chat>(room);
  const publish = usePublish<Chat>(room);
  const here = usePresence<{ name: string }>(room, { name: me });
  const [draft, setDraft] = useState('');
  // publish() rejects only when the message could not even be queued (e.g. invalid, or storage full).
  const [notQueued, setNotQueued] = useState<string>();
  if (!ready) return <p>Opening…</p>;
  return (
    <section>
      <p>Here: {here.map((member) => member.data?.name ?? member.sub).join(', ')}</p>
      <ul aria-label="Messages">
        {messages.map((message) => (
          <li key={message.id}>
            {message.sender}: {message.body.text}
          </li>
        ))}
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
