// idb needs the IndexedDB classes as globals; each test "device" still gets its own factory below.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { createClient, type ClientOptions, type PartylineClient, type Room, type RoomMessage, type StatusContext } from '../../src/index.js';

/** A "device": its own IndexedDB (fake-indexeddb), reusable across client instances like a reloaded page. */
export function newDevice(): IDBFactory {
  return new IDBFactory();
}

const open: PartylineClient[] = [];

/** A client with fast retries for tests; closed by `closeAllClients`. */
export function testClient(options: Partial<ClientOptions> & Pick<ClientOptions, 'relays' | 'token'>): PartylineClient {
  const client = createClient({
    indexedDB: newDevice(),
    retryDelay: (attempt) => Math.min(50 * attempt, 300),
    ...options,
  });
  open.push(client);
  return client;
}

export async function closeAllClients(): Promise<void> {
  await Promise.all(open.splice(0).map((client) => client.close()));
}

/** Records every message and status event of a room. */
export function record(room: Room): { messages: RoomMessage[]; statuses: StatusContext[]; seqs(): number[] } {
  const messages: RoomMessage[] = [];
  const statuses: StatusContext[] = [];
  room.on('message', (message) => messages.push(message));
  room.on('status', (status) => statuses.push(status));
  return { messages, statuses, seqs: () => messages.map((message) => message.seq) };
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
