/**
 * The store behind useMessages/usePending, against a scripted room: the orders of events that a
 * real relay produces only sometimes (events before `history()` answers, resets among them, a
 * status before the outbox read that still lists the entry) are played here every time.
 */
import { PartylineError, PartylineErrorKind, type PendingMessage, type ResetContext, type Room, type RoomEvents, type RoomMessage, type StatusContext } from '@partyline/sdk';
import { describe, expect, it } from 'vitest';
import { viewOf } from '../src/room-view.js';

/** A room whose events, `history()` answer and outbox the test decides. */
function scriptedRoom() {
  const listeners = new Map<string, Set<(context: never) => void>>();
  const answers: ((messages: RoomMessage[]) => void)[] = [];
  let outbox: PendingMessage[] = [];
  const room = {
    on(event: string, listener: (context: never) => void) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(listener);
      return () => listeners.get(event)!.delete(listener);
    },
    history: () => new Promise<RoomMessage[]>((resolve) => answers.push(resolve)),
    pending: async () => outbox.slice(),
    invalid: () => [],
  } as unknown as Room;
  return {
    room,
    emit<K extends keyof RoomEvents>(event: K, context: RoomEvents[K]) {
      for (const listener of listeners.get(event) ?? []) (listener as (context: RoomEvents[K]) => void)(context);
    },
    answer: (messages: RoomMessage[]) => answers.shift()!(messages),
    setOutbox: (entries: PendingMessage[]) => (outbox = entries),
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
    expect(scripted.listenerCount()).toBe(4) // message, invalid, reset, status;
    stop();
    const again = view.subscribe(() => {});
    await settle();
    expect(scripted.listenerCount()).toBe(4);
    again();
    await settle();
    expect(scripted.listenerCount()).toBe(0);
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
});
