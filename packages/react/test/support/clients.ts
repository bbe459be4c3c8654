// idb needs the IndexedDB classes as globals; each test client still gets its own database.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { createClient, type ClientOptions, type PartylineClient } from '@partyline/sdk';
import { tokenFor } from './relay.js';

/** Options for a test client of `sub`: its own IndexedDB ("device"), fast retries. */
export async function clientOptions(relayUrl: string, sub: string, options: Partial<ClientOptions> = {}): Promise<ClientOptions> {
  return { relays: [relayUrl], token: await tokenFor(sub), indexedDB: new IDBFactory(), retryDelay: (attempt) => Math.min(50 * attempt, 300), ...options };
}

const open: PartylineClient[] = [];

/** A client the test owns (closed by `closeAllClients`). */
export async function testClient(relayUrl: string, sub: string, options: Partial<ClientOptions> = {}): Promise<PartylineClient> {
  const client = createClient(await clientOptions(relayUrl, sub, options));
  open.push(client);
  return client;
}

export async function closeAllClients(): Promise<void> {
  await Promise.all(open.splice(0).map((client) => client.close()));
}

let counter = 0;
/** A room name no other test uses. */
export const nextRoom = (what: string) => `react-${what}-${++counter}-${Date.now()}`;
