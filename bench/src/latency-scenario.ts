import type { RedisServer } from '@partyline/test-support';
import { appendFloor, type FloorFigures } from './append-floor.js';
import { interleaved } from './interleaved.js';
import { watchRedis, type RedisWindow } from './redis-watch.js';
import { BODY_BYTES, fanout, forSystem, measure, setAppendFsync, type Figures, type Scale } from './scenarios.js';

export interface LatencyRuns {
  baseline: Figures[];
  /** Partyline with Redis `appendfsync always` (the bench's default). */
  partyline: Figures[];
  /** Partyline with Redis `appendfsync everysec`. */
  everysec: Figures[];
  /** Bare durable appends at the same rate, `always` and `everysec`. */
  floor: FloorFigures[];
  floorEverysec: FloorFigures[];
}

type Contender = keyof LatencyRuns;

/**
 * Unmeasured publishing before every window (and unmeasured appends before the floor's). Each run
 * starts fresh servers and workers, whose first messages go through cold code: deliveries of
 * 50–110 ms over the first ~0.5 s, in both systems, were more than 1 % of a 3 s window and so set
 * its p99 (measured with per-message timestamps).
 */
const WARM_UP_SECONDS = 1;

/**
 * Each round runs the baseline, then the `always` pair (floor, Partyline) and the `everysec` pair,
 * which of the two pairs goes first alternating by round: neither policy always runs after the other.
 */
const order = (round: number): Contender[] =>
  round % 2 === 0 ? ['baseline', 'floor', 'partyline', 'floorEverysec', 'everysec'] : ['baseline', 'floorEverysec', 'everysec', 'floor', 'partyline'];

/**
 * (c) latency at low load, in interleaved rounds: publish→delivery for the baseline and Partyline
 * (Redis `appendfsync always` and `everysec`) at `ratePerSecond` open loop, next to the floor (a bare
 * durable append round trip to the same Redis at the same rate); Redis's own view of its AOF over
 * every measured window. Every window follows {@link WARM_UP_SECONDS} of unmeasured load.
 */
export async function latencyRounds(redis: RedisServer, scale: Scale, ratePerSecond: number, progress: (text: string) => void): Promise<{ runs: LatencyRuns; redis: Record<Contender, RedisWindow[]> }> {
  const windows = {} as Record<Contender, RedisWindow[]>;
  const runs = await interleaved(`(c) latency at ${ratePerSecond} publishes/s`, scale.rounds, order, async (contender) => {
    await setAppendFsync(redis, contender === 'everysec' || contender === 'floorEverysec' ? 'everysec' : 'always');
    let watch: Awaited<ReturnType<typeof watchRedis>> | undefined;
    const started = async () => void (watch = await watchRedis(redis));
    const stopped = async () => void (windows[contender] ??= []).push(await watch!.stop());
    if (contender === 'floor' || contender === 'floorEverysec') {
      await started();
      const floor = await appendFloor(redis, ratePerSecond, scale.seconds, BODY_BYTES, WARM_UP_SECONDS);
      await stopped();
      return floor;
    }
    const system = contender === 'baseline' ? 'baseline' : 'partyline';
    return measure(system, redis, { ...forSystem(system, fanout(scale, ratePerSecond)), warmUpSeconds: WARM_UP_SECONDS }, { started, stopped });
  }, progress).finally(() => setAppendFsync(redis, 'always'));
  return { runs: runs as LatencyRuns, redis: windows };
}
