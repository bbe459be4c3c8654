import type { LogMessage } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import type { ResetContext } from '../src/room.js';
import { createScheduler } from '../src/scheduler.js';
import { fakeRelayRoom, logMessage as message, takeRequest } from './support/fake-relay-room.js';

// Issue 22 item 6: a loadOlder() whose page comes back after a reset restarted the view must not
// hand out the old history's messages. A relay is faked at the transport, so the reset lands
// exactly between the loadOlder request and its answer.
const page = (epoch: string, messages: LogMessage[], headSeq: number) => ({ ok: true, room: 'r', epoch, firstSeq: 1, headSeq, hasMore: false, messages });

const scheduler = createScheduler(systemClock, () => 10);
afterEach(() => scheduler.close());

describe('loadOlder across a reset', () => {
  it('answers none of the old history when a reset restarted the view while it was on its way', async () => {
    // An app-owned position: no cache involved.
    const { room, asked } = fakeRelayRoom(scheduler, { from: { epoch: 'e1', seq: 10, id: 'm10' } });
    const resets: ResetContext[] = [];
    room.on('reset', (reset) => resets.push(reset));
    room._connected();
    (await takeRequest(asked, 'the join', (r) => r.event === 'room:join')).answer(page('e1', [], 10));

    const older = room.loadOlder(5);
    const olderRead = await takeRequest(asked, 'the loadOlder read', (r) => r.event === 'room:read' && 'before' in r.payload);
    // Meanwhile the log was lost: a live message of a new epoch, the read it leads to, the reset.
    room._messages({ room: 'r', epoch: 'e2', messages: [message(1, 'n1')] });
    (await takeRequest(asked, 'the positioned read', (r) => r.event === 'room:read' && 'since' in r.payload)).answer(page('e2', [message(1, 'n1')], 1));
    await waitFor(() => resets.length === 1, 'the reset');
    expect(resets[0]).toMatchObject({ reason: 'epoch_changed', epoch: 'e2', previousEpoch: 'e1' });

    // The old log's page arrives last.
    olderRead.answer({ ...page('e1', [5, 6, 7, 8, 9].map((seq) => message(seq)), 10), hasOlder: true });
    expect(await older).toEqual({ messages: [], hasMore: false });
    room._close();
  });
});
