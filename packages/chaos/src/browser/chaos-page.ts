// A chaos member in a real browser tab: an SDK client that publishes numbered messages (and annotates,
// see annotation-traffic.ts) and reports
// what its app is handed — history() at open, then every event — to the chaos run as it happens,
// through a page binding (`chaosRecord`), so a crashed tab's record is not lost with it.
import { createClient } from '@partyline/sdk';
import { memberTraffic } from '../annotation-traffic.js';
import { followPresence, foldedLook, presenceShown, resetEvent, statusEvent, type MemberEvent } from '../member-events.js';

const params = new URLSearchParams(location.search);
const name = params.get('name') ?? 'browser';
const roomName = params.get('room') ?? 'room';
const relays = (params.get('relays') ?? '').split(',').filter(Boolean);
const publishEveryMs = Number(params.get('every') ?? 1000);
const annotations = Number(params.get('annotations') ?? 0);
/** One id per page load: the run starts a new session for it. */
const session = crypto.randomUUID();
const report = (event: MemberEvent) => void (window as unknown as { chaosRecord(session: string, event: MemberEvent): Promise<void> }).chaosRecord(session, event);

const client = createClient({
  relays,
  user: name,
  token: async () => (await fetch(`/token?name=${encodeURIComponent(name)}&room=${encodeURIComponent(roomName)}`)).text(),
});
client.on('status', (context) => report(statusEvent(context)));
const room = client.room(roomName);
void room.history().then(
  (messages) => report({ t: 'history', messages: messages.map((m) => [m.seq, m.id]) }),
  () => {},
);
room.on('message', ({ seq, id }) => report({ t: 'message', seq, id }));
room.on('reset', (context) => report(resetEvent(context)));
const presenceLife = params.get('presence');
if (presenceLife) followPresence(client, room, { name, life: Number(presenceLife) }, report);

const state = {
  publishing: params.get('publish') !== '0',
  async pendingCount(): Promise<number> {
    return (await room.pending()).length;
  },
  presenceShown: () => presenceShown(client, room),
  foldedLook: () => foldedLook(room),
};
const traffic = memberTraffic({ room, name, user: name, annotations, random: Math.random, report });
setInterval(() => {
  if (state.publishing) traffic.act();
}, publishEveryMs);
(window as unknown as { chaos: typeof state }).chaos = state;
document.title = 'ready';
