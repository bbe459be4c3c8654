/**
 * The React bindings against a real relay (in this process, memory store) and real SDK clients,
 * rendered in jsdom: StrictMode joins a room once, unmounting releases rooms, listeners and an
 * owned client, useMessages is the exact view across offline → online for the sender and another
 * member, usePresence follows another client entering and leaving. Conditions are waited for,
 * never slept on.
 */
import { StrictMode, useEffect } from 'react';
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { createManualOnlineManager, Room, type PartylineClient, type PublishHandle, type RoomMember } from '@partyline/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  PartylineProvider,
  useClient,
  useConnectionState,
  useMessages,
  usePending,
  usePresence,
  usePublish,
  useRoom,
  type MessagesView,
  type OwnMessage,
} from '../src/index.js';
import { clientOptions, closeAllClients, nextRoom, testClient } from './support/clients.js';
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
  vi.restoreAllMocks();
  await closeAllClients();
});
afterAll(async () => {
  await relay.close();
});

/** What each rendered member saw last, by label. */
interface Seen {
  view: MessagesView<ChatBody>;
  pending: readonly OwnMessage<ChatBody>[];
  publish: (type: string, body: ChatBody) => Promise<PublishHandle>;
  /** Every publish function the hook returned (one, if it is stable). */
  publishers: Set<unknown>;
  members: readonly RoomMember<{ name: string }>[];
  state: string;
  room: Room;
  client: PartylineClient;
}
const seen = new Map<string, Seen>();
const at = (label: string): Seen => {
  const entry = seen.get(label);
  if (!entry) throw new Error(`${label} has not rendered`);
  return entry;
};
const texts = (label: string) => at(label).view.messages.map((message) => (message.deleted ? null : message.body.text));
const ownStatuses = (label: string) => at(label).pending.map((message) => `${message.status}:${message.body.text}`);

/** A chat member using every hook; records what they returned. */
function Member({ label, room: name, enter }: { label: string; room: string; enter?: { name: string } }) {
  const client = useClient();
  const room = useRoom(name);
  const view = useMessages<ChatBody>(room);
  const pending = usePending<ChatBody>(room);
  const publish = usePublish<ChatBody>(room);
  const members = usePresence<{ name: string }>(room, enter);
  const state = useConnectionState();
  const publishers = seen.get(label)?.publishers ?? new Set();
  publishers.add(publish);
  seen.set(label, { view, pending, publish, publishers, members, state, room, client });
  return (
    <section aria-label={label}>
      <p>{`${label}: ${state}, ${view.ready ? 'ready' : 'opening'}`}</p>
      <ul>
        {view.messages.map((message) => (
          <li key={message.id}>{`#${message.seq} ${message.sender}: ${message.deleted ? '(deleted)' : message.body.text}`}</li>
        ))}
        {pending.map((message) => (
          <li key={message.id}>{`${message.status}: ${message.body.text}`}</li>
        ))}
      </ul>
    </section>
  );
}

/** A live count of subscriptions: `track` wraps an unsubscribe so that calling it (once) counts down. */
function listenerCounter(): { track(off: () => void): () => void; active(): number } {
  let active = 0;
  return {
    track(off) {
      active++;
      let removed = false;
      return () => {
        if (!removed) active--;
        removed = true;
        off();
      };
    },
    active: () => active,
  };
}

/** Counts the listeners added with `Room.prototype.on` (by any room) and not yet removed. */
function countRoomListeners(): () => number {
  const counter = listenerCounter();
  const on = Room.prototype.on;
  vi.spyOn(Room.prototype, 'on').mockImplementation(function (this: Room, event, listener) {
    return counter.track(on.call(this, event, listener as never));
  });
  return counter.active;
}

/** Counts the listeners added with `client.on` and not yet removed. */
function countClientListeners(client: PartylineClient): () => number {
  const counter = listenerCounter();
  const on = client.on.bind(client);
  client.on = (event, listener) => counter.track(on(event, listener));
  return counter.active;
}

describe('useRoom', () => {
  it('joins once under StrictMode: the double mount reuses the same joined room', async () => {
    const name = nextRoom('strict');
    const client = await testClient(relay.url, 'ana');
    const opened = vi.spyOn(client, 'room');
    render(
      <StrictMode>
        <PartylineProvider client={client}>
          <Member label="ana" room={name} />
        </PartylineProvider>
      </StrictMode>,
    );
    await screen.findByText('ana: online, ready');
    await waitFor(() => expect(relay.count('room:join', name)).toBe(1));

    // A round trip through the relay after anything the mounts sent: a second join would be in by then.
    await act(() => at('ana').publish('chat', { text: 'one join' }));
    await screen.findByText('#1 ana: one join');
    expect(relay.count('room:join', name)).toBe(1);
    expect(relay.count('room:leave', name)).toBe(0);
    expect(new Set(opened.mock.results.map((result) => result.value)).size).toBe(1);
    expect(at('ana').publishers.size).toBe(1); // usePublish is stable across renders
  });

  it('releases everything on unmount: the room is left, no listener stays, a given client stays open', async () => {
    const name = nextRoom('unmount');
    const client = await testClient(relay.url, 'ben');
    // Connected first: an enter made while connecting is sent on connect and again by the SDK's own re-enter.
    await waitFor(() => expect(client.state).toBe('online'));
    const roomListeners = countRoomListeners();
    const clientListeners = countClientListeners(client);
    const view = render(
      <StrictMode>
        <PartylineProvider client={client}>
          <Member label="ben" room={name} enter={{ name: 'Ben' }} />
        </PartylineProvider>
      </StrictMode>,
    );
    await screen.findByText('ben: online, ready');
    await waitFor(() => expect(at('ben').members.map((member) => member.sub)).toEqual(['ben']));
    expect(roomListeners()).toBeGreaterThan(0);
    expect(clientListeners()).toBeGreaterThan(0);
    // StrictMode's unmount + remount neither left nor entered twice.
    expect(relay.count('presence:enter', name, 'ben')).toBe(1);
    expect(relay.count('presence:leave', name, 'ben')).toBe(0);
    const room = at('ben').room;
    const leave = vi.spyOn(room, 'leave');

    view.unmount();
    await waitFor(() => expect(leave).toHaveBeenCalledTimes(1));
    expect(roomListeners()).toBe(0);
    expect(clientListeners()).toBe(0);
    await waitFor(() => expect(relay.count('room:leave', name, 'ben')).toBe(1));
    expect(relay.count('room:join', name, 'ben')).toBe(1);
    expect(client.state).toBe('online');
    // Mounting again opens the room afresh (the left one is gone from the client).
    render(
      <PartylineProvider client={client}>
        <Member label="ben again" room={name} />
      </PartylineProvider>,
    );
    await screen.findByText('ben again: online, ready');
    expect(at('ben again').room).not.toBe(room);
  });
});

describe('PartylineProvider', () => {
  it('with options: creates one client under StrictMode and closes it on unmount', async () => {
    const name = nextRoom('owned');
    const options = await clientOptions(relay.url, 'cleo');
    const view = render(
      <StrictMode>
        <PartylineProvider options={options}>
          <Member label="cleo" room={name} />
        </PartylineProvider>
      </StrictMode>,
    );
    await screen.findByText('cleo: online, ready');
    const client = at('cleo').client;
    expect(relay.connections.filter((connection) => connection.sub === 'cleo')).toHaveLength(1);
    // `ready` may come from the (empty) cache before the join has reached the relay; both mounts' joins
    // would leave together when the socket connects, so once one is there a second would be too.
    await waitFor(() => expect(relay.count('room:join', name, 'cleo')).toBeGreaterThan(0));
    expect(relay.count('room:join', name, 'cleo')).toBe(1);

    view.unmount();
    await waitFor(() => expect(relay.connections.filter((connection) => connection.sub === 'cleo' && connection.open)).toHaveLength(0));
    expect(client.state).toBe('offline');
    expect(() => client.room('another-room')).toThrow(/closed/);
    expect(relay.connections.filter((connection) => connection.sub === 'cleo')).toHaveLength(1);
  });

  it('refuses hooks outside a provider', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {}); // React reports the render error too
    expect(() => render(<Member label="nobody" room="anywhere" />)).toThrow(/PartylineProvider/);
  });
});

describe('useMessages', () => {
  it('offline → online: pending while offline, then every message exactly once, in log order, at the sender and another member', async () => {
    const name = nextRoom('offline');
    const network = createManualOnlineManager(false);
    const dana = await testClient(relay.url, 'dana', { onlineManager: network });
    const eli = await testClient(relay.url, 'eli');
    render(
      <>
        <PartylineProvider client={dana}>
          <Member label="dana" room={name} />
        </PartylineProvider>
        <PartylineProvider client={eli}>
          <Member label="eli" room={name} />
        </PartylineProvider>
      </>,
    );
    await screen.findByText('dana: offline, ready');
    await screen.findByText('eli: online, ready');

    // Offline: three messages wait in dana's outbox, shown as pending, not in the view.
    for (const text of ['d1', 'd2', 'd3']) await act(() => at('dana').publish('chat', { text }));
    await waitFor(() => expect(ownStatuses('dana')).toEqual(['pending:d1', 'pending:d2', 'pending:d3']));
    expect(at('dana').pending.map((message) => message.attempts)).toEqual([0, 0, 0]);
    expect(texts('dana')).toEqual([]);
    await screen.findByText('pending: d3');

    // Meanwhile eli, online, posts: dana does not see it yet.
    await act(() => at('eli').publish('chat', { text: 'e1' }));
    await waitFor(() => expect(texts('eli')).toEqual(['e1']));
    expect(texts('dana')).toEqual([]);
    expect(ownStatuses('eli')).toEqual([]);

    // Back online: one copy of each, in one order, for both; nothing left pending.
    act(() => network.setOnline(true));
    const log = ['e1', 'd1', 'd2', 'd3'];
    await waitFor(() => expect(texts('dana')).toEqual(log));
    await waitFor(() => expect(texts('eli')).toEqual(log));
    await waitFor(() => expect(ownStatuses('dana')).toEqual([]));

    // A last message through the relay: a late duplicate or gap would show before it.
    await act(() => at('eli').publish('chat', { text: 'end' }));
    await waitFor(() => expect(texts('dana')).toEqual([...log, 'end']));
    await waitFor(() => expect(texts('eli')).toEqual([...log, 'end']));
    for (const label of ['dana', 'eli']) {
      expect(at(label).view.messages.map((message) => message.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(at(label).view.messages.map((message) => message.sender)).toEqual(['eli', 'dana', 'dana', 'dana', 'eli']);
      expect(at(label).view.reset).toBeUndefined();
    }
    expect(at('dana').view.messages.map((message) => message.id)).toEqual(at('eli').view.messages.map((message) => message.id));
    expect(ownStatuses('dana')).toEqual([]);
    expect(await at('dana').room.pending()).toEqual([]);
    expect(relay.count('room:join', name, 'dana')).toBe(1);
  });

  it('opens with the history so far (a late mount), then continues it exactly', async () => {
    const name = nextRoom('late');
    const fay = await testClient(relay.url, 'fay');
    const room = fay.room(name);
    for (const text of ['h1', 'h2']) await (await room.publish('chat', { text })).sent;
    render(
      <PartylineProvider client={fay}>
        <Member label="fay" room={name} />
      </PartylineProvider>,
    );
    await waitFor(() => expect(texts('fay')).toEqual(['h1', 'h2']));
    await act(() => at('fay').publish('chat', { text: 'h3' }));
    await waitFor(() => expect(texts('fay')).toEqual(['h1', 'h2', 'h3']));
    expect(at('fay').view.messages.map((message) => message.seq)).toEqual([1, 2, 3]);
  });

  it('keeps the snapshot the same object while nothing changes', async () => {
    const name = nextRoom('stable');
    const gus = await testClient(relay.url, 'gus');
    const renders: MessagesView[] = [];
    function Watch() {
      const view = useMessages(useRoom(name));
      useEffect(() => void renders.push(view));
      return <p>{view.ready ? 'ready' : 'opening'}</p>;
    }
    const view = render(
      <PartylineProvider client={gus}>
        <Watch />
      </PartylineProvider>,
    );
    await screen.findByText('ready');
    const settled = renders.at(-1);
    view.rerender(
      <PartylineProvider client={gus}>
        <Watch />
      </PartylineProvider>,
    );
    expect(renders.at(-1)).toBe(settled);
  });

  it('types message bodies with a generic', () => {
    // Compile-time checks (`npm run typecheck` in this package); nothing to run.
    const check = (room: Room) => {
      const { messages, pending } = useMessages<ChatBody>(room);
      const first = messages[0]!;
      // A deleted message has no body: `deleted` tells them apart.
      if (first.deleted) expectTypeOf(first.body).toEqualTypeOf<null>();
      else expectTypeOf(first.body).toEqualTypeOf<ChatBody>();
      expectTypeOf(pending[0]!.body).toEqualTypeOf<ChatBody>();
      const publish = usePublish<ChatBody>(room);
      void publish('chat', { text: 'typed' });
      // @ts-expect-error a body of another shape does not compile
      void publish('chat', { txt: 'typo' });
      expectTypeOf(usePresence<{ name: string }>(room)[0]!.data).toEqualTypeOf<{ name: string } | undefined>();
    };
    expect(typeof check).toBe('function');
  });
});

describe('usePresence', () => {
  it('sees another client enter (with its data, then updated) and leave', async () => {
    const name = nextRoom('presence');
    const hana = await testClient(relay.url, 'hana');
    const ivan = await testClient(relay.url, 'ivan');
    render(
      <PartylineProvider client={hana}>
        <Member label="hana" room={name} enter={{ name: 'Hana' }} />
      </PartylineProvider>,
    );
    const subs = () => at('hana').members.map((member) => member.sub).sort();
    await waitFor(() => expect(subs()).toEqual(['hana']));

    const other = render(
      <PartylineProvider client={ivan}>
        <Member label="ivan" room={name} enter={{ name: 'Ivan' }} />
      </PartylineProvider>,
    );
    await waitFor(() => expect(subs()).toEqual(['hana', 'ivan']));
    expect(at('hana').members.find((member) => member.sub === 'ivan')?.data).toEqual({ name: 'Ivan' });

    other.rerender(
      <PartylineProvider client={ivan}>
        <Member label="ivan" room={name} enter={{ name: 'Ivan the Great' }} />
      </PartylineProvider>,
    );
    await waitFor(() => expect(at('hana').members.find((member) => member.sub === 'ivan')?.data).toEqual({ name: 'Ivan the Great' }));

    other.unmount();
    await waitFor(() => expect(subs()).toEqual(['hana']));
    expect(ivan.state).toBe('online'); // left the room, not the relay
  });
});
