// A chaos member in its own Node process (bundled by ProcessMember, run as a child with an IPC channel):
// an SDK client over a durable IndexedDB (journal file), so a SIGKILL of this process is a real crash.
// It reports what its app is handed to the parent as it happens, and asks the parent for tokens.
import { createClient } from '@partyline/sdk';
import { openDurableIndexedDB } from './durable-indexeddb.js';
import { followPresence, presenceShown, resetEvent, type MemberEvent } from './member-events.js';

export interface ChildConfig {
  name: string;
  room: string;
  relays: string[];
  journal: string;
  publish: boolean;
  publishEveryMs: [number, number];
  /** With presence: enter the room's presence with `{ name, life }`. */
  presenceLife?: number;
}

/** Parent → child. */
export type ChildCommand = { c: 'token'; token: string } | { c: 'pending'; ask: number } | { c: 'presence-shown'; ask: number } | { c: 'stop-publishing' } | { c: 'close' };
/** Child → parent, besides member events. */
export type ChildReport =
  | MemberEvent
  | { t: 'ready' }
  | { t: 'token-request' }
  | { t: 'pending'; ask: number; count: number }
  | { t: 'presence-shown'; ask: number; online: boolean; members: { sub: string; data: unknown }[] }
  | { t: 'closed' };

async function main(): Promise<void> {
  const config = JSON.parse(process.env.CHAOS_MEMBER ?? '{}') as ChildConfig;
  const send = (report: ChildReport) => process.send?.(report);
  const tokenWaiters: ((token: string) => void)[] = [];
  let publishing: ReturnType<typeof setTimeout> | undefined;
  let publish = config.publish;

  const indexedDB = await openDurableIndexedDB(config.journal);
  const client = createClient({
    relays: config.relays,
    token: () =>
      new Promise<string>((resolve) => {
        tokenWaiters.push(resolve);
        send({ t: 'token-request' });
      }),
    indexedDB,
    dbName: `partyline-${config.name}`,
    user: config.name,
  });
  client.on('status', ({ id, status, seq }) => send({ t: 'status', id, status, ...(seq !== undefined ? { seq } : {}), at: Date.now() }));
  const room = client.room(config.room);
  void room.history().then(
    (messages) => send({ t: 'history', messages: messages.map((m) => [m.seq, m.id]) }),
    () => {},
  );
  room.on('message', (message) => send({ t: 'message', seq: message.seq, id: message.id }));
  room.on('reset', (context) => send(resetEvent(context)));
  if (config.presenceLife !== undefined) followPresence(client, room, { name: config.name, life: config.presenceLife }, send);

  let n = 0;
  const schedule = () => {
    if (!publish) return;
    const [min, max] = config.publishEveryMs;
    publishing = setTimeout(() => {
      room.publish('chat', { client: config.name, n: n++ }).then(
        (handle) => send({ t: 'queued', id: handle.id }),
        () => {},
      );
      schedule();
    }, min + Math.random() * (max - min));
  };
  schedule();

  process.on('message', (command: ChildCommand) => {
    switch (command.c) {
      case 'token':
        tokenWaiters.shift()?.(command.token);
        return;
      case 'pending':
        void room.pending().then(
          (entries) => send({ t: 'pending', ask: command.ask, count: entries.length }),
          () => send({ t: 'pending', ask: command.ask, count: -1 }),
        );
        return;
      case 'presence-shown':
        send({ t: 'presence-shown', ask: command.ask, ...presenceShown(client, room) });
        return;
      case 'stop-publishing':
        publish = false;
        clearTimeout(publishing);
        return;
      case 'close':
        // A closed tab or a reload: the SDK closes; what it stored stays in the journal.
        publish = false;
        clearTimeout(publishing);
        void client.close().finally(() => {
          send({ t: 'closed' });
          process.disconnect?.();
          setTimeout(() => process.exit(0), 2000).unref();
        });
        return;
    }
  });
  send({ t: 'ready' });
}

void main().catch((error: unknown) => {
  console.error('chaos member process failed:', error);
  process.exit(1);
});
