/**
 * The room's side of annotations and read state, with the relay faked at the transport (answers as
 * the test writes them) and the real cache over fake-indexeddb: how annotations name their target,
 * what a backward page may hold, the fold behind `message()` and `update`, and the read state a join,
 * `room:reads` and `markRead` leave.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import type { LogMessage } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { openDatabase } from '../src/database.js';
import { createInboxStore } from '../src/inbox-store.js';
import type { PartylineError, PublishHandle, RoomOptions, UpdateContext } from '../src/index.js';
import { createScheduler, type Scheduler } from '../src/scheduler.js';
import { fakeRelayRoom, takeRequest } from './support/fake-relay-room.js';

const chat = (seq: number, sender: string, text = `m${seq}`): LogMessage => ({ seq, id: `m${seq}`, type: 'chat', body: JSON.stringify({ text }), sender, ts: seq });
const react = (seq: number, sender: string, target: LogMessage, key: string): LogMessage => ({
  seq,
  id: `a${seq}`,
  type: 'pl:react',
  body: JSON.stringify({ id: target.id, from: target.sender, seq: target.seq, key }),
  sender,
  ts: seq,
});
const page = (messages: LogMessage[], extra: object = {}) => ({ ok: true, room: 'r', epoch: 'e1', firstSeq: 1, headSeq: messages.at(-1)?.seq ?? 0, hasMore: false, messages, ...extra });

let scheduler: Scheduler;
let databases = 0;
beforeEach(() => void (scheduler = createScheduler(systemClock, () => 10)));
afterEach(() => scheduler.close());

async function openRoom(options: RoomOptions = {}) {
  const database = openDatabase(new IDBFactory(), `room-annotations-${++databases}`);
  const queued: { type: string; body: unknown }[] = [];
  const enqueue = async (type: string, room: string, body: string): Promise<PublishHandle> => {
    queued.push({ type, body: JSON.parse(body) });
    return { id: `q${queued.length}`, room, status: 'pending', sent: new Promise(() => {}) };
  };
  const { room, asked } = fakeRelayRoom(scheduler, { inbox: createInboxStore(() => database), enqueue, user: 'bob', ...options });
  const errors: PartylineError[] = [];
  const updates: UpdateContext[] = [];
  const handed: number[] = [];
  room.on('error', ({ error }) => errors.push(error));
  room.on('update', (update) => updates.push(update));
  room.on('message', ({ seq }) => handed.push(seq));
  await room.history();
  room._connected();
  return { room, asked, queued, errors, updates, handed, close: async () => (room._close(), await room._idle(), (await database).close()) };
}

describe('annotations in a room', () => {
  it('names the target by sender and seq when the view holds it, by id alone when it does not', async () => {
    const { room, asked, queued, handed, close } = await openRoom();
    const held = chat(1, 'ann');
    (await takeRequest(asked, 'the join')).answer(page([held], { caller: 'bob' }));
    await waitFor(() => handed.length === 1, 'the message handed');
    await room.react('m1', '👍');
    await room.edit('pending-one', { text: 'fixed' });
    await room.delete('m1');
    expect(queued).toEqual([
      { type: 'pl:react', body: { id: 'm1', from: 'ann', seq: 1, key: '👍' } },
      { type: 'pl:edit', body: { id: 'pending-one', body: '{"text":"fixed"}' } },
      { type: 'pl:delete', body: { id: 'm1', from: 'ann', seq: 1 } },
    ]);
    await close();
  });

  it('takes a window page whose annotations outnumber `last`, and folds it from the summaries', async () => {
    const { room, asked, errors, updates, handed, close } = await openRoom({ from: { last: 1 } });
    const target = chat(5, 'ann');
    const entries = [target, react(6, 'bob', target, '👍'), react(7, 'cat', target, '👍'), react(8, 'dan', target, '🎉')];
    const join = await takeRequest(asked, 'the join');
    expect(join.payload).toMatchObject({ last: 1 });
    join.answer(page(entries, { caller: 'bob', summaries: { '5': { reactions: { '👍': { count: 2, mine: true }, '🎉': { count: 1 } } } } }));
    await waitFor(() => handed.length === 4, 'the window handed');
    expect(errors).toEqual([]);
    // The page's own annotations are in the summary already: not counted twice, no update for them.
    expect(room.message('m5')?.reactions).toEqual({ '👍': { count: 2, mine: true }, '🎉': { count: 1, mine: false } });
    expect(updates).toEqual([]);
    expect(room.messages().map((message) => message.seq)).toEqual([5]);
    await close();
  });

  it('refuses a window page with more messages than asked for', async () => {
    const { asked, errors, handed, close } = await openRoom({ from: { last: 1 } });
    (await takeRequest(asked, 'the join')).answer(page([chat(1, 'ann'), chat(2, 'ann')]));
    await waitFor(() => errors.length > 0, 'the page refused');
    expect(errors[0]).toMatchObject({ kind: 'protocol_violation' });
    expect(handed).toEqual([]);
    await close();
  });

  it('emits update when a live annotation changes a held message', async () => {
    const { room, asked, updates, handed, close } = await openRoom();
    const target = chat(1, 'ann');
    (await takeRequest(asked, 'the join')).answer(page([target], { caller: 'bob' }));
    await waitFor(() => handed.length === 1, 'the message');
    room._messages({ room: 'r', epoch: 'e1', messages: [react(2, 'bob', target, '🎉')] });
    await waitFor(() => updates.length === 1, 'the update');
    expect(updates[0]).toEqual({ room: 'r', id: 'm1', message: expect.objectContaining({ seq: 1, reactions: { '🎉': { count: 1, mine: true } } }) });
    expect(handed).toEqual([1, 2]);
    await close();
  });
});

describe('read state in a room', () => {
  it('starts from the join, counts new messages from others, follows room:reads and markRead', async () => {
    const { room, asked, queued, handed, close } = await openRoom();
    const reads: { sub: string; seq: number }[] = [];
    room.on('read', ({ sub, seq }) => reads.push({ sub, seq }));
    (await takeRequest(asked, 'the join')).answer(
      page([chat(1, 'ann'), chat(2, 'ann'), chat(3, 'ann')], { caller: 'bob', read: { seq: 1, unread: 2 }, reads: [{ sub: 'ann', seq: 3 }, { sub: 'bob', seq: 1 }] }),
    );
    await waitFor(() => handed.length === 3, 'the page');
    expect(room.readState()).toEqual({ readSeq: 1, unread: 2 });
    expect(room.receipts()).toEqual([{ sub: 'ann', seq: 3 }, { sub: 'bob', seq: 1 }]);

    room._messages({ room: 'r', epoch: 'e1', messages: [chat(4, 'ann')] });
    await waitFor(() => handed.length === 4, 'a live message');
    expect(room.readState()).toEqual({ readSeq: 1, unread: 3 });
    // A post moves its sender's position: the relay does not announce that, the message says it.
    expect(room.receipts()).toEqual([{ sub: 'ann', seq: 4 }, { sub: 'bob', seq: 1 }]);

    // Another tab of bob's read up to 2.
    room._reads({ room: 'r', reads: [{ sub: 'bob', seq: 2 }] });
    expect(room.readState()).toEqual({ readSeq: 2, unread: 2 });
    expect(reads).toEqual([{ sub: 'ann', seq: 3 }, { sub: 'bob', seq: 1 }, { sub: 'ann', seq: 4 }, { sub: 'bob', seq: 2 }]);

    await room.markRead(1); // behind: nothing queued
    await room.markRead(99); // past what the view was handed: capped at it
    expect(queued).toEqual([{ type: 'pl:read', body: { seq: 4 } }]);
    expect(room.readState()).toEqual({ readSeq: 4, unread: 0 });
    await room.markRead();
    expect(queued).toHaveLength(1);

    // An own post reads the room.
    room._messages({ room: 'r', epoch: 'e1', messages: [chat(5, 'ann'), chat(6, 'bob')] });
    await waitFor(() => handed.length === 6, 'two more');
    expect(room.readState()).toEqual({ readSeq: 6, unread: 0 });
    await close();
  });
});
