import { describe, expect, it } from 'vitest';
import { runSeed } from '../sim/run.js';

/** The fixed budget `npm test` spends (about a minute on a 2-core machine); longer runs: `npm run simulate -- --seeds 10000`. */
const SEEDS = Number(process.env.SIM_SEEDS ?? 400);
const STEPS = 100;

describe('the deterministic simulation of the SDK core', () => {
  it('replays a seed exactly: the same steps, times and verdicts', async () => {
    const first = await runSeed({ seed: 4242, steps: STEPS });
    const again = await runSeed({ seed: 4242, steps: STEPS });
    expect(again.trace).toEqual(first.trace);
    expect(again.violations).toEqual(first.violations);
    expect({ delivered: again.delivered, published: again.published, settleMs: again.settleMs }).toEqual({ delivered: first.delivered, published: first.published, settleMs: first.settleMs });
    expect(first.published).toBeGreaterThan(0);
  });

  it(`finds no safety or liveness violation in ${SEEDS} seeded schedules of every fault`, async () => {
    const failed: string[] = [];
    let steps = 0;
    let delivered = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = await runSeed({ seed, steps: STEPS });
      steps += result.steps;
      delivered += result.delivered;
      if (!result.ok) failed.push(`seed ${seed}: ${result.violations[0]} (replay: npm run simulate -- --seed ${seed})`);
    }
    console.log(`simulated ${SEEDS} seeds, ${steps} steps, ${delivered} messages handed to app views, ${failed.length} failed`);
    expect(failed).toEqual([]);
    expect(delivered).toBeGreaterThan(SEEDS);
  }, 600_000);
});
