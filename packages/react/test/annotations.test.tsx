/**
 * Edits, deletions, reactions and read state through the bindings, against a real relay (in this
 * process, memory store) and real SDK clients rendered in jsdom: useMessages and useMessage show
 * each member the fold (`mine` their own), useReadReceipts follows another member reading,
 * useUnread counts what arrived since this user read and clears when they read. Conditions are
 * waited for, never slept on.
 */
import { cleanup, render, waitFor } from '@testing-library/react';
import type { PartylineClient, ReadPosition, Room } from '@partyline/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PartylineProvider, useMessage, useMessages, useReadReceipts, useRoom, useUnread, type MessagesView, type UnreadCounts, type ViewMessage } from '../src/index.js';
import { closeAllClients, nextRoom, testClient } from './support/clients.js';
import { startRelay, type TestRelay } from './support/relay.js';

interface ChatBody {
  text: string;
}

let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay();
});
afterEach(async () => {
  cleanup();
  await closeAllClients();
});
afterAll(async () => {
  await relay.close();
});

/** What each rendered member saw last, by label. */
interface Seen {
  room: Room;
  view: MessagesView<ChatBody>;
  /** `useMessage` of the watched id. */
  one: ViewMessage<ChatBody> | undefined;
  receipts: readonly ReadPosition[];
  unread: UnreadCounts;
}
const seen = new Map<string, Seen>();
const at = (label: string): Seen => {
  const entry = seen.get(label);
  if (!entry) throw new Error(`${label} has not rendered`);
  return entry;
};

function Member({ label, room: name, watch }: { label: string; room: string; watch: string }) {
  const room = useRoom(name);
  const view = useMessages<ChatBody>(room);
  const one = useMessage<ChatBody>(room, watch);
  const receipts = useReadReceipts(room);
  const unread = useUnread();
  seen.set(label, { room, view, one, receipts, unread });
  return null;
}

async function renderMember(label: string, client: PartylineClient, room: string, watch = '') {
  return render(
    <PartylineProvider client={client}>
      <Member label={label} room={room} watch={watch} />
    </PartylineProvider>,
  );
}

/** The chat lines a member's view shows: text (null once deleted), edited, reactions. */
const lines = (label: string) => at(label).view.messages.map((m) => ({ text: m.deleted ? null : m.body.text, edited: m.edited, reactions: m.reactions }));

describe('folded messages', () => {
  it('shows each member the edit, the reactions (theirs as `mine`) and the deletion, in place; useMessage follows one message', async () => {
    const room = nextRoom('fold');
    const ana = await testClient(relay.url, 'ana');
    const bo = await testClient(relay.url, 'bo');
    const { id, sent } = await ana.room(room).publish('chat', { text: 'I bring the cake' });
    const { seq } = await sent;
    await renderMember('ana', ana, room, id);
    await renderMember('bo', bo, room, id);
    await waitFor(() => expect(at('bo').view.messages).toHaveLength(1));

    await (await at('bo').room.react(id, '🎉')).sent;
    await (await at('ana').room.react(id, '🎉')).sent;
    await (await at('ana').room.edit(id, { text: 'I bring the big cake' })).sent;
    const edited = { text: 'I bring the big cake', edited: true };
    await waitFor(() => expect(lines('ana')).toEqual([{ ...edited, reactions: { '🎉': { count: 2, mine: true } } }]));
    await waitFor(() => expect(lines('bo')).toEqual([{ ...edited, reactions: { '🎉': { count: 2, mine: true } } }]));
    await (await at('bo').room.unreact(id, '🎉')).sent;
    await waitFor(() => expect(lines('bo')).toEqual([{ ...edited, reactions: { '🎉': { count: 1, mine: false } } }]));
    expect(at('bo').one).toBe(at('bo').view.messages[0]);
    // The edits and reactions are in the view as annotations, not as messages.
    expect(at('bo').view.annotations.map((a) => a.type)).toEqual(['pl:react', 'pl:react', 'pl:edit', 'pl:unreact']);

    await (await at('ana').room.delete(id)).sent;
    await waitFor(() => expect(at('bo').one).toMatchObject({ id, seq, deleted: true, body: null, reactions: {} }));
    expect(lines('ana')).toEqual([{ text: null, edited: true, reactions: {} }]);
  });

  it('opens a late member on the folded history (the relay summaries), not on the bodies as first sent', async () => {
    const room = nextRoom('late');
    const ana = await testClient(relay.url, 'ana');
    const { id, sent } = await ana.room(room).publish('chat', { text: 'typo' });
    await sent;
    await (await ana.room(room).edit(id, { text: 'fixed' })).sent;
    await (await ana.room(room).react(id, '👍')).sent;
    const cy = await testClient(relay.url, 'cy');
    await renderMember('cy', cy, room, id);
    await waitFor(() => expect(lines('cy')).toEqual([{ text: 'fixed', edited: true, reactions: { '👍': { count: 1, mine: false } } }]));
    expect(at('cy').one?.body).toEqual({ text: 'fixed' });
  });
});

describe('read state', () => {
  it('useReadReceipts sees another member read; useUnread counts what came since this user read, and clears when they read', async () => {
    const room = nextRoom('read');
    const ana = await testClient(relay.url, 'ana');
    const bo = await testClient(relay.url, 'bo');
    await renderMember('ana', ana, room);
    await renderMember('bo', bo, room);
    // Bo posts: the room is his (the relay counts his unread there) and he has read it so far.
    const { sent } = await at('bo').room.publish('chat', { text: 'anyone?' });
    const first = await sent;
    await waitFor(() => expect(at('ana').receipts).toContainEqual({ sub: 'bo', seq: first.seq }));

    for (const text of ['me!', 'and me']) await (await at('ana').room.publish('chat', { text })).sent;
    await waitFor(() => expect(at('bo').unread[room]).toBe(2));

    await waitFor(() => expect(at('bo').view.messages).toHaveLength(3));
    await at('bo').room.markRead();
    await waitFor(() => expect(at('bo').unread[room]).toBe(0));
    const head = at('bo').view.messages.at(-1)!.seq;
    await waitFor(() => expect(at('ana').receipts).toContainEqual({ sub: 'bo', seq: head }));
    // Furthest first: Ana read her own posts.
    expect(at('ana').receipts.map((r) => r.seq)).toEqual([...at('ana').receipts.map((r) => r.seq)].sort((a, b) => b - a));
  });
});
