// The polling-fallback test page: one client with the long-polling fallback, its room's messages recorded.
import { createClient } from '../../src/index.js';
import { pollingFallback } from '../../src/polling-fallback.js';

const params = new URLSearchParams(location.search);
const sub = params.get('sub') ?? 'someone';
const client = createClient({
  relays: [params.get('relay') ?? ''],
  token: async () => (await fetch(`/token?sub=${encodeURIComponent(sub)}`)).text(),
  retryDelay: (attempt) => Math.min(100 * attempt, 1000),
  transport: pollingFallback(),
});
const room = client.room(params.get('room') ?? 'room');
const received: { seq: number; sender: string; body: unknown }[] = [];
room.on('message', ({ seq, sender, body }) => received.push({ seq, sender, body }));

Object.assign(window, {
  pl: {
    received,
    state: () => client.state,
    publish: async (body: unknown) => (await room.publish('chat', body)).sent,
  },
});
document.title = 'ready';
