import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { startRedis } from '@partyline/test-support';
import { fanout, forSystem, FULL, idleMemory, measure, QUICK, smallRooms, type Figures } from './scenarios.js';
import { interleaved } from './interleaved.js';
import { latencyRounds } from './latency-scenario.js';
import { describeWindows } from './redis-watch.js';
import { median, noiseFloor, spread, verdict, type Better, type Spread, type Verdict } from './stats.js';
import { presenceChurn, type ChurnScale } from './presence-scenario.js';
import { browserEnqueue, bundleSizes, outboxFlush } from './sdk-scenarios.js';
import { historyWindows } from './history-scenario.js';
import { httpPublish } from './http-scenario.js';

const HELP = `partyline bench — Partyline vs plain Socket.IO + @socket.io/redis-adapter, same run, same machine

Usage: npm run bench -- [--quick] [--scenarios a,b,c,d,e,f,g,h,i,j] [--rounds 5]

  --quick        smaller scale (300 fan-out subscribers, 250 rooms, 2,000 idle connections, 500 presence members, 3 s runs)
  --rounds       interleaved rounds of a, b, c and f (default 5): each round runs every contender once
                 (baseline, partyline, baseline, partyline, …); figures are medians with their min–max
  --scenarios    which to run (default all):
                   a  fan-out: 1 room, 1,000 subscribers over 2 relays, delivered msgs/s
                   b  many small rooms: 2,000 rooms × 4 members all publishing, delivered msgs/s
                   c  latency at low load: 20% of the baseline's saturation publish rate (open loop); Redis syncs
                      its AOF before every reply (appendfsync always: no acked message lost on power loss).
                      Each round also runs the floor (bare durable appends, EVALSHA of one XADD, to the same
                      Redis at the same rate) and both again with appendfsync everysec (a power loss may lose
                      ~1 s of acked messages); Partyline's p50 is set against baseline p50 + floor p50 + 0.5 ms,
                      its p99 against baseline p99 + floor p99 too, and Redis's AOF stalls (INFO persistence,
                      latency monitor) are printed per contender. Every window follows 1 s of unmeasured load
                   d  10,000 idle connections on one relay, bytes per connection (V8 young generation fixed at 2 × 16 MB
                      in both servers, so its growth steps are not counted as connections' memory)
                   e  outbox flush: 10,000 messages queued offline in one SDK client, seconds until all acked
                   f  headless Chromium, profile on disk: IndexedDB enqueue rate and p99, batched (group commit) vs one
                      transaction per message; batched also with strict durability (a disk flush per transaction);
                      at 10,000 msgs/s offered, the SDK vs IndexedDB alone in interleaved pairs in the same page
                   g  SDK bundle (minified + gzipped, with dependencies) vs socket.io-client alone
                   h  presence churn: 2,000 members in rooms of 20 over 2 relays, each leaving and entering again
                      (pausing ~1 s after each answer): changes/s, relay CPU, Redis CPU and commands per change
                      (plain Socket.IO has no presence: no baseline)
                   i  history windows: a 1,000,000-message room (100,000 with --quick) vs a 1,000-message room —
                      time to a new member's newest 50, backward pages p50/p99 under live publishing, relay RSS
                      (the "baseline" column is the 1,000-message room: the ratio should stay near 1)
                   j  HTTP publish (Idempotency-Key, 16 in flight) vs socket publish on the same relay:
                      msgs/s, p50, p99 (the "baseline" column is the socket)
  --help         show this help

Relays, baseline servers and load generators run as separate processes; Redis is a real redis-server.
Results: a table on stdout (progress on stderr) and bench/results/<date>.json with every run's raw figures.
The noise floor column is the machine's run-to-run noise (the baseline vs itself, consecutive runs);
a ratio within it is called a tie.

Environment:
  BENCH_CPU_PROF=<dir>   write a V8 CPU profile of every server over each measured window
                         (open in Chrome DevTools or speedscope)`;

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, scenarios: { type: 'string' }, rounds: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const rounds = Number(values.rounds ?? (values.quick ? QUICK : FULL).rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds: a whole number ≥ 1, not ${values.rounds}`);
  process.exit(2);
}
const scale = { ...(values.quick ? QUICK : FULL), rounds };
const wanted = new Set((values.scenarios ?? 'a,b,c,d,e,f,g,h,i,j').split(','));
const progress = (text: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);

/**
 * One line of the table. Interleaved scenarios (a, b, c, f at the offered rate) give medians with `spread`, the noise floor of
 * the figure (baseline vs itself) and a verdict; `noBaseline`: plain Socket.IO has nothing to compare
 * with (printed n/a).
 */
type Row = {
  scenario: string;
  metric: string;
  partyline: number;
  baseline: number;
  ratio: number;
  unit: string;
  noBaseline?: boolean;
  spread?: { partyline: Spread; baseline: Spread };
  noiseFloor?: number;
  verdict?: Verdict;
};
const sdkResults: Record<string, unknown> = {};
const rows: Row[] = [];
const results: Record<string, unknown> = {};
const add = (scenario: string, metric: string, unit: string, p: number, b: number) =>
  rows.push({ scenario, metric, unit, partyline: p, baseline: b, ratio: b === 0 ? Number.NaN : p / b });
/** A row of medians over interleaved runs; the noise floor from `noiseRuns` (the baseline's runs unless told). */
const addMedians = (scenario: string, metric: string, unit: string, better: Better, partylineRuns: number[], baselineRuns: number[], noiseRuns = baselineRuns) => {
  const p = spread(partylineRuns);
  const b = spread(baselineRuns);
  const ratio = b.median === 0 ? Number.NaN : p.median / b.median;
  const noise = noiseFloor(noiseRuns);
  rows.push({ scenario, metric, unit, partyline: p.median, baseline: b.median, ratio, spread: { partyline: p, baseline: b }, noiseFloor: noise, verdict: verdict(ratio, noise, better) });
};
/** A figure Partyline alone has (the baseline column prints n/a), as a median with its spread. */
const addAlone = (scenario: string, metric: string, unit: string, runs: number[]) => {
  const p = spread(runs);
  rows.push({ scenario, metric, unit, partyline: p.median, baseline: Number.NaN, ratio: Number.NaN, noBaseline: true, spread: { partyline: p, baseline: spread([]) } });
};
const figure = (runs: Figures[], name: keyof Figures) => runs.map((run) => Number(run[name] ?? Number.NaN));
/** The rows of (a) and (b). */
const addLoadRows = (runs: Record<'baseline' | 'partyline', Figures[]>, scenario: string) => {
  addMedians(scenario, 'delivered msgs/s', 'msg/s', 'higher', figure(runs.partyline, 'deliveredPerSecond'), figure(runs.baseline, 'deliveredPerSecond'));
  addMedians(scenario, 'relay CPU per delivered', 'µs', 'lower', figure(runs.partyline, 'cpuMicrosPerDelivered'), figure(runs.baseline, 'cpuMicrosPerDelivered'));
  addMedians(scenario, 'relay RSS (2 relays)', 'MB', 'lower', figure(runs.partyline, 'rssMb'), figure(runs.baseline, 'rssMb'));
};
const benchStarted = performance.now();
const redis = await startRedis({ appendOnly: true });
/** (a) and (b): baseline, partyline, baseline, partyline, … */
const pairs = (title: string, spec: Parameters<typeof forSystem>[1]) =>
  interleaved(title, scale.rounds, () => ['baseline', 'partyline'] as const, (system) => measure(system, redis, forSystem(system, spec)), progress);
try {
  let baselineSaturation = 0;
  if (wanted.has('a') || wanted.has('c')) {
    const runs = await pairs(`(a) fan-out, ${scale.fanoutSubscribers} subscribers over 2 relays`, fanout(scale));
    baselineSaturation = median(figure(runs.baseline, 'publishedPerSecond'));
    results.a = { runs };
    addLoadRows(runs, 'a fan-out');
  }
  if (wanted.has('b')) {
    const runs = await pairs(`(b) ${scale.smallRooms} rooms × 4 members`, smallRooms(scale));
    results.b = { runs };
    addLoadRows(runs, 'b small rooms');
  }
  if (wanted.has('c')) {
    // Low load, as the latency target is stated: what a publish costs when nothing queues.
    const rate = Math.max(10, Math.round(baselineSaturation / 5));
    const c = await latencyRounds(redis, scale, rate, progress);
    results.c = { ratePerSecond: rate, ...c };
    const scenario = `c latency @${rate}/s`;
    const { baseline, partyline, everysec, floor, floorEverysec } = c.runs;
    addMedians(scenario, 'p50 publish→delivery', 'ms', 'lower', figure(partyline, 'p50Ms'), figure(baseline, 'p50Ms'));
    addMedians(scenario, 'p99 publish→delivery', 'ms', 'lower', figure(partyline, 'p99Ms'), figure(baseline, 'p99Ms'));
    addMedians(scenario, 'p99.9 publish→delivery', 'ms', 'lower', figure(partyline, 'p999Ms'), figure(baseline, 'p999Ms'));
    addAlone(scenario, 'floor: bare durable append (EVALSHA XADD) p50', 'ms', floor.map((run) => run.p50Ms));
    addAlone(scenario, 'floor: bare durable append (EVALSHA XADD) p99', 'ms', floor.map((run) => run.p99Ms));
    // The target: what the baseline takes plus what durability must take at least, plus 0.5 ms.
    const targets = baseline.map((run, i) => run.p50Ms + (floor[i]?.p50Ms ?? Number.NaN) + 0.5);
    addMedians(scenario, 'p50 vs target (baseline p50 + floor p50 + 0.5 ms)', 'ms', 'lower', figure(partyline, 'p50Ms'), targets, figure(baseline, 'p50Ms'));
    // Every message in flight waits out a stall of the disk's fsync (latency monitor, below), which the baseline never meets: the tail durability itself has here.
    const tailTargets = baseline.map((run, i) => run.p99Ms + (floor[i]?.p99Ms ?? Number.NaN));
    addMedians(scenario, 'p99 vs baseline p99 + floor p99 (the durable append’s own tail)', 'ms', 'lower', figure(partyline, 'p99Ms'), tailTargets, figure(baseline, 'p99Ms'));
    // What the strict default costs: Redis syncing its AOF once a second instead of before each reply.
    const vsAlways = `c latency @${rate}/s, everysec vs always`;
    addMedians(vsAlways, 'Partyline p50 (baseline column: always)', 'ms', 'lower', figure(everysec, 'p50Ms'), figure(partyline, 'p50Ms'), figure(partyline, 'p50Ms'));
    addMedians(vsAlways, 'Partyline p99 (baseline column: always)', 'ms', 'lower', figure(everysec, 'p99Ms'), figure(partyline, 'p99Ms'), figure(partyline, 'p99Ms'));
    addMedians(vsAlways, 'floor p50 (baseline column: always)', 'ms', 'lower', floorEverysec.map((run) => run.p50Ms), floor.map((run) => run.p50Ms), floor.map((run) => run.p50Ms));
  }
  if (wanted.has('d')) {
    progress(`(d) ${scale.idleConnections} idle connections on one relay — baseline`);
    const baseline = await idleMemory('baseline', redis, scale);
    progress(`(d) idle connections — partyline`);
    const partyline = await idleMemory('partyline', redis, scale);
    results.d = { partyline, baseline };
    add('d idle connections', 'RSS bytes per connection', 'B', partyline.bytesPerConnection ?? 0, baseline.bytesPerConnection ?? 0);
    add('d idle connections', 'JS heap bytes per connection', 'B', partyline.heapBytesPerConnection ?? 0, baseline.heapBytesPerConnection ?? 0);
  }
  if (wanted.has('e')) {
    const count = 10_000;
    progress(`(e) outbox flush: ${count} messages queued offline in one SDK client`);
    const flush = await outboxFlush(redis, count);
    sdkResults.e = flush;
    add('e outbox flush', `seconds until ${count.toLocaleString('en-US')} acked`, 's', flush.partyline, flush.baseline);
  }
  if (wanted.has('f')) {
    const count = values.quick ? 3000 : 10_000;
    const offered = { perSecond: 10_000, count: 10_000, rounds: scale.rounds };
    const enqueue = await browserEnqueue(count, offered, progress);
    sdkResults.f = enqueue;
    const atRate = `at ${offered.perSecond.toLocaleString('en-US')} msgs/s offered`;
    add('f IndexedDB enqueue (batched vs 1 tx/msg)', 'enqueued msgs/s, as fast as it goes', 'msg/s', enqueue.batched.perSecond, enqueue.oneTxPerMessage.perSecond);
    add('f IndexedDB enqueue (batched vs 1 tx/msg)', 'p99 enqueue latency, as fast as it goes', 'ms', enqueue.batched.p99Ms, enqueue.oneTxPerMessage.p99Ms);
    // One transaction per message cannot be offered 10,000 msgs/s at all (it tops out far lower): no baseline.
    // At the offered rate the baseline column is IndexedDB alone, written by hand (one record per round, no SDK): the browser's floor.
    const { sdk, raw } = enqueue.atOfferedRate;
    addMedians('f IndexedDB enqueue (SDK vs IndexedDB alone)', `enqueued msgs/s ${atRate}`, 'msg/s', 'higher', sdk.map((run) => run.perSecond), raw.map((run) => run.perSecond));
    addMedians('f IndexedDB enqueue (SDK vs IndexedDB alone)', `p50 enqueue latency ${atRate}`, 'ms', 'lower', sdk.map((run) => run.p50Ms), raw.map((run) => run.p50Ms));
    addMedians('f IndexedDB enqueue (SDK vs IndexedDB alone)', `p99 enqueue latency ${atRate}`, 'ms', 'lower', sdk.map((run) => run.p99Ms), raw.map((run) => run.p99Ms));
    // The same with outboxDurability 'strict' (a disk flush per transaction): what power-loss safety costs.
    add('f IndexedDB enqueue (strict durability)', 'enqueued msgs/s, as fast as it goes', 'msg/s', enqueue.strict.batched.perSecond, Number.NaN);
    add('f IndexedDB enqueue (strict durability)', `p99 enqueue latency ${atRate}`, 'ms', enqueue.strict.atOfferedRate.p99Ms, Number.NaN);
  }
  if (wanted.has('g')) {
    progress('(g) bundle sizes');
    const sizes = await bundleSizes();
    sdkResults.g = sizes;
    add('g bundle (SDK vs socket.io-client)', 'minified + gzipped', 'KB', sizes.sdkKb, sizes.socketIoClientKb);
  }
  if (wanted.has('h')) {
    const churn: ChurnScale = values.quick ? { members: 500, roomSize: 20, meanPauseMs: 1000, seconds: scale.seconds } : { members: 2000, roomSize: 20, meanPauseMs: 1000, seconds: scale.seconds };
    progress(`(h) presence churn: ${churn.members} members in rooms of ${churn.roomSize} over 2 relays`);
    const figures = await presenceChurn(redis, churn);
    sdkResults.h = { scale: churn, ...figures };
    const scenario = `h presence churn (${churn.members.toLocaleString('en-US')} members, rooms of ${churn.roomSize})`;
    const na = (metric: string, unit: string, value: number) => rows.push({ scenario, metric, unit, partyline: value, baseline: Number.NaN, ratio: Number.NaN, noBaseline: true });
    na('presence changes/s', 'changes/s', figures.changesPerSecond);
    na('changes delivered to members/s', 'changes/s', figures.changesDeliveredPerSecond);
    na('relay CPU per change (2 relays)', 'µs', figures.relayCpuMicrosPerChange);
    na('Redis CPU per change', 'µs', figures.redisCpuMicrosPerChange);
    na('Redis commands per change (incl. those scripts run)', 'cmds', figures.redisCommandsPerChange);
    na('Redis script calls per change', 'calls', figures.redisScriptsPerChange);
  }
  if (wanted.has('i')) {
    const big = values.quick ? 100_000 : 1_000_000;
    const windows = await historyWindows(redis, big, progress);
    sdkResults.i = windows;
    const scenario = `i history windows (${big.toLocaleString('en-US')} vs 1,000 msgs)`;
    add(scenario, 'new member: connect + newest 50, median', 'ms', windows.big.lastFiftyMs, windows.small.lastFiftyMs);
    add(scenario, 'backward page of 100 under publishing, p50', 'ms', windows.big.backwardP50Ms, windows.small.backwardP50Ms);
    add(scenario, 'backward page of 100 under publishing, p99', 'ms', windows.big.backwardP99Ms, windows.small.backwardP99Ms);
    add(scenario, 'relay RSS after', 'MB', windows.big.relayRssMb, windows.small.relayRssMb);
  }
  if (wanted.has('j')) {
    const count = values.quick ? 3_000 : 10_000;
    progress(`(j) HTTP publish vs socket publish: ${count} messages each, 16 in flight`);
    const publish = await httpPublish(redis, count);
    sdkResults.j = publish;
    add('j HTTP publish (vs socket)', 'msgs/s, 16 in flight', 'msg/s', publish.http.messagesPerSecond, publish.socket.messagesPerSecond);
    add('j HTTP publish (vs socket)', 'p50 publish → ack', 'ms', publish.http.p50Ms, publish.socket.p50Ms);
    add('j HTTP publish (vs socket)', 'p99 publish → ack', 'ms', publish.http.p99Ms, publish.socket.p99Ms);
    add('j HTTP publish (vs socket)', 'relay CPU per message', 'µs', publish.http.relayCpuMicrosPerMessage, publish.socket.relayCpuMicrosPerMessage);
    const batch = `j HTTP publish, batches of ${publish.batchSize} (vs socket batches)`;
    addMedians(batch, 'msgs/s, 16 in flight', 'msg/s', 'higher', publish.httpBatch.roundsMessagesPerSecond, publish.socketBatch.roundsMessagesPerSecond);
    add(batch, 'relay CPU per message', 'µs', publish.httpBatch.relayCpuMicrosPerMessage, publish.socketBatch.relayCpuMicrosPerMessage);
  }
} finally {
  await redis.stop();
}

const format = (n: number) => (Number.isNaN(n) ? '—' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));
/** A median with its spread over the runs (`9.74 (9.10–10.2)`), or a single run's figure. */
const cell = (value: number, runs: Spread | undefined) => (runs && !Number.isNaN(runs.min) && runs.min !== runs.max ? `${format(value)} (${format(runs.min)}–${format(runs.max)})` : format(value));
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const minutes = (performance.now() - benchStarted) / 60_000;
console.log(`\nPartyline vs baseline (plain Socket.IO + redis adapter) — ${values.quick ? 'quick' : 'full'} run on ${machine}, ${minutes.toFixed(1)} min\n`);
console.log(`| scenario | metric | Partyline | baseline | ratio | noise floor | verdict |`);
console.log(`|---|---|---:|---:|---:|---:|---|`);
for (const row of rows) {
  const ratio = row.noBaseline ? 'n/a' : Number.isNaN(row.ratio) ? '—' : `${format(row.ratio)}×`;
  const noise = row.noiseFloor === undefined || Number.isNaN(row.noiseFloor) ? '—' : `×${row.noiseFloor.toFixed(2)}`;
  console.log(`| ${row.scenario} | ${row.metric} (${row.unit}) | ${cell(row.partyline, row.spread?.partyline)} | ${row.noBaseline ? 'n/a' : cell(row.baseline, row.spread?.baseline)} | ${ratio} | ${noise} | ${row.verdict ?? '—'} |`);
}
if (['a', 'b', 'c'].some((scenario) => wanted.has(scenario))) {
  console.log(`\n(a–c) ${scale.rounds} interleaved rounds (baseline, partyline, baseline, partyline, …), ${scale.seconds} s measured each: the median of the runs with their min–max, the ratio of the medians. Noise floor: the machine's run-to-run noise, the median factor between consecutive baseline runs (the baseline vs itself); a ratio within it is a tie.`);
}
const foreign = [results.a, results.b, results.c, { runs: (sdkResults.f as { atOfferedRate?: unknown } | undefined)?.atOfferedRate }].flatMap((scenario) =>
  Object.values((scenario as { runs?: Record<string, { foreignCpuShare?: number }[]> } | undefined)?.runs ?? {}).flat().map((run) => run.foreignCpuShare ?? 0),
);
if (foreign.length > 0) {
  const share = spread(foreign);
  const skewed = foreign.filter((value) => value > 0.1).length;
  console.log(`\nOther processes' share of the machine's CPU during the measured windows of the interleaved runs: median ${Math.round(share.median * 100)} %, max ${Math.round(share.max * 100)} %${skewed ? ` — ${skewed} of ${foreign.length} runs above 10 %: those figures are skewed by another load (is another bench running without \`flock /tmp/bench.lock\`?)` : ''}.`);
}
if (wanted.has('c')) {
  const c = results.c as Awaited<ReturnType<typeof latencyRounds>>;
  console.log('\n(c) floor: bare durable appends (EVALSHA of one XADD, one round trip) to the same Redis at the same rate. "everysec vs always" rounds alternate which policy runs first. Redis over each measured window (INFO persistence, latency monitor at 1 ms):');
  for (const [contender, windows] of Object.entries(c.redis)) console.log(`  ${contender}: ${describeWindows(windows)}`);
}
if (wanted.has('h')) console.log('\n(h) has no baseline: plain Socket.IO keeps no presence (an app would write its own), so there is nothing like it to run.');
if (wanted.has('f')) console.log(`\n(f) "as fast as it goes": "Partyline" is the SDK batched (group commit), "baseline" one transaction per message (one run each). "at 10,000 offered": "baseline" is IndexedDB alone, written by hand (one record per round, no SDK) — the browser's floor; ${scale.rounds} interleaved pairs in the same page (which goes first alternates), medians with min–max, after one unmeasured run of each. The strict rows use outboxDurability 'strict' (one run).`);
if (wanted.has('i')) console.log('\n(i) compares a big room with a 1,000-message room on the same relay ("baseline" column): a ratio near 1 means the cost does not grow with the log.');
if (wanted.has('j')) console.log('\n(j) compares the HTTP API with the socket on the same relay ("baseline" column is the socket).');

mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
const file = new URL(`../results/${new Date().toISOString().slice(0, 10)}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine, quick: Boolean(values.quick), scale, rows, results, sdk: sdkResults }, null, 2)}\n`);
console.log(`\nJSON: bench/results/${new Date().toISOString().slice(0, 10)}.json`);
