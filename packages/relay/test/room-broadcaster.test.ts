import type { LogLink, LogMessage } from '@partyline/protocol';
import { describe, expect, it } from 'vitest';
import type { RelayServer } from '../src/connection.js';
import { RoomBroadcaster } from '../src/room-broadcaster.js';

/** Records what the broadcaster hands to Socket.IO (the unit here is the coalescing, not Socket.IO). */
function recordingServer() {
  const sent: { room: string; event: string; payload: { epoch: string; messages: LogMessage[]; links?: LogLink[] }; except?: string }[] = [];
  const target = (room: string, except?: string) => ({
    emit: (event: string, payload: never) => sent.push({ room, event, payload, ...(except ? { except } : {}) }),
    except: (socket: string) => target(room, socket),
  });
  const io = { to: (room: string) => target(room) };
  return { io: io as unknown as RelayServer, sent };
}

const message = (seq: number): LogMessage => ({ seq, id: `m${seq}`, type: 'chat', body: '{}', sender: 'ana', ts: 0 });
const nextTick = () => new Promise((resolve) => process.nextTick(resolve));

describe('RoomBroadcaster', () => {
  it('sends the messages one room gets within a turn as one event, after the turn', async () => {
    const { io, sent } = recordingServer();
    const broadcaster = new RoomBroadcaster(io, 100);
    broadcaster.add('party', 'e1', [message(1)]);
    broadcaster.add('party', 'e1', [message(2), message(3)]);
    broadcaster.add('other', 'e9', [message(7)]);
    expect(sent).toHaveLength(0);
    await nextTick();
    expect(sent.map(({ room, event, payload }) => [room, event, payload.epoch, payload.messages.map((m) => m.seq)])).toEqual([
      ['party', 'room:messages', 'e1', [1, 2, 3]],
      ['other', 'room:messages', 'e9', [7]],
    ]);
  });

  it('leaves out the one socket that published all of a turn’s messages of a room (its acks carry them), never a socket whose messages share the event with another’s', async () => {
    const { io, sent } = recordingServer();
    const broadcaster = new RoomBroadcaster(io, 100);
    broadcaster.add('party', 'e1', [message(1)], undefined, 'socket-a');
    broadcaster.add('party', 'e1', [message(2)], 'm1', 'socket-a');
    broadcaster.add('shared', 'e1', [message(1)], undefined, 'socket-a');
    broadcaster.add('shared', 'e1', [message(2)], 'm1', 'socket-b');
    broadcaster.add('echoed', 'e1', [message(1)], undefined, 'socket-a');
    broadcaster.add('echoed', 'e1', [message(2)], 'm1');
    broadcaster.add('remote', 'e1', [message(5)], 'm4');
    await nextTick();
    expect(sent.map(({ room, except, payload }) => [room, except, payload.messages.map((m) => m.seq)])).toEqual([
      ['party', 'socket-a', [1, 2]],
      ['shared', undefined, [1, 2]],
      ['echoed', undefined, [1, 2]],
      ['remote', undefined, [5]],
    ]);
  });

  it('puts a turn’s messages in seq order even when their appends finished out of order', async () => {
    const { io, sent } = recordingServer();
    const broadcaster = new RoomBroadcaster(io, 100);
    broadcaster.add('party', 'e1', [message(5)]);
    broadcaster.add('party', 'e1', [message(3), message(4)]);
    await nextTick();
    expect(sent[0]!.payload.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
  });

  it('carries the link before each appended batch, also into every chunk of a split turn', async () => {
    const { io, sent } = recordingServer();
    const broadcaster = new RoomBroadcaster(io, 2);
    broadcaster.add('party', 'e1', [message(4), message(5)], 'm3');
    broadcaster.add('party', 'e1', [message(8)], 'm7');
    await nextTick();
    expect(sent.map(({ payload }) => [payload.messages.map((m) => m.seq), payload.links])).toEqual([
      [[4, 5], [{ seq: 3, id: 'm3' }]],
      [[8], [{ seq: 7, id: 'm7' }]],
    ]);
    sent.length = 0;
    broadcaster.add('party', 'e1', [message(9), message(10), message(11)], 'm8');
    await nextTick();
    expect(sent.map(({ payload }) => [payload.messages.map((m) => m.seq), payload.links])).toEqual([
      [[9, 10], [{ seq: 8, id: 'm8' }]],
      [[11], [{ seq: 10, id: 'm10' }]],
    ]);
  });

  it('never mixes epochs in one event: the older epoch’s messages leave first', async () => {
    const { io, sent } = recordingServer();
    const broadcaster = new RoomBroadcaster(io, 100);
    broadcaster.add('party', 'old', [message(41)]);
    broadcaster.add('party', 'new', [message(1)]);
    await nextTick();
    expect(sent.map(({ payload }) => [payload.epoch, payload.messages.map((m) => m.seq)])).toEqual([
      ['old', [41]],
      ['new', [1]],
    ]);
  });

  it('splits a turn bigger than one publish batch into events of at most that many messages', async () => {
    const { io, sent } = recordingServer();
    const broadcaster = new RoomBroadcaster(io, 2);
    broadcaster.add('party', 'e1', [message(1), message(2), message(3)]);
    broadcaster.add('party', 'e1', [message(4), message(5)]);
    await nextTick();
    expect(sent.map(({ payload }) => payload.messages.map((m) => m.seq))).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('sends what is queued at once on flush (relay closing), and nothing twice', async () => {
    const { io, sent } = recordingServer();
    const broadcaster = new RoomBroadcaster(io, 100);
    broadcaster.add('party', 'e1', [message(1)]);
    broadcaster.flush();
    expect(sent).toHaveLength(1);
    await nextTick();
    expect(sent).toHaveLength(1);
  });

  it('skips, before any encoding, a room this relay has no member in (a local-only target)', async () => {
    const { io, sent } = recordingServer();
    const followed = new Set(['party']);
    const broadcaster = new RoomBroadcaster(io, 100, (room) => followed.has(room));
    broadcaster.add('party', 'e1', [message(1)]);
    broadcaster.add('nobody-here', 'e1', [message(1)]);
    await nextTick();
    expect(sent.map(({ room }) => room)).toEqual(['party']);
  });
});
