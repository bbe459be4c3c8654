import 'fake-indexeddb/auto';
import FakeTimers from '@sinonjs/fake-timers';
import { resetMessageIds } from '../src/message-id.js';
import { createRandom } from './random.js';
import { FAULT_KINDS, generateSchedule, type Action, type FaultKind } from './schedule.js';
import { setClockJump, World } from './world.js';

export interface SeedOptions {
  seed: number;
  steps: number;
  faults?: ReadonlySet<FaultKind>;
  /** Run only these steps of the seed's schedule (a shrunk schedule). */
  only?: readonly number[];
  /** Print each step as it runs. */
  verbose?: boolean;
}

export interface SeedResult {
  seed: number;
  steps: number;
  ok: boolean;
  violations: string[];
  /** The steps that ran, numbered as in the full schedule, with the virtual time. */
  trace: string[];
  /** Virtual ms from the heal until everything settled. */
  settleMs: number;
  delivered: number;
  resets: number;
  published: number;
  indices: number[];
}

/** After the heal, everything must have settled within this much virtual time. */
export const LIVENESS_BOUND_MS = 60_000;
const START = Date.UTC(2026, 11, 7);

/**
 * Runs one seed: the real SDK core in several profiles and tabs against the model relays, on the
 * faked global clock (timers, immediates and Date, so fake-indexeddb runs on it too), the seed's
 * schedule of app work and faults, safety checked after every step; then every fault heals and
 * liveness is checked within {@link LIVENESS_BOUND_MS}; then every client closes and no timer may
 * be left. The same seed (and step subset) runs the same way every time.
 */
export async function runSeed(options: SeedOptions): Promise<SeedResult> {
  const faults = options.faults ?? new Set(FAULT_KINDS);
  const schedule = generateSchedule(createRandom(options.seed), options.steps, faults);
  const indices = options.only ? [...options.only] : schedule.map((_, index) => index);
  const clock = FakeTimers.withGlobal(globalThis).install({
    now: START,
    toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'Date'],
    loopLimit: 1_000_000,
  });
  const trace: string[] = [];
  // Message ids take random bits: from the seed too, so a seed replays the same ids in any process.
  const bytes = createRandom(options.seed ^ 0xb17e5);
  resetMessageIds();
  const getRandomValues = crypto.getRandomValues;
  Object.defineProperty(crypto, 'getRandomValues', {
    configurable: true,
    value: <T extends ArrayBufferView | null>(array: T): T => {
      if (array) {
        const view = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
        for (let i = 0; i < view.length; i++) view[i] = Math.floor(bytes.next() * 256);
      }
      return array;
    },
  });
  const world = new World(createRandom(options.seed ^ 0x5eed));
  world.advance = async (ms) => {
    await clock.tickAsync(ms);
  };
  setClockJump((ms) => clock.setSystemTime(clock.now + ms));
  let settleMs = -1;
  try {
    await world.settle(5);
    for (const index of indices) {
      const action = schedule[index]!;
      const line = `#${index} t=${clock.now - START} ${describe(action)}`;
      trace.push(line);
      if (options.verbose) console.log(line);
      await world.apply(action);
      await world.settle(0);
      world.checkSafety();
      if (world.violations.length > 0) break;
    }
    if (world.violations.length === 0) {
      trace.push(`heal t=${clock.now - START}`);
      world.heal();
      await world.settle(100);
      await world.reopenProfiles();
      world.markRooms();
      const healedAt = clock.now;
      let stuck: string[] = [];
      let markedAt = clock.now;
      while (clock.now - healedAt <= LIVENESS_BOUND_MS) {
        await world.settle(250);
        // A view that joined after the last marker (`from: 'now'` starts at the head) is judged by the next one.
        if (clock.now - markedAt >= 5_000) {
          world.markRooms();
          markedAt = clock.now;
        }
        world.checkSafety();
        if (world.violations.length > 0) break;
        stuck = await world.stuck();
        if (stuck.length === 0) {
          settleMs = clock.now - healedAt;
          break;
        }
      }
      if (world.violations.length === 0 && stuck.length > 0) world.violations.push(...stuck.map((what) => `liveness (${LIVENESS_BOUND_MS} ms after the heal): ${what}`));
    }
    for (const tab of world.alive()) {
      const left = await tab.close();
      if (left) world.violations.push(left);
    }
  } catch (error) {
    world.violations.push(`the run threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    clock.uninstall();
    Object.defineProperty(crypto, 'getRandomValues', { configurable: true, value: getRandomValues });
  }
  let delivered = 0;
  let resets = 0;
  for (const profile of world.profiles) {
    for (const tab of profile.tabs) {
      for (const { view } of tab.rooms.values()) {
        delivered += view.delivered;
        resets += view.resets;
      }
    }
  }
  return {
    seed: options.seed,
    steps: indices.length,
    ok: world.violations.length === 0,
    violations: world.violations,
    trace: [...trace, ...world.notes.map((note) => `note ${note}`)],
    settleMs,
    delivered,
    resets,
    published: world.published,
    indices,
  };
}

/**
 * Shrinks a failing seed's schedule (delta debugging: drop chunks, then single steps, while it
 * still fails) to the shortest subset that still fails.
 */
export async function shrink(options: SeedOptions, budget = 200, match = ''): Promise<SeedResult> {
  const fails = (result: SeedResult) => !result.ok && result.violations.some((violation) => violation.includes(match));
  let best = await runSeed(options);
  if (!fails(best)) return best;
  let indices = best.indices;
  let runs = 0;
  for (let chunk = Math.ceil(indices.length / 2); chunk >= 1 && runs < budget; chunk = Math.floor(chunk / 2)) {
    for (let at = 0; at < indices.length && runs < budget; ) {
      const candidate = [...indices.slice(0, at), ...indices.slice(at + chunk)];
      runs++;
      const result = await runSeed({ ...options, only: candidate });
      if (fails(result)) {
        indices = candidate;
        best = result;
      } else at += chunk;
    }
  }
  return best;
}

export function describe(action: Action): string {
  const { t, ...rest } = action;
  return `${t} ${Object.entries(rest)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ')}`;
}
