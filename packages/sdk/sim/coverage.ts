import { CONNECTION_EVENTS, CONNECTION_PHASES } from '../src/connection-machine.js';
import { FLUSH_EVENTS, FLUSH_STATES } from '../src/flush-machine.js';
import { PRESENCE_EVENTS, PRESENCE_STATES } from '../src/presence-machine.js';
import { ROOM_SYNC_EVENTS, ROOM_SYNC_STATES } from '../src/room-sync-machine.js';

/** Every (state, event) pair each of the SDK's machines has: what the simulator's coverage is counted against. */
export const MACHINES: Record<string, { states: readonly string[]; events: readonly string[] }> = {
  connection: { states: CONNECTION_PHASES, events: CONNECTION_EVENTS },
  room: { states: ROOM_SYNC_STATES, events: ROOM_SYNC_EVENTS },
  flush: { states: FLUSH_STATES, events: FLUSH_EVENTS },
  presence: { states: PRESENCE_STATES, events: PRESENCE_EVENTS },
};

/** `machine|state|event` keys driven by the simulator, across every seed run in this process. */
export const covered = new Set<string>();

/** Covered pairs per machine, against all of its pairs. */
export function coverageReport(keys: Iterable<string>): string {
  const seen = new Set(keys);
  const lines: string[] = [];
  let total = 0;
  let hit = 0;
  for (const [machine, { states, events }] of Object.entries(MACHINES)) {
    const pairs = states.length * events.length;
    const count = states.reduce((sum, state) => sum + events.filter((event) => seen.has(`${machine}|${state}|${event}`)).length, 0);
    total += pairs;
    hit += count;
    lines.push(`${machine} ${count}/${pairs}`);
  }
  return `(state, event) pairs driven: ${hit}/${total} (${lines.join(', ')})`;
}
