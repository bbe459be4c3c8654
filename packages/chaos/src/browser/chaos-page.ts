// A chaos member in a real browser tab: an SDK client that publishes numbered messages and records
// what its app is handed, read back by the chaos run through `window.chaos`.
import { createClient } from '@partyline/sdk';

const params = new URLSearchParams(location.search);
const name = params.get('name') ?? 'browser';
const roomName = params.get('room') ?? 'room';
const relays = (params.get('relays') ?? '').split(',').filter(Boolean);
const publishEveryMs = Number(params.get('every') ?? 1000);

const client = createClient({
  relays,
  token: async () => (await fetch(`/token?name=${encodeURIComponent(name)}&room=${encodeURIComponent(roomName)}`)).text(),
});
const room = client.room(roomName);
const state = {
  queued: [] as string[],
  failed: [] as string[],
  deliveries: [[]] as { seq: number; id: string }[][],
  resets: 0,
  publishing: true,
  async pendingCount(): Promise<number> {
    return (await room.pending()).length;
  },
};
room.on('message', ({ seq, id }) => state.deliveries.at(-1)!.push({ seq, id }));
room.on('reset', () => {
  state.resets++;
  state.deliveries.push([]);
});
room.on('status', ({ id, status }) => {
  if (status === 'failed' || status === 'expired') state.failed.push(id);
});
let n = 0;
setInterval(() => {
  if (!state.publishing) return;
  room.publish('chat', { name, n: n++ }).then(
    (handle) => state.queued.push(handle.id),
    () => {},
  );
}, publishEveryMs);
(window as unknown as { chaos: typeof state }).chaos = state;
document.title = 'ready';
