import { parseArgs } from 'node:util';
import { runFuzz, type FuzzStats } from './relay-fuzzer.js';

const HELP = `partyline fuzz — bad input against live relays (real redis-server, relay processes)

Usage: npm run fuzz -- [--inputs N] [--seed S]

  --inputs N   inputs to try, split over events, raw frames, tokens and floods (default 12000)
  --seed S     fast-check seed, for a reproducible run (default 42)
  --help       show this help

Exits non-zero if a relay crashed, an answer was not a typed error, or a room log was corrupted.`;

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
console.log(`seconds:             ${((Date.now() - started) / 1000).toFixed(1)}`);
process.exit(stats.crashes === 0 && stats.untypedRejections === 0 && stats.corruptLogs === 0 ? 0 : 1);
