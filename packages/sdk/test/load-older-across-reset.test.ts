import type { LogMessage } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import type { Connection } from '../src/connection.js';
import type { InboxStore } from '../src/inbox-store.js';
import type { OutboxStore } from '../src/outbox-store.js';
import { Room, type ResetContext, type RoomHost } from '../src/room.js';
import { createScheduler } from '../src/scheduler.js';
import type { Transport } from '../src/transport.js';

// Issue 22 item 6: a loadOlder() whose page comes back after a reset restarted the view must not
// hand out the old history's messages. A relay is faked at the transport, so the reset lands
// exactly between the loadOlder request and its answer.
const message = (seq: number, id = `m${seq}`): LogMessage => ({ seq, id, type: 'chat', body: '{}', sender: 'bob', ts: 0 });
const page = (epoch: string, messages: LogMessage[], headSeq: number) => ({ ok: true, room: 'r', epoch, firstSeq: 1, headSeq, hasMore: false, messages });

interface Asked {
  event: string;
  payload: Record<string, unknown>;
  answer(ack: unknown): void;
}

const scheduler = createScheduler(systemClock, () => 10);
afterEach(() => scheduler.close());

function fakeRelayRoom(): { room: Room; asked: Asked[] } {
  const asked: Asked[] = [];
  const transport: Transport = {
    request: (event, payload) => new Promise((answer) => asked.push({ event, payload: payload as Record<string, unknown>, answer })),
    send() {},
    close() {},
  };
  const host: RoomHost = {
    connection: { transport, tokenRefused() {}, on: () => () => {} } as unknown as Connection,
    outbox: {} as OutboxStore,
    inbox: {} as InboxStore,
    settings: { pageSize: 100, inboxLimit: Infinity, requestTimeoutMs: 10_000, maxBodyBytes: 100_000, gapFillDelayMs: 100 },
    scheduler,
    assertOpen() {},
    enqueue: () => Promise.reject(new Error('not in this test')),
    delivered() {},
    cacheFailed() {},
    forget() {},
  };
  // An app-owned position: no cache involved.
  return { room: new Room('r', host, { from: { epoch: 'e1', seq: 10, id: 'm10' } }), asked };
}

const next = async (asked: Asked[], test: (request: Asked) => boolean, what: string): Promise<Asked> => {
  const found = await waitFor(() => asked.find(test), what, 5_000);
  asked.splice(asked.indexOf(found), 1);
  return found;
};

describe('loadOlder across a reset', () => {
  it('answers none of the old history when a reset restarted the view while it was on its way', async () => {
    const { room, asked } = fakeRelayRoom();
    const resets: ResetContext[] = [];
    room.on('reset', (reset) => resets.push(reset));
    room._connected();
    (await next(asked, (r) => r.event === 'room:join', 'the join')).answer(page('e1', [], 10));

    const older = room.loadOlder(5);
    const olderRead = await next(asked, (r) => r.event === 'room:read' && 'before' in r.payload, 'the loadOlder read');
    // Meanwhile the log was lost: a live message of a new epoch, the read it leads to, the reset.
    room._messages({ room: 'r', epoch: 'e2', messages: [message(1, 'n1')] });
    (await next(asked, (r) => r.event === 'room:read' && 'since' in r.payload, 'the positioned read')).answer(page('e2', [message(1, 'n1')], 1));
    await waitFor(() => resets.length === 1, 'the reset');
    expect(resets[0]).toMatchObject({ reason: 'epoch_changed', epoch: 'e2', previousEpoch: 'e1' });

    // The old log's page arrives last.
    olderRead.answer({ ...page('e1', [5, 6, 7, 8, 9].map((seq) => message(seq)), 10), hasOlder: true });
    expect(await older).toEqual({ messages: [], hasMore: false });
    room._close();
  });
});
