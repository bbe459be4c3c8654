/**
 * What a stranger adopting the bindings runs into, against a real relay (in this process) rendered in
 * jsdom: useErrors says why nothing happens (a room the token does not grant, a token refused once),
 * useMessages with a Standard Schema keeps rendering when a member published `body: null` over the
 * relay's HTTP API (listed as invalid instead), the provider re-creates its client for other relays
 * or another user and warns once about options it ignores, and room names can be checked up front.
 */
import { Component, type ReactNode } from 'react';
import { cleanup, render, screen, waitFor } from '@testing-library/react';
import type { PartylineClient, PartylineError, StandardSchemaV1 } from '@partyline/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isValidRoomName, PartylineProvider, useClient, useConnectionState, useErrors, useMessages, useRoom } from '../src/index.js';
import { clientOptions, closeAllClients, nextRoom, testClient } from './support/clients.js';
import { signAccessToken } from '@partyline/relay';
import { startRelay, TEST_SECRET, tokenFor, type TestRelay } from './support/relay.js';

interface Chat {
  text: string;
}

/** A hand-written Standard Schema (what valibot, zod and arktype schemas answer to). */
const chatSchema: StandardSchemaV1<unknown, Chat> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value) =>
      typeof value === 'object' && value !== null && typeof (value as { text?: unknown }).text === 'string'
        ? { value: value as Chat }
        : { issues: [{ message: 'expected { text: string }' }] },
  },
};

let relay: TestRelay;
beforeAll(async () => {
  relay = await startRelay();
});
afterEach(async () => {
  cleanup();
  vi.restoreAllMocks();
  await closeAllClients();
});
afterAll(() => relay.close());

/** Publishes one message through the relay's HTTP API as `sub`. */
async function publishOverHttp(room: string, sub: string, body: unknown): Promise<void> {
  const response = await fetch(`${relay.url}/v1/rooms/${room}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await tokenFor(sub)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'chat', body }),
  });
  expect(response.status).toBe(201);
}

/** Shows the errors of the client and of `room`, and the connection state. */
function Errors({ room: name }: { room: string }) {
  const room = useRoom(name);
  const errors = useErrors(room);
  const state = useConnectionState();
  return (
    <>
      <p>{`state: ${state}`}</p>
      <p>{`client error: ${errors.client?.kind ?? 'none'}`}</p>
      <p>{`room error: ${errors.room ? `${errors.room.kind} (${errors.room.message})` : 'none'}`}</p>
    </>
  );
}

describe('useErrors', () => {
  it('shows why a room the token does not grant stays empty: forbidden', async () => {
    const client = await testClient(relay.url, 'gil', { token: await tokenFor('gil', ['party:*']) });
    render(
      <PartylineProvider client={client}>
        <Errors room={nextRoom('secret')} />
      </PartylineProvider>,
    );
    await screen.findByText(/^room error: forbidden/);
    expect(screen.getByText('client error: none')).toBeTruthy();
  });

  it('shows a token refused once, then clears it when online', async () => {
    let asked = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const token = async () => {
      asked++;
      if (asked === 1) return 'not-a-token';
      await released;
      return tokenFor('hana');
    };
    const client = await testClient(relay.url, 'hana', { token });
    render(
      <PartylineProvider client={client}>
        <Errors room={nextRoom('refused-once')} />
      </PartylineProvider>,
    );
    await screen.findByText('client error: unauthorized');
    expect(screen.getByText('state: connecting')).toBeTruthy();
    release();
    await screen.findByText('state: online');
    expect(screen.getByText('client error: none')).toBeTruthy();
    expect(screen.getByText('room error: none')).toBeTruthy();
  });

  it('lists an own message the relay refused, with its error (a read-only token)', async () => {
    const viewer = await signAccessToken({ sub: 'ines', grants: [{ room: '*', can: ['read'] }] }, TEST_SECRET);
    const client = await testClient(relay.url, 'ines', { token: viewer });
    const name = nextRoom('read-only');
    function Refused() {
      const room = useRoom(name);
      const { refused } = useErrors(room);
      return <p>{`refused: ${refused.map((message) => `${(message.body as Chat).text} ${message.status} ${message.error?.kind}`).join(', ') || 'none'}`}</p>;
    }
    render(
      <PartylineProvider client={client}>
        <Refused />
      </PartylineProvider>,
    );
    await screen.findByText('refused: none');
    await client.room(name).publish('chat', { text: 'hello' });
    await screen.findByText('refused: hello failed forbidden');
  });
});

describe('useMessages with a schema', () => {
  function Chat({ room: name }: { room: string }) {
    const room = useRoom(name);
    const { messages, invalid } = useMessages(room, { schema: chatSchema });
    return (
      <>
        <ul>{messages.map((message) => <li key={message.id}>{`${message.seq}: ${message.deleted ? '(deleted)' : message.body.text}`}</li>)}</ul>
        <p>{`invalid: ${invalid.map((message) => `${message.seq} from ${message.sender}`).join(', ')}`}</p>
      </>
    );
  }

  it('keeps rendering when a member published body: null over the HTTP API: it is listed as invalid, in its place', async () => {
    const name = nextRoom('null-body');
    await publishOverHttp(name, 'ivo', { text: 'one' });
    await publishOverHttp(name, 'ivo', null);
    await publishOverHttp(name, 'ivo', { text: 'three' });
    const client = await testClient(relay.url, 'jo');
    render(
      <PartylineProvider client={client}>
        <Chat room={name} />
      </PartylineProvider>,
    );
    await screen.findByText('3: three');
    expect(screen.getByText('1: one')).toBeTruthy();
    expect(screen.getByText('invalid: 2 from ivo')).toBeTruthy();
    // A live one too, after the history.
    await publishOverHttp(name, 'ivo', null);
    await publishOverHttp(name, 'ivo', { text: 'five' });
    await screen.findByText('5: five');
    expect(screen.getByText('invalid: 2 from ivo, 4 from ivo')).toBeTruthy();
    expect(screen.getAllByRole('listitem').map((item) => item.textContent)).toEqual(['1: one', '3: three', '5: five']);
  });
});

describe('PartylineProvider options after mount', () => {
  it('re-creates the client for another user, keeps it (warning once) for other changes', async () => {
    const clients: PartylineClient[] = [];
    function Probe() {
      const client = useClient();
      if (clients.at(-1) !== client) clients.push(client);
      return <p>{`clients: ${clients.length}`}</p>;
    }
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const kim = await clientOptions(relay.url, 'kim');
    const view = render(<PartylineProvider options={kim}><Probe /></PartylineProvider>);
    await screen.findByText('clients: 1');
    // A new options object with the same relays and user, another ack timeout and an inline token function.
    view.rerender(<PartylineProvider options={{ ...kim, relays: [...kim.relays], ackTimeoutMs: 5000, token: async () => tokenFor('kim') }}><Probe /></PartylineProvider>);
    view.rerender(<PartylineProvider options={{ ...kim, ackTimeoutMs: 6000 }}><Probe /></PartylineProvider>);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/ackTimeoutMs.*ignored/);
    expect(clients).toHaveLength(1);

    const lea = await clientOptions(relay.url, 'lea', { user: 'lea' });
    view.rerender(<PartylineProvider options={lea}><Probe /></PartylineProvider>);
    await screen.findByText('clients: 2');
    await waitFor(() => expect(clients[0]!.state).toBe('offline'));
    expect(() => clients[0]!.room('anything')).toThrow(/closed/);
    await waitFor(() => expect(clients[1]!.state).toBe('online'));
    view.unmount();
  });
});

describe('room names', () => {
  it('can be checked before rendering; a bad one throws a typed invalid_room an error boundary can show', () => {
    expect(isValidRoomName('party:abc')).toBe(true);
    expect(isValidRoomName('my party')).toBe(false);
    vi.spyOn(console, 'error').mockImplementation(() => {}); // React reports the caught render error too
    class Boundary extends Component<{ children: ReactNode }, { error?: PartylineError }> {
      override state: { error?: PartylineError } = {};
      static getDerivedStateFromError(error: PartylineError) {
        return { error };
      }
      override render() {
        return this.state.error ? <p>{`cannot open: ${this.state.error.kind}`}</p> : this.props.children;
      }
    }
    function Opens() {
      useRoom('my party');
      return null;
    }
    return testClient(relay.url, 'max').then((client) => {
      render(
        <PartylineProvider client={client}>
          <Boundary>
            <Opens />
          </Boundary>
        </PartylineProvider>,
      );
      expect(screen.getByText('cannot open: invalid_room')).toBeTruthy();
    });
  });
});
