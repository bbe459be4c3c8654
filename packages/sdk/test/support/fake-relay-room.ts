import type { LogMessage } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { CLIENT_DEFAULTS } from '../../src/client.js';
import type { Connection } from '../../src/connection.js';
import type { InboxStore } from '../../src/inbox-store.js';
import type { OutboxStore } from '../../src/outbox-store.js';
import { Room, type RoomHost, type RoomOptions } from '../../src/room.js';
import type { Scheduler } from '../../src/scheduler.js';
import type { Transport } from '../../src/transport.js';

/** A request the room sent, waiting for the test to answer it. */
export interface Asked {
  event: string;
  payload: Record<string, unknown>;
  answer(ack: unknown): void;
}

/** A log message of room `r`, id `m<seq>` unless given. */
export const logMessage = (seq: number, id = `m${seq}`): LogMessage => ({ seq, id, type: 'chat', body: '{}', sender: 'bob', ts: 0 });

/**
 * Room `r` with its relay faked at the transport: each request waits in `asked` until the test answers
 * it, so an answer can land exactly where the test wants. No cache unless `inbox` is given.
 */
export function fakeRelayRoom(
  scheduler: Scheduler,
  options: RoomOptions & { inbox?: InboxStore; pageSize?: number; enqueue?: RoomHost['enqueue']; user?: string } = {},
): { room: Room; asked: Asked[] } {
  const asked: Asked[] = [];
  const transport: Transport = {
    request: (event, payload) => new Promise((answer) => asked.push({ event, payload: payload as Record<string, unknown>, answer })),
    send() {},
    close() {},
  };
  const { inbox = {} as InboxStore, pageSize = 100, enqueue = () => Promise.reject(new Error('not in this test')), user, ...roomOptions } = options;
  const host: RoomHost = {
    connection: { transport, tokenRefused() {}, on: () => () => {} } as unknown as Connection,
    outbox: {} as OutboxStore,
    inbox,
    settings: { pageSize, maxPageBytes: CLIENT_DEFAULTS.maxPageBytes, inboxLimit: Infinity, inboxMaxBytes: CLIENT_DEFAULTS.inboxMaxBytes, requestTimeoutMs: 10_000, maxBodyBytes: 100_000, gapFillDelayMs: 100 },
    scheduler,
    assertOpen() {},
    identity: () => user,
    enqueue,
    delivered() {},
    cacheFailed() {},
    forget() {},
  };
  return { room: new Room('r', host, roomOptions), asked };
}

/** Waits for the first request `test` accepts and takes it out of `asked`. */
export async function takeRequest(asked: Asked[], what: string, test: (request: Asked) => boolean = () => true): Promise<Asked> {
  const found = await waitFor(() => asked.find(test), what, 5_000);
  asked.splice(asked.indexOf(found), 1);
  return found;
}
