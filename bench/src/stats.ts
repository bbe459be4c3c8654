/**
 * Statistics for interleaved A/B runs: each figure is the median of several runs with its spread,
 * and a ratio is called a tie when it lies within the machine's noise floor (the baseline vs itself).
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Which way a figure improves: delivered msgs/s `higher`, CPU, latency and memory `lower`. */
export type Better = 'higher' | 'lower';

/** `n/a`: no ratio to judge (a figure of zero or none). */
export type Verdict = 'better' | 'worse' | 'tie' | 'n/a';

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function spread(values: readonly number[]): Spread {
  const finite = values.filter((value) => !Number.isNaN(value));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite) };
}

/** How far apart two positive figures are as a factor ≥ 1 (1.1: one is 10 % above the other, either way). */
function factorApart(a: number, b: number): number {
  return Math.max(a / b, b / a);
}

/**
 * The noise floor of one figure, as a factor ≥ 1: the median of how far each baseline run lies from
 * the next (run i vs run i + 1). Consecutive runs, because the machine drifts over a long bench
 * (other work, thermal state): this is the difference a re-run of the same thing typically shows.
 * NaN with fewer than two usable runs (zero or NaN figures are skipped).
 */
export function noiseFloor(baselineRuns: readonly number[]): number {
  const usable = baselineRuns.filter((value) => value > 0);
  const factors = usable.slice(1).map((value, i) => factorApart(usable[i]!, value));
  return median(factors);
}

/**
 * Partyline's ratio to the baseline judged against the noise floor: within it (either way) a tie;
 * outside it better or worse by the figure's direction. No noise floor known: no tie is claimed.
 */
export function verdict(ratio: number, noise: number, better: Better): Verdict {
  if (!(ratio > 0) || !Number.isFinite(ratio)) return 'n/a';
  if (!Number.isNaN(noise) && factorApart(ratio, 1) <= noise) return 'tie';
  return (ratio > 1) === (better === 'higher') ? 'better' : 'worse';
}
