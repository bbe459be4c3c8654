import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { runChaos } from './run-chaos.js';

const HELP = `partyline chaos — seeded faults against relays, Redis and SDK clients, then an exactly-once checker

Usage: npm run chaos -- [--clients 200] [--relays 3] [--duration 60] [--seed 42]

  --clients N    SDK clients (Node, fake-indexeddb), 10 per room            (default 200)
  --browsers N   members in real Chromium tabs (own profile, own proxy)      (default 2)
  --relays N     relay processes sharing one redis-server (AOF always)      (default 3)
  --duration S   seconds of faults before healing                           (default 60)
  --seed S       seed for faults and publish timing; same seed, same plan   (default 42)
  --faults LIST  only these kinds, in order, once each (e.g. rolling-restart)  (default: all kinds, then random)
  --help         show this help

Faults: per-client network cuts (TCP proxy), client restarts with the persisted outbox, relay SIGKILL
and restart, relay SIGTERM drain and restart, Redis SIGKILL and restart, Redis SIGSTOP/SIGCONT, a
rolling restart of every relay; and token expiry throughout (every token lives 5–15 s). Exits non-zero if lost, duplicated or reordered is above 0, or the run did not quiesce.`;

const { values } = parseArgs({
  options: {
    clients: { type: 'string' },
    relays: { type: 'string' },
    duration: { type: 'string' },
    seed: { type: 'string' },
    faults: { type: 'string' },
    browsers: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const numbers = { browsers: Number(values.browsers ?? 2), clients: Number(values.clients ?? 200), relays: Number(values.relays ?? 3), duration: Number(values.duration ?? 60), seed: Number(values.seed ?? 42) };
for (const [name, value] of Object.entries(numbers)) {
  if (!Number.isInteger(value) || value < (name === 'browsers' ? 0 : 1)) {
    console.error(`chaos: --${name} must be a positive integer (see --help)`);
    process.exit(2);
  }
}

const faults = values.faults?.split(',').map((kind) => kind.trim()) as FaultKind[] | undefined;
for (const kind of faults ?? []) {
  if (!FAULT_KINDS.includes(kind)) {
    console.error(`chaos: unknown fault ${JSON.stringify(kind)}; kinds: ${FAULT_KINDS.join(', ')}`);
    process.exit(2);
  }
}
const started = Date.now();
const report = await runChaos({
  clients: numbers.clients,
  relays: numbers.relays,
  durationSeconds: numbers.duration,
  seed: numbers.seed,
  browsers: numbers.browsers,
  ...(faults ? { faults } : {}),
  onProgress: (line) => console.error(`[chaos ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`),
});
console.log(`published:              ${report.published}`);
console.log(`appended:               ${report.appended}`);
console.log(`delivered:              ${report.delivered}`);
console.log(`lost:                   ${report.lost}`);
console.log(`duplicated:             ${report.duplicated}`);
console.log(`reordered:              ${report.reordered}`);
console.log(`resets reported:        ${report.resets}`);
console.log(`faults injected:        ${Object.entries(report.faults).map(([kind, n]) => `${kind} ${n}`).join(', ')}`);
console.log(`seconds to quiescence:  ${report.secondsToQuiescence.toFixed(1)}${report.quiesced ? '' : ' (did not quiesce)'}`);
for (const example of report.examples) console.log(`  ! ${example}`);
process.exit(report.lost === 0 && report.duplicated === 0 && report.reordered === 0 && report.quiesced ? 0 : 1);
