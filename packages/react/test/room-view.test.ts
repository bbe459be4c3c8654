/**
 * The store behind useMessages/usePending, against a scripted room: the orders of events that a
 * real relay produces only sometimes (events before `history()` answers, resets among them, a
 * status before the outbox read that still lists the entry) are played here every time.
 */
import { PartylineError, PartylineErrorKind, type FoldedMessage, type PendingMessage, type ResetContext, type Room, type RoomEvents, type RoomMessage, type StandardSchemaV1, type StatusContext } from '@partyline/sdk';
import { describe, expect, it } from 'vitest';
import { viewOf } from '../src/room-view.js';

/** A room whose events, `history()` answer and outbox the test decides. */
function scriptedRoom() {
  const listeners = new Map<string, Set<(context: never) => void>>();
  const answers: ((messages: RoomMessage[]) => void)[] = [];
  let outbox: PendingMessage[] = [];
  /** The room's fold (`room.message(id)`): what the test says it is. */
  const folded = new Map<string, FoldedMessage>();
  const room = {
    on(event: string, listener: (context: never) => void) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(listener);
      return () => listeners.get(event)!.delete(listener);
    },
    history: () => new Promise<RoomMessage[]>((resolve) => answers.push(resolve)),
    pending: async () => outbox.slice(),
    invalid: () => [],
    message: (id: string) => folded.get(id),
  } as unknown as Room;
  return {
    room,
    emit<K extends keyof RoomEvents>(event: K, context: RoomEvents[K]) {
      for (const listener of listeners.get(event) ?? []) (listener as (context: RoomEvents[K]) => void)(context);
    },
    answer: (messages: RoomMessage[]) => answers.shift()!(messages),
    setOutbox: (entries: PendingMessage[]) => (outbox = entries),
    /** Sets the fold's state of a message (without an `update` event). */
    fold: (message: FoldedMessage) => folded.set(message.id, message),
    listenerCount: () => [...listeners.values()].reduce((sum, set) => sum + set.size, 0),
  };
}

const message = (seq: number, epoch = 'e1'): RoomMessage => ({ room: 'r', seq, id: `${epoch}-m${seq}`, type: 'chat', body: { n: seq }, sender: 'x', ts: 0 });
const entry = (n: number): PendingMessage => ({ id: `own-${n}`, room: 'r', type: 'chat', body: { n }, createdAt: n, attempts: 0 });
const reset = (reason: ResetContext['reason']): ResetContext => ({ room: 'r', reason, epoch: 'e2' });
/** Lets queued promise continuations and microtasks run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function follow(room: Room) {
  const view = viewOf(room);
  let changes = 0;
  const stop = view.subscribe(() => changes++);
  return { view, stop, changes: () => changes, ids: () => view.get().messages.map((m) => m.id), own: () => view.get().pending.map((m) => `${m.id}:${m.status}`) };
}

describe('the messages view', () => {
  it('does not repeat messages handed before history() answered (they are in its answer)', async () => {
    const scripted = scriptedRoom();
    const { view, ids } = follow(scripted.room);
    scripted.emit('message', message(1));
    scripted.emit('message', message(2));
    expect(view.get().ready).toBe(false);
    scripted.answer([message(1), message(2)]);
    await settle();
    scripted.emit('message', message(3));
    await settle();
    expect(ids()).toEqual(['e1-m1', 'e1-m2', 'e1-m3']);
    expect(view.get().ready).toBe(true);
  });

  it('keeps messages handed before the answer that the cache missed', async () => {
    const scripted = scriptedRoom();
    const { ids } = follow(scripted.room);
    for (const seq of [1, 2, 3]) scripted.emit('message', message(seq));
    scripted.answer([message(1)]);
    await settle();
    expect(ids()).toEqual(['e1-m1', 'e1-m2', 'e1-m3']);
  });

  it('drops what came before a restart among the early events (the answer is the new history)', async () => {
    const scripted = scriptedRoom();
    const { view, ids } = follow(scripted.room);
    scripted.emit('message', message(5));
    scripted.emit('reset', reset('epoch_changed'));
    scripted.emit('message', message(1, 'e2'));
    scripted.answer([message(1, 'e2')]);
    await settle();
    expect(ids()).toEqual(['e2-m1']);
    expect(view.get().reset?.reason).toBe('epoch_changed');
  });

  it('starts over on epoch_changed and diverged, keeps the view on trimmed', async () => {
    const scripted = scriptedRoom();
    const { view, ids } = follow(scripted.room);
    scripted.answer([message(1), message(2)]);
    await settle();
    scripted.emit('reset', { ...reset('trimmed'), epoch: 'e1', fromSeq: 3, toSeq: 9 });
    scripted.emit('message', message(10));
    await settle();
    expect(ids()).toEqual(['e1-m1', 'e1-m2', 'e1-m10']);
    scripted.emit('reset', reset('diverged'));
    scripted.emit('message', message(1, 'e2'));
    await settle();
    expect(ids()).toEqual(['e2-m1']);
    expect(view.get().reset?.reason).toBe('diverged');
  });

  it('keeps snapshots the same objects while nothing changes, and pending the same array on a message', async () => {
    const scripted = scriptedRoom();
    const { view, changes } = follow(scripted.room);
    scripted.answer([]);
    await settle();
    const first = view.get();
    expect(view.get()).toBe(first);
    const before = changes();
    scripted.emit('message', message(1));
    scripted.emit('message', message(2));
    await settle();
    expect(changes()).toBe(before + 1); // one snapshot for the two
    expect(view.get()).not.toBe(first);
    expect(view.get().pending).toBe(first.pending);
  });

  it('releases its listeners after the last subscriber, not during a StrictMode-style resubscribe', async () => {
    const scripted = scriptedRoom();
    const view = viewOf(scripted.room);
    const stop = view.subscribe(() => {});
    expect(scripted.listenerCount()).toBe(5); // message, invalid, update, reset, status
    stop();
    const again = view.subscribe(() => {});
    await settle();
    expect(scripted.listenerCount()).toBe(5);
    again();
    await settle();
    expect(scripted.listenerCount()).toBe(0);
  });
});

describe('folded messages', () => {
  const folded = (seq: number, change: Partial<FoldedMessage>): FoldedMessage => {
    const { room: _room, ...plain } = message(seq);
    return { ...plain, edited: false, deleted: false, reactions: {}, ...change };
  };
  const annotation = (seq: number, type: string, target: number): RoomMessage => ({ room: 'r', seq, id: `e1-a${seq}`, type, body: { id: `e1-m${target}` }, sender: 'y', ts: 0 });

  it('lists annotations apart and folds messages as the room has them: read when added, replaced in place on `update`', async () => {
    const scripted = scriptedRoom();
    const { view } = follow(scripted.room);
    // Before history() answers, updates are not applied: the answer reads the fold as it is then.
    scripted.emit('update', { room: 'r', id: 'e1-m1', message: folded(1, { edited: true, body: { n: 'early' } }) });
    scripted.fold(folded(1, { edited: true, editedAt: 5, body: { n: 'one, edited' } }));
    scripted.answer([message(1), message(2), annotation(3, 'pl:edit', 1)]);
    await settle();
    const opened = view.get();
    expect(opened.messages.map((m) => [m.seq, m.body, m.edited])).toEqual([
      [1, { n: 'one, edited' }, true],
      [2, { n: 2 }, false],
    ]);
    expect(opened.messages[0]).toMatchObject({ room: 'r', editedAt: 5, deleted: false, reactions: {} });
    expect(opened.annotations.map((a) => a.seq)).toEqual([3]);

    scripted.emit('message', annotation(4, 'pl:react', 2));
    scripted.emit('update', { room: 'r', id: 'e1-m2', message: folded(2, { reactions: { '🎉': { count: 1, mine: true } } }) });
    scripted.emit('update', { room: 'r', id: 'e1-m9', message: folded(9, { deleted: true, body: null }) }); // not in the view: nothing
    await settle();
    const reacted = view.get();
    expect(reacted.messages[0]).toBe(opened.messages[0]); // unchanged messages keep their objects
    expect(reacted.messages[1]).toMatchObject({ seq: 2, reactions: { '🎉': { count: 1, mine: true } } });
    expect(reacted.annotations.map((a) => a.seq)).toEqual([3, 4]);

    scripted.emit('update', { room: 'r', id: 'e1-m1', message: folded(1, { deleted: true, body: null, edited: true }) });
    await settle();
    expect(view.get().messages.map((m) => [m.seq, m.deleted, m.body])).toEqual([
      [1, true, null],
      [2, false, { n: 2 }],
    ]);
  });

  it('checks an edited body with the schema: one that fails moves to invalid in its place, a fitting edit brings it back', async () => {
    const scripted = scriptedRoom();
    const numbers: StandardSchemaV1<unknown, { n: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => (typeof (value as { n?: unknown }).n === 'number' ? { value: value as { n: number } } : { issues: [{ message: 'n must be a number' }] }),
      },
    };
    const view = viewOf(scripted.room, numbers);
    view.subscribe(() => {});
    scripted.answer([message(1), message(2), message(3)]);
    await settle();
    scripted.emit('update', { room: 'r', id: 'e1-m2', message: folded(2, { edited: true, body: { n: 'two' } }) });
    await settle();
    expect(view.get().messages.map((m) => m.seq)).toEqual([1, 3]);
    expect(view.get().invalid.map((m) => [m.seq, m.body])).toEqual([[2, { n: 'two' }]]);
    scripted.emit('update', { room: 'r', id: 'e1-m2', message: folded(2, { edited: true, body: { n: 22 } }) });
    await settle();
    expect(view.get().messages.map((m) => [m.seq, m.body])).toEqual([
      [1, { n: 1 }],
      [2, { n: 22 }],
      [3, { n: 3 }],
    ]);
    expect(view.get().invalid).toEqual([]);
  });

  it('starts the annotations over with the messages on epoch_changed', async () => {
    const scripted = scriptedRoom();
    const { view } = follow(scripted.room);
    scripted.answer([message(1), annotation(2, 'pl:delete', 1)]);
    await settle();
    scripted.emit('reset', reset('epoch_changed'));
    await settle();
    expect(view.get()).toMatchObject({ messages: [], annotations: [] });
  });
});

describe('own messages', () => {
  const status = (id: string, value: StatusContext['status'], extra: Partial<StatusContext> = {}): StatusContext => ({ room: 'r', id, status: value, ...extra });

  it('shows queued ones as pending, a sent one until the view has it, a failed one with its error', async () => {
    const scripted = scriptedRoom();
    const { view, own } = follow(scripted.room);
    scripted.answer([]);
    scripted.setOutbox([entry(1), entry(2), entry(3)]);
    scripted.emit('status', status('own-3', 'pending'));
    await settle();
    expect(own()).toEqual(['own-1:pending', 'own-2:pending', 'own-3:pending']);

    // Sent (seq 1) before the outbox read that still lists it: sent wins over that read.
    scripted.emit('status', status('own-1', 'sent', { seq: 1 }));
    await settle();
    expect(own()).toEqual(['own-1:sent', 'own-2:pending', 'own-3:pending']);
    expect(view.get().pending[0]?.seq).toBe(1);

    // It reaches the view: it leaves the own list (even while a stale read lists it).
    scripted.emit('message', { ...message(1), id: 'own-1' });
    await settle();
    expect(own()).toEqual(['own-2:pending', 'own-3:pending']);

    const error = new PartylineError(PartylineErrorKind.Forbidden, 'not in this room', { retryable: false });
    scripted.setOutbox([entry(3)]);
    scripted.emit('status', status('own-1', 'sent', { seq: 1 })); // reported again by another path: no effect
    scripted.emit('status', status('own-2', 'failed', { error }));
    await settle();
    expect(own()).toEqual(['own-2:failed', 'own-3:pending']);
    expect(view.get().pending[0]?.error).toBe(error);
  });

  it('counts an own edit or reaction as arrived once the view has its annotation (annotations may end the view)', async () => {
    const scripted = scriptedRoom();
    const { own } = follow(scripted.room);
    scripted.answer([message(1)]);
    scripted.setOutbox([{ ...entry(1), type: 'pl:react' }]);
    scripted.emit('status', status('own-1', 'pending'));
    await settle();
    scripted.setOutbox([]);
    scripted.emit('status', status('own-1', 'sent', { seq: 2 }));
    await settle();
    expect(own()).toEqual(['own-1:sent']);
    scripted.emit('message', { ...message(2), id: 'own-1', type: 'pl:react', body: { id: 'e1-m1', key: '👍' } });
    await settle();
    expect(own()).toEqual([]);
  });
});
