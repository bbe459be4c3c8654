import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { ASSUMPTIONS, planCapacity, TARGET } from './capacity-model.js';
import { CAPACITY_SHAPE, capacityRun, unitCosts, type CapacityShape } from './capacity-run.js';

const HELP = `partyline capacity — the capacity model's inputs, measured, and the model's answer (docs/capacity.md)

Usage: npm run capacity -- [--idle N] [--rooms N] [--room-size N] [--seconds N] [--bench-results FILE]

  ${CAPACITY_SHAPE.relays} relays over a ${CAPACITY_SHAPE.shards}-master Redis Cluster (AOF, appendfsync always). First N idle connections
  spread over the relays (relay RSS and CPU per idle connection), then the same idle connections plus
  small rooms (${CAPACITY_SHAPE.roomSize} members by default), every member publishing 100-byte messages with one in flight (relay CPU per
  delivered message, Redis CPU per message on each shard, delivered msgs/s). From these the model works
  out relays and shards for ${TARGET.connections.toLocaleString('en-US')} connections, ${TARGET.rooms.toLocaleString('en-US')} rooms and ${TARGET.deliveredPerSecond.toLocaleString('en-US')} delivered msgs/s.

  --idle N              idle connections (default ${CAPACITY_SHAPE.idleConnections.toLocaleString('en-US')}; load workers hold at most 5,000 sockets each)
  --rooms N             busy rooms (default ${CAPACITY_SHAPE.rooms}; not a multiple of ${CAPACITY_SHAPE.relays}, so rooms span relays)
  --room-size N         members per busy room, even (default ${CAPACITY_SHAPE.roomSize}); the model's target rooms have this size
  --seconds N           length of the measured load window (default ${CAPACITY_SHAPE.loadSeconds})
  --bench-results FILE  a bench/results/<date>.json of a run with scenarios b and d: prints the single-relay
                        slopes next to the cluster's (do they agree?)
  --help                show this help

Each process needs an open-file limit above its sockets (a relay holds about 1/${CAPACITY_SHAPE.relays} of all connections):
\`ulimit -n\` of 20,000 or more is enough at the default size.
Progress on stderr; a table on stdout; JSON in bench/results/capacity-<date>.json.`;

const { values } = parseArgs({
  options: { idle: { type: 'string' }, rooms: { type: 'string' }, 'room-size': { type: 'string' }, seconds: { type: 'string' }, 'bench-results': { type: 'string' }, help: { type: 'boolean' } },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

function positive(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`--${flag} must be a positive integer, not ${text}`);
    process.exit(2);
  }
  return value;
}

/** Scenario b and d slopes of a bench run (single Redis, one or two relays), where that run has them. */
function benchSlopes(file: string): { cpuMicrosPerDelivered: number | undefined; bytesPerConnection: number | undefined } {
  const results = (JSON.parse(readFileSync(file, 'utf8')) as { results?: Record<string, { partyline?: { cpuMicrosPerDelivered?: number; bytesPerConnection?: number } }> }).results ?? {};
  return { cpuMicrosPerDelivered: results.b?.partyline?.cpuMicrosPerDelivered, bytesPerConnection: results.d?.partyline?.bytesPerConnection };
}

const shape: CapacityShape = {
  ...CAPACITY_SHAPE,
  idleConnections: positive('idle', values.idle, CAPACITY_SHAPE.idleConnections),
  rooms: positive('rooms', values.rooms, CAPACITY_SHAPE.rooms),
  roomSize: positive('room-size', values['room-size'], CAPACITY_SHAPE.roomSize),
  loadSeconds: positive('seconds', values.seconds, CAPACITY_SHAPE.loadSeconds),
};
if (shape.roomSize % 2 !== 0) {
  console.error(`--room-size must be even (each load worker holds two members of every room), not ${shape.roomSize}`);
  process.exit(2);
}
const bench = values['bench-results'] ? benchSlopes(values['bench-results']) : undefined;
// The relay changes under this bench between runs: say which build was measured.
const relayBuild = statSync(createRequire(import.meta.url).resolve('@partyline/relay')).mtime.toISOString();
const progress = (text: string) => console.error(`[capacity ${new Date().toISOString().slice(11, 19)}] ${text}`);

const run = await capacityRun(shape, progress);
const costs = unitCosts(run);
// The measured fan-out stands for the target's rooms only if they have the run's size.
const target = { ...TARGET, roomSize: shape.roomSize };
const plan = planCapacity(costs, target);

const format = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 1 ? n.toFixed(2) : n.toPrecision(2));
const percent = (share: number) => `${(share * 100).toFixed(1)} %`;
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const row = (...cells: string[]) => console.log(`| ${cells.join(' | ')} |`);

console.log(`\nCapacity run — ${shape.relays} relays, ${shape.shards}-master Redis Cluster, on ${machine}; relay built ${relayBuild}\n`);
row('measured', 'value', 'unit');
row('---', '---:', '---');
row(`relay RSS per idle connection (${shape.idleConnections.toLocaleString('en-US')} idle, after GC)`, format(run.idle.relayRssBytesPerConnection), 'B');
row('relay JS heap per idle connection', format(run.idle.relayHeapBytesPerConnection), 'B');
row('relay RSS with no connections (mean of relays)', format(costs.relayBaseRssBytes / 2 ** 20), 'MiB');
row('relay CPU with no connections (each relay, share of a core)', run.idle.relayCpuMicrosPerSecondEmpty.map((micros) => percent(micros / 1e6)).join(', '), '');
row('Redis CPU with no connections (each shard, share of a core)', run.idle.redisCpuMicrosPerSecondEmpty.map((micros) => percent(micros / 1e6)).join(', '), '');
row('relay CPU per idle connection-second, above empty (heartbeats)', format(run.idle.relayCpuMicrosPerConnectionSecond), 'µs');
row('Redis CPU per idle connection-second, above empty (all shards)', format(run.idle.redisCpuMicrosPerConnectionSecond), 'µs');
row(`delivered msgs/s (${run.load.connections.toLocaleString('en-US')} connections, ${shape.rooms} rooms × ${shape.roomSize})`, format(run.load.deliveredPerSecond), 'msg/s');
row('published (acked) msgs/s', format(run.load.publishedPerSecond), 'msg/s');
row('deliveries per published message', format(run.load.deliveriesPerPublish), '');
row('relays a room spans', format(run.load.relaysPerRoom), '');
row('publish errors', String(run.load.errors), '');
row('p50 / p99 publish→delivery (CPU-saturated machine)', `${format(run.load.p50Ms)} / ${format(run.load.p99Ms)}`, 'ms');
row('relay CPU per delivered message, all relay CPU', format(run.load.relayCpuMicrosPerDeliveredGross), 'µs');
row('relay CPU per delivered message, empty CPU and idle upkeep taken out', format(run.load.relayCpuMicrosPerDelivered), 'µs');
row('relay CPU used (each relay, share of a core)', run.load.relayCpuShares.map(percent).join(', '), '');
row('Redis CPU per published message, all shards', format(run.load.redisCpuMicrosPerPublished), 'µs');
for (const shard of run.load.shards) {
  row(`Redis shard :${shard.port} — CPU per published / per delivered message, share of a core`, `${format(shard.cpuMicrosPerPublished)} / ${format(shard.cpuMicrosPerDelivered)}, ${percent(shard.cpuShare)}`, 'µs');
}

// The load generators count a publisher's own copy (in its ack) as a delivery: a run that keeps up delivers about
// room-size copies of each message inside the window. Far fewer means deliveries queue behind publishes.
const lagging = run.load.deliveriesPerPublish < 0.9 * shape.roomSize;
if (lagging) {
  console.log(
    `\nDeliveries lag publishes (${format(run.load.deliveriesPerPublish)} per message in rooms of ${shape.roomSize}): the machine is past saturation, ` +
      'so per-delivered costs and the model below are overstated. Use fewer rooms.',
  );
}

if (bench) {
  console.log(`\nSlopes next to the single-Redis bench (${values['bench-results']})\n`);
  row('slope', 'bench', 'this run', 'ratio');
  row('---', '---:', '---:', '---:');
  const compare = (name: string, single: number | undefined, here: number) =>
    row(name, single === undefined ? 'not in file' : format(single), format(here), single === undefined ? '—' : `${(here / single).toFixed(2)}×`);
  compare('RSS per idle connection, B (bench d: 1 relay)', bench.bytesPerConnection, run.idle.relayRssBytesPerConnection);
  compare('relay CPU per delivered, µs, all CPU (bench b: 2 relays)', bench.cpuMicrosPerDelivered, run.load.relayCpuMicrosPerDeliveredGross);
}

console.log(
  `\nModel for ${target.connections.toLocaleString('en-US')} connections, ${target.rooms.toLocaleString('en-US')} rooms of ${target.roomSize}, ` +
    `${target.deliveredPerSecond.toLocaleString('en-US')} delivered msgs/s (CPU headroom ${percent(ASSUMPTIONS.cpuHeadroom)} of a core, ` +
    `relay RSS budget ${ASSUMPTIONS.relayMemoryBytes / 2 ** 30} GiB, 1 core per relay process)\n`,
);
row('model', 'value');
row('---', '---:');
row('published msgs/s (delivered ÷ measured fan-out)', format(plan.publishedPerSecond));
row('published msgs/s per room', format(plan.publishedPerRoomSecond));
row('relay cores busy (upkeep + deliveries)', format(plan.relayCores));
row('relays needed for CPU / for memory', `${plan.relaysForCpu} / ${plan.relaysForMemory}`);
row('**relays**', `**${plan.relays}** (${format(plan.connectionsPerRelay)} connections each)`);
row('pub/sub spread vs this run (relays a room reaches)', `${plan.pubSubSpread.toFixed(2)}×`);
row('Redis cores busy', format(plan.redisCores));
row('**Redis Cluster shards (masters)**', `**${plan.shards}** (${plan.shardsWithoutSpread} if reaching more relays cost Redis nothing)`);
row('cores in all (relays + shards, replicas not counted)', String(plan.relays + plan.shards));

mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
const name = `capacity-${new Date().toISOString().slice(0, 10)}.json`;
writeFileSync(new URL(`../results/${name}`, import.meta.url), `${JSON.stringify({ date: new Date().toISOString(), machine, relayBuild, lagging, run, costs, target, assumptions: ASSUMPTIONS, plan, bench }, null, 2)}\n`);
console.log(`\nJSON: bench/results/${name}`);
