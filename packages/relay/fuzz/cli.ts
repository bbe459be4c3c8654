import { parseArgs } from 'node:util';
import { runFuzz, type FuzzStats } from './relay-fuzzer.js';

const HELP = `partyline fuzz — bad input against live relays (real redis-server, relay processes)

Usage: npm run fuzz -- [--inputs N] [--seed S]

  --inputs N   inputs to try, split over events, raw frames, nested JSON, tokens and floods (default 12000)
  --seed S     fast-check seed, for a reproducible run (default 42)
  --help       show this help

Every category runs twice: a warm-up (10% of the inputs, at least 6,000 or half), then the rest.
The fuzzer runs at the lowest CPU priority once the relays are up, so its own work does not count.
Measures each relay's longest event-loop stall (from its own /metrics) over the whole run, and the
relays' RSS from the end of the warm-up (their working set: JIT code, pools, heap spaces) to the end.
Exits non-zero if a relay crashed, an answer was not a typed error, a room log was corrupted, a relay
stalled longer than 100 ms, or the relays' RSS did not come back within 20 MB of where it started.`;

const MAX_STALL_MS = 100;
const MAX_RSS_GROWTH_MB = 20;

const { values } = parseArgs({ options: { inputs: { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const inputs = Number(values.inputs ?? 12_000);
const seed = Number(values.seed ?? 42);
if (!Number.isInteger(inputs) || inputs <= 0 || !Number.isInteger(seed)) {
  console.error('fuzz: --inputs and --seed must be integers (see --help)');
  process.exit(2);
}

const line = (s: FuzzStats) =>
  `tried ${s.tried}  accepted ${s.accepted}  typed rejections ${s.typedRejections}  untyped ${s.untypedRejections}  closed ${s.closedConnections}  crashes ${s.crashes}`;
const started = Date.now();
const stats = await runFuzz({ inputs, seed, onProgress: (s) => process.stderr.write(`\r${line(s)}   `) });
process.stderr.write('\n');
console.log(`inputs tried:        ${stats.tried}`);
for (const [category, n] of Object.entries(stats.byCategory)) console.log(`  ${category.padEnd(18)} ${n}`);
console.log(`accepted:            ${stats.accepted}`);
console.log(`typed rejections:    ${stats.typedRejections}`);
console.log(`untyped rejections:  ${stats.untypedRejections}`);
console.log(`connections closed:  ${stats.closedConnections}`);
console.log(`crashes:             ${stats.crashes}`);
console.log(`room logs checked:   ${stats.logsChecked} (corrupt: ${stats.corruptLogs})`);
const vitals = stats.vitals!;
const stalled = vitals.maxStallMs > MAX_STALL_MS;
const leaked = vitals.rssEndMb - vitals.rssStartMb > MAX_RSS_GROWTH_MB;
console.log(`max event-loop stall: ${vitals.maxStallMs.toFixed(1)} ms${stalled ? ` (over ${MAX_STALL_MS} ms)` : ''}`);
console.log(`  by phase (ms):     ${Object.entries(vitals.stallByPhaseMs).map(([phase, ms]) => `${phase} ${ms.toFixed(0)}`).join(', ')}`);
console.log(`  RSS as each began: ${Object.entries(vitals.rssAtPhaseMb).map(([phase, mb]) => `${phase} ${mb.toFixed(0)}`).join(', ')}`);
console.log(`relay RSS (MB):      start ${vitals.rssStartMb.toFixed(0)}, peak ${vitals.rssPeakMb.toFixed(0)}, end ${vitals.rssEndMb.toFixed(0)}${leaked ? ` (did not return within ${MAX_RSS_GROWTH_MB} MB)` : ''}`);
console.log(`seconds:             ${((Date.now() - started) / 1000).toFixed(1)}`);
process.exit(stats.crashes === 0 && stats.untypedRejections === 0 && stats.corruptLogs === 0 && !stalled && !leaked ? 0 : 1);
