/**
 * The presence machine on its own (no IO, no clock): each decision of issue 22's presence, and a
 * seeded random walk over every event that checks after each step that nothing waits without a
 * request or a scheduler slot, and after a heal that presence converges and every enter() settled.
 */
import type { RoomPresenceEvent } from '@partyline/protocol';
import { describe, expect, it } from 'vitest';
import { PartylineError } from '../src/errors.js';
import {
  initialPresenceState,
  presenceTransition,
  PRESENCE_EVENTS,
  PRESENCE_STATES,
  type PresenceCommand,
  type PresenceEvent,
  type PresenceMachineState,
  type PresenceSlot,
} from '../src/presence-machine.js';

const config = { backoff: (attempt: number, retryAfterMs?: number) => Math.max(100 * attempt, retryAfterMs ?? 0), gapWaitMs: 500 };
const member = (sub: string) => ({ sub, since: 1 });
const snapshot = (version: number, ...subs: string[]) => ({ ok: true, epoch: 'e', version, members: subs.map(member) });
const change = (version: number, kind: 'joined' | 'left', sub: string): RoomPresenceEvent => ({ room: 'r', epoch: 'e', changes: [{ version, kind, member: member(sub) }] });
const unavailable = new PartylineError('unavailable', 'store away', { retryAfterMs: 300 });

/** Drives the machine and keeps what the shell would: requests in flight, slots, settled waiters. */
function driver() {
  let state = initialPresenceState();
  const inFlight = new Map<number, 'enter' | 'get'>();
  const slots = new Map<PresenceSlot, number>();
  const settled = new Map<number, string>();
  const emitted: string[][] = [];
  const sent: PresenceCommand[] = [];
  const step = (event: PresenceEvent) => {
    const result = presenceTransition(state, event, config);
    state = result.state;
    for (const command of result.commands) {
      sent.push(command);
      if (command.type === 'enter' || command.type === 'get') inFlight.set(command.ticket, command.type);
      if (command.type === 'schedule') slots.set(command.slot, command.delayMs);
      if (command.type === 'cancel') slots.delete(command.slot);
      if (command.type === 'settle') for (const id of command.waiters) settled.set(id, command.error?.kind ?? 'ok');
      if (command.type === 'emit') emitted.push(command.members.map((m) => m.sub));
    }
    return result.commands;
  };
  const answer = (ticket: number, answer: { ok: true; value: unknown } | { ok: false; error: PartylineError }) => {
    inFlight.delete(ticket);
    return step({ type: 'answer', ticket, answer });
  };
  const fire = (slot: PresenceSlot) => {
    slots.delete(slot);
    return step({ type: 'timer', slot });
  };
  const ticketOf = (kind: 'enter' | 'get') => [...inFlight].find(([, k]) => k === kind)?.[0];
  return { step, answer, fire, ticketOf, inFlight, slots, settled, emitted, sent, get state(): PresenceMachineState { return state; } };
}

describe('presence machine', () => {
  it('an enter made offline is sent when connected, answered, then the member list is fetched', () => {
    const d = driver();
    d.step({ type: 'enter', waiter: 1, data: '"Ana"' });
    expect(d.sent).toEqual([]);
    expect(d.step({ type: 'connected' })).toContainEqual({ type: 'enter', ticket: expect.any(Number), data: '"Ana"' });
    expect(d.answer(d.ticketOf('enter')!, { ok: true, value: { ok: true } })).toContainEqual({ type: 'get', ticket: expect.any(Number) });
    expect(d.settled.get(1)).toBe('ok');
    d.answer(d.ticketOf('get')!, { ok: true, value: snapshot(1, 'ana') });
    expect(d.state.phase.kind).toBe('ready');
    expect(d.emitted).toEqual([['ana']]);
  });

  it('keeps an enter waiting across a dropped connection, and rejects it with closed on close (item 7)', () => {
    const d = driver();
    d.step({ type: 'connected' });
    d.step({ type: 'enter', waiter: 1, data: undefined });
    d.answer(d.ticketOf('enter')!, { ok: false, error: new PartylineError('disconnected', 'gone') });
    d.step({ type: 'disconnected' });
    expect(d.settled.has(1)).toBe(false);
    expect(d.slots.size).toBe(0);
    d.step({ type: 'enter', waiter: 2, data: undefined });
    d.step({ type: 'close', reason: 'client closed' });
    expect([d.settled.get(1), d.settled.get(2)]).toEqual(['closed', 'closed']);
    expect(d.step({ type: 'enter', waiter: 3, data: undefined })).toMatchObject([{ type: 'settle', waiters: [3], error: { kind: 'closed' } }]);
  });

  it('tells the caller about a passing failure and enters again after the backoff; ignores a stale answer', () => {
    const d = driver();
    d.step({ type: 'connected' });
    d.step({ type: 'enter', waiter: 1, data: undefined });
    const first = d.ticketOf('enter')!;
    d.answer(first, { ok: false, error: unavailable });
    expect(d.settled.get(1)).toBe('unavailable');
    expect(d.state.phase.kind).toBe('backoff');
    expect(d.slots.get('catch-up')).toBe(300); // at least the relay's retryAfterMs
    expect(d.fire('catch-up')).toContainEqual({ type: 'enter', ticket: expect.any(Number), data: undefined });
    expect(d.answer(first, { ok: true, value: { ok: true } })).toEqual([]); // an answer of the earlier request
    expect(d.state.phase.kind).toBe('entering');
  });

  it('a refusal for good leaves the tab out, with no retry', () => {
    const d = driver();
    d.step({ type: 'connected' });
    d.step({ type: 'enter', waiter: 1, data: undefined });
    d.answer(d.ticketOf('enter')!, { ok: false, error: new PartylineError('forbidden', 'no presence capability') });
    expect(d.settled.get(1)).toBe('forbidden');
    expect(d.state.intent).toBeUndefined();
    expect(d.slots.has('catch-up')).toBe(false);
  });

  it('holds live changes while the list is on its way, then fetches again after a gap that does not fill', () => {
    const d = driver();
    d.step({ type: 'connected' });
    d.step({ type: 'watch' });
    d.step({ type: 'presence', event: change(2, 'joined', 'bob') });
    d.answer(d.ticketOf('get')!, { ok: true, value: snapshot(1, 'ana') });
    expect(d.emitted).toEqual([['ana'], ['ana', 'bob']]);
    d.step({ type: 'presence', event: change(4, 'left', 'ana') }); // 3 is missing
    expect(d.slots.get('refetch')).toBe(500);
    expect(d.fire('refetch')).toContainEqual({ type: 'get', ticket: expect.any(Number) });
  });

  it('a random walk over every event: nothing waits without a request or a slot; after the heal presence converges and every enter settled', () => {
    const covered = new Set<string>();
    for (let seed = 1; seed <= 300; seed++) {
      let x = seed;
      const random = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const d = driver();
      let waiter = 0;
      const relayHas = new Set<string>();
      for (let i = 0; i < 60; i++) {
        const type = pick(PRESENCE_EVENTS.filter((event) => event !== 'close' || random() < 0.05));
        const before = d.state.phase.kind;
        if (type === 'answer') {
          const ticket = pick([...d.inFlight.keys(), 999]);
          const kind = d.inFlight.get(ticket);
          const ok = random() < 0.6;
          d.answer(ticket, ok ? { ok: true, value: kind === 'get' ? snapshot(1, ...relayHas) : { ok: true } } : { ok: false, error: pick([unavailable, new PartylineError('disconnected', 'x'), new PartylineError('timeout', 'x')]) });
        } else if (type === 'timer') {
          const slot = pick(['catch-up', 'refetch'] as const);
          if (!d.slots.has(slot)) continue;
          d.fire(slot);
        } else if (type === 'enter') d.step({ type, waiter: ++waiter, data: pick([undefined, '"x"']) });
        else if (type === 'leave_now') d.step({ type, keepIntent: random() < 0.5 });
        else if (type === 'presence') d.step({ type, event: change(1 + Math.floor(random() * 4), pick(['joined', 'left'] as const), 'bob') });
        else if (type === 'close') d.step({ type, reason: 'closed' });
        else d.step({ type } as PresenceEvent);
        covered.add(`${before}:${type}`);
        // Safety: every wait has a request in flight or a slot.
        const phase = d.state.phase;
        if (phase.kind === 'entering' || phase.kind === 'fetching') expect(d.inFlight.has(phase.ticket)).toBe(true);
        if (phase.kind === 'backoff') expect(d.slots.has('catch-up')).toBe(true);
        if (phase.kind === 'closed') expect([d.slots.size, d.state.waiters.length]).toEqual([0, 0]);
        if (d.state.waiters.length) expect(d.state.intent).toBeDefined();
      }
      // Heal: connected, every request answered ok, every slot run, until nothing is left.
      if (d.state.phase.kind !== 'closed') d.step({ type: 'connected' });
      for (let i = 0; i < 20 && (d.inFlight.size || d.slots.size); i++) {
        for (const [ticket, kind] of [...d.inFlight]) d.answer(ticket, { ok: true, value: kind === 'get' ? snapshot(1, 'ana') : { ok: true } });
        for (const slot of [...d.slots.keys()]) d.fire(slot);
      }
      const state = d.state;
      expect([d.inFlight.size, d.slots.size]).toEqual([0, 0]);
      for (let id = 1; id <= waiter; id++) expect(d.settled.has(id), `seed ${seed}: enter ${id} settled`).toBe(true);
      if (state.phase.kind !== 'closed') {
        expect(state.phase.kind).toBe('ready');
        if (state.intent) expect(state.intent.synced).toBe(true);
        if (state.watching) expect(state.listDue).toBe(false);
      }
    }
    console.log(`[presence-machine] (state, event) pairs covered: ${covered.size} of ${PRESENCE_STATES.length * PRESENCE_EVENTS.length}`);
  });
});
