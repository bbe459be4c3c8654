// A chaos member in its own Node process (bundled by ProcessMember, run as a child with an IPC channel):
// an SDK client over a durable IndexedDB (journal file), so a SIGKILL of this process is a real crash.
// It reports what its app is handed to the parent as it happens, and asks the parent for tokens.
import { createClient } from '@partyline/sdk';
import type { FoldedLook } from './annotation-checker.js';
import { memberTraffic } from './annotation-traffic.js';
import { openDurableIndexedDB } from './durable-indexeddb.js';
import { followPresence, foldedLook, presenceShown, resetEvent, statusEvent, type MemberEvent } from './member-events.js';

export interface ChildConfig {
  name: string;
  /** The token's sub. */
  user: string;
  room: string;
  /** Share of actions that annotate or mark read (see annotation-traffic.ts). */
  annotations: number;
  relays: string[];
  journal: string;
  publish: boolean;
  publishEveryMs: [number, number];
  /** With presence: enter the room's presence with `{ name, life }`. */
  presenceLife?: number;
}

/** Parent → child. */
export type ChildCommand =
  | { c: 'token'; token: string }
  | { c: 'pending'; ask: number }
  | { c: 'presence-shown'; ask: number }
  | { c: 'folded'; ask: number }
  | { c: 'stop-publishing' }
  | { c: 'close' };
/** Child → parent, besides member events. */
export type ChildReport =
  | MemberEvent
  | { t: 'ready' }
  | { t: 'token-request' }
  | { t: 'pending'; ask: number; count: number }
  | { t: 'presence-shown'; ask: number; online: boolean; members: { sub: string; data: unknown }[] }
  | { t: 'folded'; ask: number; look: FoldedLook }
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
    user: config.user,
  });
  client.on('status', (context) => send(statusEvent(context)));
  const room = client.room(config.room);
  void room.history().then(
    (messages) => send({ t: 'history', messages: messages.map((m) => [m.seq, m.id]) }),
    () => {},
  );
  room.on('message', (message) => send({ t: 'message', seq: message.seq, id: message.id }));
  room.on('reset', (context) => send(resetEvent(context)));
  if (config.presenceLife !== undefined) followPresence(client, room, { name: config.name, life: config.presenceLife }, send);

  const traffic = memberTraffic({ room, name: config.name, user: config.user, annotations: config.annotations, random: Math.random, report: send });
  const schedule = () => {
    if (!publish) return;
    const [min, max] = config.publishEveryMs;
    publishing = setTimeout(() => {
      traffic.act();
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
      case 'folded':
        send({ t: 'folded', ask: command.ask, look: foldedLook(room) });
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
