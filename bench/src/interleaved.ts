/** Above this share of the machine taken by other processes during a run, the run is flagged. */
const FOREIGN_CPU_WARNING = 0.1;

/**
 * Interleaved runs: round 1 runs every contender once, then round 2, and so on (baseline, partyline,
 * baseline, partyline, …), so a drift of the machine over the bench (other work, heat, a growing
 * Redis file) falls on every contender alike instead of on whichever ran last.
 */
export async function interleaved<Name extends string, Result>(
  title: string,
  rounds: number,
  /** The contenders of one round, in the order they run (may differ per round, e.g. alternate). */
  order: (round: number) => readonly Name[],
  run: (name: Name, round: number) => Promise<Result>,
  progress: (text: string) => void,
): Promise<Record<Name, Result[]>> {
  const runs = {} as Record<Name, Result[]>;
  for (let round = 0; round < rounds; round++) {
    const names = order(round);
    for (const name of names) {
      progress(`${title}: ${names.length === 2 ? 'pair' : 'round'} ${round + 1}/${rounds} ${name}`);
      const result = await run(name, round);
      const foreign = (result as { foreignCpuShare?: number }).foreignCpuShare ?? 0;
      if (foreign > FOREIGN_CPU_WARNING) progress(`  ! processes outside this bench used ${Math.round(foreign * 100)} % of the machine's CPU during that run: it is skewed`);
      (runs[name] ??= []).push(result);
    }
  }
  return runs;
}
