/**
 * The devtools panel: what it shows of a real client against a real relay (offline with a queued
 * message, then online), how it reads a room with gaps and an outbox waiting on another tab, and
 * that it stays out of the main entry.
 */
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { createManualOnlineManager, type ClientInspection, type PartylineClient } from '@partyline/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PartylineDevtools } from '../src/devtools.js';
import { PartylineProvider, useConnectionReason } from '../src/index.js';
import { closeAllClients, nextRoom, testClient } from './support/clients.js';
import { startRelay, type TestRelay } from './support/relay.js';

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

const panel = () => within(screen.getByRole('region', { name: 'Partyline devtools' }));
/** The row of `table` (`rooms` or `outbox`) that holds `text`. */
const rowOf = (table: string, text: string) => within(panel().getByRole('table', { name: table })).getByText(text).closest('tr')!;

describe('PartylineDevtools', () => {
  it('shows the outbox while offline, then the relay, the room position and an empty outbox', async () => {
    const name = nextRoom('devtools');
    const network = createManualOnlineManager(false);
    const client = await testClient(relay.url, 'ana', { onlineManager: network });
    const room = client.room(name);
    const { id } = await room.publish('chat', { text: 'did it arrive?' });
    render(
      <PartylineProvider client={client}>
        <PartylineDevtools defaultOpen />
      </PartylineProvider>,
    );

    await waitFor(() => expect(panel().getByText(`…${id.slice(-8)}`)).toBeTruthy());
    expect(panel().getByText('offline')).toBeTruthy();
    expect(panel().getByText(`not connected (relays: ${relay.url})`)).toBeTruthy();
    const entry = within(rowOf('outbox', `…${id.slice(-8)}`));
    expect(entry.getByText(name)).toBeTruthy();
    expect(entry.getByText('0')).toBeTruthy(); // attempts
    expect(entry.getByText('when online (offline)')).toBeTruthy();
    expect(entry.getByText('in 7 d')).toBeTruthy(); // expiry
    expect(within(rowOf('rooms', name)).getByText('not joined yet')).toBeTruthy();

    act(() => network.setOnline(true));
    await waitFor(() => expect(panel().getByText(relay.url)).toBeTruthy());
    await waitFor(() => expect(panel().getByText('Empty: every message left for its room.')).toBeTruthy());
    await waitFor(() => expect(within(rowOf('rooms', name)).getAllByRole('cell')[2]!.textContent).toBe('1'));
    expect(within(rowOf('rooms', name)).getAllByRole('cell')[3]!.textContent).toBe('none');
    expect(panel().getByText('online')).toBeTruthy();
  });

  it('says why it is not online — a refused token — and when it tries next; useConnectionReason tells the app', async () => {
    // The README's `fetch(url).then((r) => r.text())` on a 401: an error page instead of a token.
    const client = await testClient(relay.url, 'ana', { token: async () => '<html><h1>401 Unauthorized</h1></html>', retryDelay: () => 60_000 });
    function Why() {
      const reason = useConnectionReason();
      return <p>{`app sees: ${reason?.kind ?? 'nothing'}`}</p>;
    }
    render(
      <PartylineProvider client={client}>
        <Why />
        <PartylineDevtools defaultOpen />
      </PartylineProvider>,
    );
    await waitFor(() => expect(panel().getByText(/^token refused: the token function returned something that is not a JWT \("401 Unauthorized"\)/)).toBeTruthy());
    await waitFor(() => expect(panel().getByText('in 60 s')).toBeTruthy());
    expect(panel().getByText('connecting')).toBeTruthy();
    expect(screen.getByText('app sees: unauthorized')).toBeTruthy();
  });

  it('shows gaps from the messages waiting beyond them, and entries another tab is sending', async () => {
    const inspection: ClientInspection = {
      state: 'online',
      reason: undefined,
      retryAt: undefined,
      relay: 'http://relay-1.test',
      relays: ['http://relay-1.test'],
      user: 'ana',
      rooms: [{ name: 'party:abc', epoch: 'e1', lastSeq: 5, waiting: [8, 9, 12], sync: { state: 'live', joined: true } }],
      outbox: [
        { id: 'entry-00000001', room: 'party:abc', type: 'chat', body: '{}', createdAt: Date.now(), attempts: 2, sender: 'ana' },
        { id: 'entry-00000002', room: 'party:xyz', type: 'chat', body: '{}', createdAt: Date.now(), attempts: 0, sender: 'ana' },
        { id: 'entry-00000003', room: 'party:abc', type: 'chat', body: '{}', createdAt: Date.now(), attempts: 0, sender: 'ben' },
      ],
      retentionMs: 604_800_000,
      flush: { shared: true, leading: [], otherTabs: ['party:abc'], failures: 0, retryAt: undefined },
    };
    const flush = vi.fn();
    const client = { state: 'online', inspect: async () => inspection, on: () => () => {}, flush } as unknown as PartylineClient;
    render(<PartylineDevtools client={client} defaultOpen />);

    await waitFor(() => expect(panel().getByText('6–7, 10–11')).toBeTruthy());
    expect(within(rowOf('outbox', '…00000001')).getByText('another tab is sending it')).toBeTruthy();
    expect(within(rowOf('outbox', '…00000002')).getByText('waits: room not open in this tab')).toBeTruthy();
    expect(within(rowOf('outbox', '…00000003')).getByText('waits for its sender (ben)')).toBeTruthy();
    expect(panel().getByText(/another tab is sending party:abc/)).toBeTruthy();
    fireEvent.click(panel().getByRole('button', { name: 'Flush now' }));
    expect(flush).toHaveBeenCalledTimes(1);
  });

  it('opens and closes from its button, reading only while open', async () => {
    const inspect = vi.fn(async () => {
      throw new Error('the client is closed');
    });
    const client = { state: 'offline', inspect, on: () => () => {}, flush: () => {} } as unknown as PartylineClient;
    render(<PartylineDevtools client={client} />);
    expect(screen.queryByRole('region', { name: 'Partyline devtools' })).toBeNull();
    expect(inspect).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole('button', { name: /Partyline/ }));
    await waitFor(() => expect(panel().getByText('the client is closed')).toBeTruthy());
    fireEvent.click(screen.getByRole('button', { name: /Partyline/ }));
    expect(screen.queryByRole('region', { name: 'Partyline devtools' })).toBeNull();
  });

  it('is not part of the main entry', async () => {
    const main = await import('../src/index.js');
    expect(Object.keys(main).sort()).toEqual(['PartylineProvider', 'isValidRoomName', 'useClient', 'useConnectionReason', 'useConnectionState', 'useErrors', 'useMessage', 'useMessages', 'usePending', 'usePresence', 'usePublish', 'useReadReceipts', 'useRoom', 'useUnread']);
  });
});
