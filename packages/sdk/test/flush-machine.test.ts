/**
 * The flush machine on a fake clock (no IO): what a pass commands, event by event, and a seeded
 * random walk over every event checking the liveness rule: no state waits without the `flush` slot.
 */
import { describe, expect, it } from 'vitest';
import { PartylineError } from '../src/errors.js';
import {
  FLUSH_EVENTS,
  FLUSH_STATES,
  batchLength,
  flushTransition,
  initialFlushState,
  publishFrameBytes,
  publishPayload,
  type FlushCommand,
  type FlushEvent,
  type FlushMachineConfig,
  type FlushMachineState,
} from '../src/flush-machine.js';
import type { OutboxEntry } from '../src/outbox-store.js';

let ids = 0;
function entry(room: string, body = '{"text":"hi"}', createdAt = 1_000): OutboxEntry {
  return { id: `id-${String(++ids).padStart(6, '0')}`, room, type: 'chat', body, createdAt, attempts: 0 };
}

function machine(overrides: Partial<FlushMachineConfig> = {}) {
  const clock = { now: 10_000 };
  const config: FlushMachineConfig = {
    now: () => clock.now,
    backoff: (attempt, retryAfterMs) => Math.max(retryAfterMs ?? 0, 100 * 2 ** attempt),
    sends: () => true,
    retentionMs: 1_000_000,
    maxFrameBytes: 1_000_000,
    busyRetryMs: 500,
    ackTimeoutMs: 1_000,
    storageTimeoutMs: 5_000,
    ...overrides,
  };
  let state: FlushMachineState = { ...initialFlushState(100), connected: true };
  /** Armed slots, as the shell's scheduler would hold them. */
  const timers = new Map<string, number>();
  const run = (event: FlushEvent): FlushCommand[] => {
    const result = flushTransition(state, event, config);
    state = result.state;
    for (const command of result.commands) {
      if (command.type === 'set_timer') timers.set(command.slot, clock.now + command.delayMs);
      if (command.type === 'clear_timer') timers.delete(command.slot);
    }
    return result.commands;
  };
  const ticket = () => (state.phase as { ticket: number }).ticket;
  return { clock, config, run, timers, ticket, get state() { return state; } };
}

const of = <T extends FlushCommand['type']>(commands: FlushCommand[], type: T) => commands.filter((command): command is Extract<FlushCommand, { type: T }> => command.type === type);

describe('flush machine', () => {
  it('sends room by room in publish order, one lock per room, and settles per message', () => {
    const m = machine();
    const [a1, a2, b1] = [entry('a'), entry('a'), entry('b')];
    expect(of(m.run({ type: 'wake' }), 'list')).toHaveLength(1);
    expect(of(m.run({ type: 'listed', ticket: m.ticket(), entries: [a1!, a2!, b1!] }), 'lead')).toMatchObject([{ room: 'a' }]);
    const lockA = m.ticket();
    expect(of(m.run({ type: 'led', ticket: lockA }), 'send')).toMatchObject([{ room: 'a', batch: [a1, a2] }]);
    const settle = of(m.run({ type: 'ack', ticket: m.ticket(), results: [{ id: a1!.id, seq: 1 }, { id: a2!.id, error: { kind: 'forbidden', message: 'no', retryable: false } }] }), 'settle');
    expect(settle).toMatchObject([{ sent: [{ entry: a1, seq: 1 }], failed: [{ entry: a2 }], retry: [] }]);
    const next = m.run({ type: 'settled', ticket: m.ticket() });
    expect(of(next, 'release')).toEqual([{ type: 'release', ticket: lockA }]);
    expect(of(next, 'lead')).toMatchObject([{ room: 'b' }]);
    expect(of(m.run({ type: 'led', ticket: m.ticket() }), 'send')).toMatchObject([{ room: 'b', batch: [b1] }]);
    m.run({ type: 'ack', ticket: m.ticket(), results: [{ id: b1!.id, seq: 1 }] });
    // Something was sent: look again (more may have been queued meanwhile).
    expect(of(m.run({ type: 'settled', ticket: m.ticket() }), 'list')).toHaveLength(1);
    m.run({ type: 'listed', ticket: m.ticket(), entries: [] });
    expect(m.state.phase.kind).toBe('idle');
    expect(m.timers.has('flush')).toBe(false);
  });

  it('backs off after a retryable failure (at least retryAfterMs), holding back only that room; a forced wake skips the wait', () => {
    const m = machine();
    const [a1, a2, b1] = [entry('a'), entry('a'), entry('b')];
    m.run({ type: 'wake' });
    m.run({ type: 'listed', ticket: m.ticket(), entries: [a1!, a2!, b1!] });
    m.run({ type: 'led', ticket: m.ticket() });
    const settle = of(m.run({ type: 'refused', ticket: m.ticket(), error: new PartylineError('rate_limited', 'slow down', { retryable: true, retryAfterMs: 7_000 }) }), 'settle');
    expect(settle).toMatchObject([{ retry: [a1, a2] }]);
    expect(of(m.run({ type: 'settled', ticket: m.ticket() }), 'lead')).toMatchObject([{ room: 'b' }]);
    m.run({ type: 'led', ticket: m.ticket() });
    m.run({ type: 'ack', ticket: m.ticket(), results: [{ id: b1!.id, seq: 1 }] });
    m.run({ type: 'settled', ticket: m.ticket() });
    expect(m.state.phase).toMatchObject({ kind: 'backoff', dueAt: 17_000 });
    expect(m.state.failures).toBe(1);
    expect(m.timers.get('flush')).toBe(17_000);
    expect(m.run({ type: 'wake' })).toEqual([]); // a publish does not hammer a struggling relay
    expect(of(m.run({ type: 'force_wake' }), 'list')).toHaveLength(1);
    expect(m.state.failures).toBe(0);
  });

  it('a wake during a pass lists again when the pass ends', () => {
    const m = machine();
    m.run({ type: 'wake' });
    m.run({ type: 'wake' });
    expect(of(m.run({ type: 'listed', ticket: m.ticket(), entries: [] }), 'list')).toHaveLength(1);
    m.run({ type: 'listed', ticket: m.ticket(), entries: [] });
    expect(m.state.phase.kind).toBe('idle');
  });

  it('sizes batches by encoded frame bytes, and fails a message no frame can carry without sending it', () => {
    // Quote-dense JSON: `["a","a",…]` costs 1.5× its bytes once escaped in the frame.
    const dense = JSON.stringify(Array.from({ length: 2_500 }, () => 'a')); // 10 KB
    const entries = Array.from({ length: 10 }, () => entry('a', dense));
    const frameOfOne = publishFrameBytes('a', entries.slice(0, 1));
    expect(frameOfOne).toBeGreaterThan(15_000);
    expect(batchLength('a', entries, 100, 100_000)).toBe(6); // 10 by body bytes
    const m = machine({ maxFrameBytes: 100_000 });
    m.run({ type: 'wake' });
    m.run({ type: 'listed', ticket: m.ticket(), entries });
    const [send] = of(m.run({ type: 'led', ticket: m.ticket() }), 'send');
    expect(publishFrameBytes('a', send!.batch)).toBeLessThanOrEqual(100_000);

    const small = machine({ maxFrameBytes: frameOfOne - 1 });
    small.run({ type: 'wake' });
    small.run({ type: 'listed', ticket: small.ticket(), entries: entries.slice(0, 1) });
    const commands = small.run({ type: 'led', ticket: small.ticket() });
    expect(of(commands, 'send')).toEqual([]);
    expect(of(commands, 'settle')).toMatchObject([{ failed: [{ entry: entries[0], error: { kind: 'payload_too_large', retryable: false } }] }]);
  });

  it('counts the frame exactly as the Socket.IO transport writes it (ack id included)', () => {
    const batch = [entry('room:é', '{"q":"\\"quoted\\" ✓ \\u0000"}'), entry('room:é', '[1,2]')];
    const written = `42${123456}${JSON.stringify(['room:publish', publishPayload('room:é', batch)])}`;
    const bytes = Buffer.byteLength(written);
    expect(publishFrameBytes('room:é', batch)).toBeGreaterThanOrEqual(bytes);
    expect(publishFrameBytes('room:é', batch) - bytes).toBeLessThanOrEqual(16);
  });

  it('halves the batch when the relay refuses it as too large, and fails a single message it refuses', () => {
    const m = machine();
    const entries = Array.from({ length: 8 }, () => entry('a'));
    m.run({ type: 'wake' });
    m.run({ type: 'listed', ticket: m.ticket(), entries });
    m.run({ type: 'led', ticket: m.ticket() });
    const tooLarge = new PartylineError('payload_too_large', 'too big', { retryable: false });
    expect(of(m.run({ type: 'refused', ticket: m.ticket(), error: tooLarge }), 'send')[0]!.batch).toHaveLength(4);
    expect(of(m.run({ type: 'refused', ticket: m.ticket(), error: tooLarge }), 'send')[0]!.batch).toHaveLength(2);
    expect(of(m.run({ type: 'refused', ticket: m.ticket(), error: tooLarge }), 'send')[0]!.batch).toHaveLength(1);
    expect(of(m.run({ type: 'refused', ticket: m.ticket(), error: tooLarge }), 'settle')).toMatchObject([{ failed: [{ entry: entries[0] }] }]);
  });

  it('expires old entries (reported) even while disconnected, and arms the expiry slot for the next', () => {
    const m = machine({ retentionMs: 5_000 });
    m.run({ type: 'disconnected' });
    const [old, fresh] = [entry('a', '1', 4_000), entry('a', '2', 9_000)];
    m.run({ type: 'wake' });
    const commands = m.run({ type: 'listed', ticket: m.ticket(), entries: [old!, fresh!] });
    expect(of(commands, 'settle')).toMatchObject([{ expired: [{ entry: old, error: { kind: 'expired' } }] }]);
    expect(m.timers.get('flush:expiry')).toBe(14_001);
    m.run({ type: 'settled', ticket: m.ticket() });
    expect(m.state.phase.kind).toBe('idle');
    // Offline publishes do not re-read the outbox; the expiry timer does.
    expect(of(m.run({ type: 'wake' }), 'list')).toEqual([]);
    m.clock.now = 14_001;
    expect(of(m.run({ type: 'timer', slot: 'flush:expiry' }), 'list')).toHaveLength(1);
  });

  it('ignores stale answers and gives back a lock granted too late', () => {
    const m = machine();
    m.run({ type: 'wake' });
    m.run({ type: 'listed', ticket: m.ticket(), entries: [entry('a'), entry('b')] });
    const late = m.ticket();
    m.clock.now += 5_000;
    expect(of(m.run({ type: 'timer', slot: 'flush' }), 'lead')).toMatchObject([{ room: 'b' }]);
    expect(m.run({ type: 'led', ticket: late })).toEqual([{ type: 'release', ticket: late }]);
    expect(m.run({ type: 'listed', ticket: 1, entries: [] })).toEqual([]);
  });

  it('reports a storage failure, gives back the lock and backs off', () => {
    const m = machine();
    m.run({ type: 'wake' });
    m.run({ type: 'listed', ticket: m.ticket(), entries: [entry('a')] });
    const lock = m.ticket();
    m.run({ type: 'led', ticket: lock });
    m.run({ type: 'ack', ticket: m.ticket(), results: [] });
    const commands = m.run({ type: 'storage_failed', ticket: m.ticket(), error: new PartylineError('storage', 'quota') });
    expect(of(commands, 'release')).toEqual([{ type: 'release', ticket: lock }]);
    expect(of(commands, 'report')).toHaveLength(1);
    expect(m.state.phase.kind).toBe('backoff');
  });

  it('never waits without the flush slot, and leaves nothing armed after close (seeded random walk)', () => {
    const covered = new Set<string>();
    for (let seed = 1; seed <= 100; seed++) {
      let random = seed;
      const next = (n: number) => ((random = (random * 48_271) % 2_147_483_647) % n);
      const m = machine({ maxFrameBytes: 400 });
      const outbox = Array.from({ length: 1 + next(6) }, () => entry(['a', 'b'][next(2)]!, next(4) === 0 ? 'x'.repeat(500) : '{}'));
      for (let step = 0; step < 200; step++) {
        const phase = m.state.phase;
        const ticket = 'ticket' in phase ? phase.ticket : 0;
        const candidates: FlushEvent[] = [
          { type: 'wake' }, { type: 'force_wake' }, { type: 'connected' }, { type: 'disconnected' },
          { type: 'listed', ticket, entries: outbox }, { type: 'led', ticket }, { type: 'busy', ticket },
          { type: 'ack', ticket, results: outbox.map((e, i) => ({ id: e.id, seq: i + 1 })) },
          { type: 'refused', ticket, error: new PartylineError(next(2) ? 'unavailable' : 'payload_too_large', 'no') },
          { type: 'no_answer', ticket, error: new PartylineError('timeout', 'late') },
          { type: 'settled', ticket }, { type: 'storage_failed', ticket, error: new PartylineError('storage', 'quota') },
          { type: 'timer', slot: next(2) ? 'flush' : 'flush:expiry' },
        ];
        const event = step === 199 ? { type: 'close' as const } : candidates[next(candidates.length)]!;
        covered.add(`${m.state.phase.kind}:${event.type}`);
        m.clock.now += next(3) * 100;
        m.run(event);
        const kind = m.state.phase.kind;
        if (kind !== 'idle' && kind !== 'closed') expect(m.timers.has('flush'), `${kind} after ${event.type} (seed ${seed})`).toBe(true);
      }
      expect(m.timers.size).toBe(0); // closed: nothing armed
    }
    expect(covered.size).toBeGreaterThan(FLUSH_STATES.length * FLUSH_EVENTS.length * 0.6);
  });
});
