import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { coverageReport, covered } from './coverage.js';
import { LIVENESS_BOUND_MS, runSeed, shrink, type SeedResult } from './run.js';
import { FAULT_KINDS, type FaultKind } from './schedule.js';

const HELP = `npm run simulate -- [options]

Runs the real SDK core (connection, rooms, flusher, presence, outbox and cache in fake-indexeddb)
in 2 profiles with up to 3 tabs each against model relays on a virtual clock, through seeded
random schedules of app work and faults; checks every tab's app view after every step (safety)
and that everything settles within ${LIVENESS_BOUND_MS / 1000} s of virtual time after the faults heal (liveness).
A failing seed is shrunk to its shortest failing schedule and printed; the same seed replays exactly.

  --seeds N        how many seeds (from --first)                        default 200
  --first S        the first seed                                       default 1
  --seed S         run one seed only, printing its trace
  --steps K        steps per seed                                       default 100
  --faults a,b     fault families to use: ${FAULT_KINDS.join(', ')} (default: all)
  --only i,j,…     with --seed: run only these steps of its schedule (a shrunk schedule)
  --workers W      processes in parallel                                default 2
  --no-shrink      report failing seeds without shrinking them
  --match TEXT     shrink towards a violation that contains TEXT (one seed has several)
  --verbose        print each step as it runs (with --seed)
  --help           this text
`;

interface Args {
  seeds: number;
  first: number;
  seed: number | undefined;
  steps: number;
  faults: Set<FaultKind>;
  only: number[] | undefined;
  workers: number;
  shrink: boolean;
  match: string;
  verbose: boolean;
}

function parse(argv: string[]): Args {
  const args: Args = { seeds: 200, first: 1, seed: undefined, steps: 100, faults: new Set(FAULT_KINDS), only: undefined, workers: 2, shrink: true, match: '', verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) fail(`${flag} needs a value`);
      return next;
    };
    const count = () => {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 0) fail(`${flag} needs a whole number`);
      return n;
    };
    switch (flag) {
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        process.exit(0);
      case '--seeds':
        args.seeds = count();
        break;
      case '--first':
        args.first = count();
        break;
      case '--seed':
        args.seed = count();
        break;
      case '--steps':
        args.steps = count();
        break;
      case '--workers':
        args.workers = Math.max(1, count());
        break;
      case '--faults': {
        const names = value().split(',').filter(Boolean);
        for (const name of names) if (!(FAULT_KINDS as readonly string[]).includes(name)) fail(`unknown fault family ${name} (known: ${FAULT_KINDS.join(', ')})`);
        args.faults = new Set(names as FaultKind[]);
        break;
      }
      case '--only':
        args.only = value().split(',').map(Number);
        break;
      case '--match':
        args.match = value();
        break;
      case '--no-shrink':
        args.shrink = false;
        break;
      case '--verbose':
        args.verbose = true;
        break;
      default:
        fail(`unknown option ${flag}`);
    }
  }
  return args;
}

function fail(message: string): never {
  process.stderr.write(`simulate: ${message}\n\n${HELP}`);
  process.exit(2);
}

function printFailure(result: SeedResult, args: Args): void {
  const replay = `npm run simulate -- --seed ${result.seed} --steps ${args.steps}${args.faults.size < FAULT_KINDS.length ? ` --faults ${[...args.faults].join(',')}` : ''} --only ${result.indices.join(',')}`;
  console.log(`\nseed ${result.seed} FAILED (${result.steps} steps after shrinking)`);
  for (const line of result.trace) console.log(`  ${line}`);
  for (const violation of result.violations.slice(0, 20)) console.log(`  VIOLATION ${violation}`);
  console.log(`  replay: ${replay}`);
}

/** A worker: runs the seeds it is sent and reports each result. */
async function worker(args: Args): Promise<void> {
  process.on('message', async (message: { seeds: number[] }) => {
    for (const seed of message.seeds) {
      const result = await runSeed({ seed, steps: args.steps, faults: args.faults });
      process.send!({ result: { ...result, trace: result.ok ? [] : result.trace } });
    }
    process.send!({ done: true, coverage: [...covered] });
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--worker') return worker(parse(argv.slice(1)));
  const args = parse(argv);
  if (args.seed !== undefined) {
    const result = await runSeed({ seed: args.seed, steps: args.steps, faults: args.faults, verbose: args.verbose, ...(args.only ? { only: args.only } : {}) });
    if (result.ok) {
      console.log(`seed ${args.seed}: ok — ${result.steps} steps, ${result.published} published, ${result.delivered} delivered, ${result.resets} resets, settled ${result.settleMs} ms after the heal`);
      return;
    }
    printFailure(args.shrink && !args.only ? await shrink({ seed: args.seed, steps: args.steps, faults: args.faults }, 200, args.match) : result, args);
    process.exitCode = 1;
    return;
  }
  const started = performance.now();
  const seeds = Array.from({ length: args.seeds }, (_, i) => args.first + i);
  const failed: SeedResult[] = [];
  let done = 0;
  let steps = 0;
  let delivered = 0;
  let published = 0;
  let resets = 0;
  let worstSettle = 0;
  const settles: number[] = [];
  const script = fileURLToPath(import.meta.url);
  const workers = Math.min(args.workers, seeds.length);
  await Promise.all(
    Array.from({ length: workers }, (_, w) =>
      new Promise<void>((resolve, reject) => {
        const child = fork(script, ['--worker', ...argv], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        child.on('message', (message: { result?: SeedResult; done?: boolean; coverage?: string[] }) => {
          if (message.done) {
            for (const key of message.coverage ?? []) covered.add(key);
            child.kill();
            return resolve();
          }
          const result = message.result!;
          done++;
          steps += result.steps;
          delivered += result.delivered;
          published += result.published;
          resets += result.resets;
          if (result.ok) {
            settles.push(result.settleMs);
            worstSettle = Math.max(worstSettle, result.settleMs);
          } else failed.push(result);
          if (done % 100 === 0 || done === seeds.length) {
            process.stderr.write(`  ${done}/${seeds.length} seeds, ${steps.toLocaleString('en')} steps, ${failed.length} failed, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
          }
        });
        child.on('error', reject);
        child.send({ seeds: seeds.filter((_, i) => i % workers === w) });
      }),
    ),
  );
  settles.sort((a, b) => a - b);
  console.log(
    `simulated ${done.toLocaleString('en')} seeds, ${steps.toLocaleString('en')} steps in ${((performance.now() - started) / 1000).toFixed(1)} s: ` +
      `${published.toLocaleString('en')} published, ${delivered.toLocaleString('en')} delivered to app views, ${resets} resets; ` +
      `${failed.length} failed; settled after the heal in p50 ${settles[Math.floor(settles.length / 2)] ?? '-'} ms, max ${worstSettle} ms (bound ${LIVENESS_BOUND_MS} ms)`,
  );
  console.log(coverageReport(covered));
  failed.sort((a, b) => a.seed - b.seed);
  for (const result of failed.slice(0, 3)) printFailure(args.shrink ? await shrink({ seed: result.seed, steps: args.steps, faults: args.faults }) : result, args);
  if (failed.length > 3) console.log(`\n… and ${failed.length - 3} more failing seeds: ${failed.slice(3, 40).map((result) => result.seed).join(', ')}`);
  if (failed.length > 0) process.exitCode = 1;
}

await main();
