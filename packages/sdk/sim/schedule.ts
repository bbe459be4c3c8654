import type { Random } from './random.js';

/** The error kinds a relay can answer with (the protocol's, all of them). */
export const ERROR_KINDS = [
  'bad_request',
  'unknown_event',
  'invalid_room',
  'payload_too_large',
  'unauthorized',
  'token_expired',
  'forbidden',
  'conflict',
  'rate_limited',
  'unavailable',
  'unsupported_protocol',
  'slow_consumer',
  'draining',
  'internal',
] as const;

export const REQUESTS = ['room:join', 'room:read', 'room:publish', 'presence:enter', 'presence:get'] as const;

/** Families of faults, to switch on with `--faults` (all by default). */
export const FAULT_KINDS = ['network', 'sleep', 'relay', 'store', 'errors', 'lossy', 'log', 'token', 'clock', 'tabs'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const ROOMS = ['sim:a', 'sim:b', 'sim:c', 'sim:x:locked'] as const;

/**
 * One step of a schedule. Tabs and rooms are chosen by index, resolved against the tabs alive when
 * the step runs, so any subset of a schedule is itself a valid schedule (shrinking removes steps).
 */
export type Action =
  | { t: 'advance'; ms: number }
  | { t: 'publish'; tab: number; room: number; big: boolean }
  /** Many quote-dense bodies at once (they must be batched by frame bytes). */
  | { t: 'burst'; tab: number; room: number; count: number }
  | { t: 'open'; tab: number; room: number; from: 'beginning' | 'now' | 'last' }
  | { t: 'leave'; tab: number; room: number }
  | { t: 'older'; tab: number; room: number }
  | { t: 'enter'; tab: number; room: number }
  | { t: 'exit'; tab: number; room: number }
  | { t: 'reload'; tab: number }
  | { t: 'crash'; tab: number }
  | { t: 'close-tab'; tab: number }
  | { t: 'new-tab'; profile: number }
  | { t: 'net'; tab: number; state: 'up' | 'cut' | 'silent' }
  | { t: 'sleep'; tab: number; ms: number }
  | { t: 'relay'; relay: number; what: 'crash' | 'drain' | 'restart' }
  | { t: 'store'; paused: boolean }
  | { t: 'inject'; event: (typeof REQUESTS)[number] | undefined; kind: (typeof ERROR_KINDS)[number]; retryAfterMs: number | undefined }
  | { t: 'lossy'; answers: number; live: number; repeat: number }
  | { t: 'log'; room: number; what: 'lose' | 'tail' | 'trim'; count: number }
  | { t: 'token'; tab: number; mode: TokenMode }
  | { t: 'rotate-key' }
  | { t: 'clock-jump'; ms: number };

export type TokenMode = 'ok' | 'junk' | 'throw' | 'hang' | 'stale';

/** Which fault family an action belongs to (undefined: app behaviour, always on). */
export function faultOf(action: Action): FaultKind | undefined {
  switch (action.t) {
    case 'net':
      return 'network';
    case 'sleep':
      return 'sleep';
    case 'relay':
      return 'relay';
    case 'store':
      return 'store';
    case 'inject':
      return 'errors';
    case 'lossy':
      return 'lossy';
    case 'log':
      return 'log';
    case 'token':
    case 'rotate-key':
      return 'token';
    case 'clock-jump':
      return 'clock';
    case 'reload':
    case 'crash':
    case 'close-tab':
    case 'new-tab':
      return 'tabs';
    default:
      return undefined;
  }
}

/** A seeded schedule of `steps` actions: app work interleaved with faults of the enabled kinds. */
export function generateSchedule(random: Random, steps: number, faults: ReadonlySet<FaultKind>): Action[] {
  const table: [number, () => Action][] = [
    [30, () => ({ t: 'advance', ms: random.chance(0.85) ? random.int(0, 400) : random.int(1000, 15_000) })],
    [22, () => ({ t: 'publish', tab: random.int(0, 7), room: random.int(0, 3), big: random.chance(0.04) })],
    [1, () => ({ t: 'burst', tab: random.int(0, 7), room: random.int(0, 2), count: random.int(8, 20) })],
    [5, () => ({ t: 'open', tab: random.int(0, 7), room: random.int(0, 3), from: random.pick(['beginning', 'beginning', 'now', 'last'] as const) })],
    [2, () => ({ t: 'leave', tab: random.int(0, 7), room: random.int(0, 3) })],
    [2, () => ({ t: 'older', tab: random.int(0, 7), room: random.int(0, 3) })],
    [3, () => ({ t: 'enter', tab: random.int(0, 7), room: random.int(0, 3) })],
    [1, () => ({ t: 'exit', tab: random.int(0, 7), room: random.int(0, 3) })],
    [2, () => ({ t: 'reload', tab: random.int(0, 7) })],
    [2, () => ({ t: 'crash', tab: random.int(0, 7) })],
    [1, () => ({ t: 'close-tab', tab: random.int(0, 7) })],
    [2, () => ({ t: 'new-tab', profile: random.int(0, 1) })],
    [6, () => ({ t: 'net', tab: random.int(0, 7), state: random.pick(['up', 'up', 'cut', 'silent'] as const) })],
    [1, () => ({ t: 'sleep', tab: random.int(0, 7), ms: random.int(5_000, 120_000) })],
    [3, () => ({ t: 'relay', relay: random.int(0, 1), what: random.pick(['crash', 'drain', 'restart', 'restart'] as const) })],
    [2, () => ({ t: 'store', paused: random.chance(0.5) })],
    [6, () => ({ t: 'inject', event: random.chance(0.3) ? undefined : random.pick(REQUESTS), kind: random.pick(ERROR_KINDS), retryAfterMs: random.chance(0.5) ? random.int(0, 8000) : undefined })],
    [2, () => ({ t: 'lossy', answers: random.pick([0, 0, 0.05, 0.2]), live: random.pick([0, 0, 0.1, 0.3]), repeat: random.pick([0, 0.1]) })],
    [2, () => ({ t: 'log', room: random.int(0, 2), what: random.pick(['lose', 'tail', 'tail', 'trim'] as const), count: random.int(1, 8) })],
    [2, () => ({ t: 'token', tab: random.int(0, 7), mode: random.pick(['ok', 'junk', 'throw', 'hang', 'stale'] as const) })],
    [1, () => ({ t: 'rotate-key' })],
    [1, () => ({ t: 'clock-jump', ms: random.pick([-3_600_000, -60_000, 60_000, 3_600_000]) })],
  ];
  const enabled = table.filter(([, make]) => {
    const fault = faultOf(make());
    return fault === undefined || faults.has(fault);
  });
  const total = enabled.reduce((sum, [weight]) => sum + weight, 0);
  const actions: Action[] = [];
  while (actions.length < steps) {
    let roll = random.next() * total;
    for (const [weight, make] of enabled) {
      roll -= weight;
      if (roll < 0) {
        actions.push(make());
        break;
      }
    }
  }
  return actions;
}
