// The test page: starts an SDK client from the URL's query and records what the app would see.
import { createClient, type PartylineClient, type Room } from '../../src/index.js';

interface Received {
  seq: number;
  id: string;
  sender: string;
  body: unknown;
}

const params = new URLSearchParams(location.search);
const relays = (params.get('relays') ?? '').split(',').filter(Boolean);
const roomName = params.get('room') ?? 'room';
const sub = params.get('sub') ?? 'someone';
// `tokenFails`: a tab whose token endpoint is broken (it can never connect, or send).
const tokenFails = params.has('tokenFails');
let tokenRequests = 0;

const client: PartylineClient = createClient({
  relays,
  token: async () => {
    tokenRequests++;
    if (tokenFails) throw new Error('token endpoint down (test)');
    const response = await fetch(`/token?sub=${encodeURIComponent(sub)}`);
    if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
    return response.text();
  },
  retryDelay: (attempt) => Math.min(100 * attempt, 1000),
  ...(params.get('pageSize') ? { pageSize: Number(params.get('pageSize')) } : {}),
  ...(params.get('inboxMaxBytes') ? { inboxMaxBytes: Number(params.get('inboxMaxBytes')) } : {}),
});
// `last`: open the room with a history window (`from: { last }`) instead of from the beginning.
const last = params.get('last');
const room: Room = client.room(roomName, last ? { from: { last: Number(last) } } : {});
const received: Received[] = [];
const statuses: { id: string; status: string; seq?: number }[] = [];
const resets: unknown[] = [];
const states: string[] = [];
/**
 * This tab's app view as the receive contract defines it: history() at open, then every message event;
 * with a window, `older` holds what loadOlder() answered (each page prepended, as a chat would).
 */
const view = { older: [] as { seq: number; id: string }[], history: [] as { seq: number; id: string }[], events: [] as { seq: number; id: string }[], opened: false };
room.on('message', ({ seq, id, sender, body }) => {
  received.push({ seq, id, sender, body });
  view.events.push({ seq, id });
});
const opened = room.history().then((messages) => {
  view.history = messages.map(({ seq, id }) => ({ seq, id }));
  view.opened = true;
});
room.on('status', ({ id, status, seq }) => statuses.push(seq === undefined ? { id, status } : { id, status, seq }));
room.on('reset', (reset) => resets.push(reset));
client.on('state', ({ state }) => states.push(state));
const errors: string[] = [];
client.on('error', ({ error }) => errors.push(`${error.kind}: ${error.message}`));
room.on('error', ({ error }) => errors.push(`room ${error.kind}: ${error.message}`));

const harness = {
  client,
  room,
  received,
  view,
  statuses,
  resets,
  states,
  errors,
  tokenRequests: () => tokenRequests,
  state: () => client.state,
  /** Publishes `count` messages one after another (each resolves once in the outbox); answers their ids. */
  async publishMany(count: number, tag: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 1; i <= count; i++) ids.push((await room.publish('chat', { tag, i })).id);
    return ids;
  },
  /** One `room.loadOlder(limit)`, prepended to the view's `older` part; answers what it found. */
  async loadOlder(limit: number): Promise<{ count: number; first?: number; last?: number; hasMore: boolean }> {
    const { messages, hasMore } = await room.loadOlder(limit);
    view.older.unshift(...messages.map(({ seq, id }) => ({ seq, id })));
    return { count: messages.length, ...(messages.length > 0 ? { first: messages[0]!.seq, last: messages.at(-1)!.seq } : {}), hasMore };
  },
  pendingIds: async () => (await room.pending()).map((entry) => entry.id),
  historyIds: async () => (await room.history()).map((message) => message.id),
};
(window as unknown as { pl: typeof harness }).pl = harness;
void opened.then(() => (document.title = 'ready'));
