import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { startRedis } from '@partyline/test-support';
import { fanout, forSystem, FULL, idleMemory, measure, QUICK, setAppendFsync, smallRooms, type Figures } from './scenarios.js';
import { presenceChurn, type ChurnScale } from './presence-scenario.js';
import { browserEnqueue, bundleSizes, outboxFlush } from './sdk-scenarios.js';
import { historyWindows } from './history-scenario.js';
import { httpPublish } from './http-scenario.js';

const HELP = `partyline bench — Partyline vs plain Socket.IO + @socket.io/redis-adapter, same run, same machine

Usage: npm run bench -- [--quick] [--scenarios a,b,c,d,e,f,g,h,i,j]

  --quick        smaller scale (300 fan-out subscribers, 250 rooms, 2,000 idle connections, 500 presence members, 4 s runs)
  --scenarios    which to run (default all):
                   a  fan-out: 1 room, 1,000 subscribers over 2 relays, delivered msgs/s
                   b  many small rooms: 2,000 rooms × 4 members all publishing, delivered msgs/s
                   c  latency at low load: 20% of the baseline's saturation publish rate (open loop); Redis syncs
                      its AOF before every reply (appendfsync always: no acked message lost on power loss), and
                      once more with appendfsync everysec (a power loss may lose ~1 s of acked messages)
                   d  10,000 idle connections on one relay, bytes per connection (V8 young generation fixed at 2 × 16 MB
                      in both servers, so its growth steps are not counted as connections' memory)
                   e  outbox flush: 10,000 messages queued offline in one SDK client, seconds until all acked
                   f  headless Chromium, profile on disk: IndexedDB enqueue rate and p99, batched (group commit) vs one
                      transaction per message; batched also with strict durability (a disk flush per transaction)
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
Results: a table on stdout and bench/results/<date>.json.

Environment:
  BENCH_CPU_PROF=<dir>   write a V8 CPU profile of every server over each measured window
                         (open in Chrome DevTools or speedscope)`;

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, scenarios: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const scale = values.quick ? QUICK : FULL;
const wanted = new Set((values.scenarios ?? 'a,b,c,d,e,f,g,h,i,j').split(','));
const progress = (text: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);

/** `noBaseline`: plain Socket.IO has nothing to compare with (printed n/a). */
type Row = { scenario: string; metric: string; partyline: number; baseline: number; ratio: number; unit: string; noBaseline?: boolean };
const sdkResults: Record<string, unknown> = {};
const rows: Row[] = [];
const results: Record<string, { partyline: Figures; baseline: Figures; partylineAppendFsyncEverysec?: Figures }> = {};
const add = (scenario: string, metric: string, unit: string, p: number, b: number) =>
  rows.push({ scenario, metric, unit, partyline: p, baseline: b, ratio: b === 0 ? Number.NaN : p / b });

const redis = await startRedis({ appendOnly: true });
try {
  let baselineSaturation = 0;
  if (wanted.has('a') || wanted.has('c')) {
    progress(`(a) fan-out: ${scale.fanoutSubscribers} subscribers, 2 relays — baseline`);
    const baseline = await measure('baseline', redis, forSystem('baseline', fanout(scale)));
    progress(`(a) fan-out — partyline`);
    const partyline = await measure('partyline', redis, forSystem('partyline', fanout(scale)));
    baselineSaturation = baseline.publishedPerSecond;
    results.a = { partyline, baseline };
    add('a fan-out', 'delivered msgs/s', 'msg/s', partyline.deliveredPerSecond, baseline.deliveredPerSecond);
    add('a fan-out', 'relay CPU per delivered', 'µs', partyline.cpuMicrosPerDelivered, baseline.cpuMicrosPerDelivered);
    add('a fan-out', 'relay RSS (2 relays)', 'MB', partyline.rssMb, baseline.rssMb);
  }
  if (wanted.has('b')) {
    progress(`(b) ${scale.smallRooms} rooms × 4 members — baseline`);
    const baseline = await measure('baseline', redis, forSystem('baseline', smallRooms(scale)));
    progress(`(b) small rooms — partyline`);
    const partyline = await measure('partyline', redis, forSystem('partyline', smallRooms(scale)));
    results.b = { partyline, baseline };
    add('b small rooms', 'delivered msgs/s', 'msg/s', partyline.deliveredPerSecond, baseline.deliveredPerSecond);
    add('b small rooms', 'relay CPU per delivered', 'µs', partyline.cpuMicrosPerDelivered, baseline.cpuMicrosPerDelivered);
    add('b small rooms', 'relay RSS (2 relays)', 'MB', partyline.rssMb, baseline.rssMb);
  }
  if (wanted.has('c')) {
    // Low load, as the latency target is stated: what a publish costs when nothing queues.
    const rate = Math.max(10, Math.round(baselineSaturation / 5));
    progress(`(c) latency at ${rate} publishes/s (20% of baseline saturation) — baseline`);
    const baseline = await measure('baseline', redis, forSystem('baseline', fanout(scale, rate)));
    progress(`(c) latency — partyline`);
    const partyline = await measure('partyline', redis, forSystem('partyline', fanout(scale, rate)));
    // What the strict default costs: Redis syncing its AOF once a second instead of before each reply.
    progress(`(c) latency — partyline, Redis appendfsync everysec`);
    await setAppendFsync(redis, 'everysec');
    const everysec = await measure('partyline', redis, forSystem('partyline', fanout(scale, rate))).finally(() => setAppendFsync(redis, 'always'));
    results.c = { partyline, baseline, partylineAppendFsyncEverysec: everysec };
    add(`c latency @${rate}/s`, 'p50 publish→delivery', 'ms', partyline.p50Ms, baseline.p50Ms);
    add(`c latency @${rate}/s`, 'p99 publish→delivery', 'ms', partyline.p99Ms, baseline.p99Ms);
    add(`c latency @${rate}/s`, 'p99.9 publish→delivery', 'ms', partyline.p999Ms, baseline.p999Ms);
    add(`c latency @${rate}/s, appendfsync everysec`, 'p50 publish→delivery', 'ms', everysec.p50Ms, baseline.p50Ms);
    add(`c latency @${rate}/s, appendfsync everysec`, 'p99 publish→delivery', 'ms', everysec.p99Ms, baseline.p99Ms);
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
    progress(`(f) IndexedDB enqueue in headless Chromium: ${count} messages, batched and one transaction each`);
    const offered = 10_000;
    const enqueue = await browserEnqueue(count, offered);
    sdkResults.f = enqueue;
    add('f IndexedDB enqueue (batched vs 1 tx/msg)', 'enqueued msgs/s, as fast as it goes', 'msg/s', enqueue.batched.perSecond, enqueue.oneTxPerMessage.perSecond);
    add('f IndexedDB enqueue (batched vs 1 tx/msg)', 'p99 enqueue latency, as fast as it goes', 'ms', enqueue.batched.p99Ms, enqueue.oneTxPerMessage.p99Ms);
    // One transaction per message cannot be offered 10,000 msgs/s at all (it tops out far lower): no baseline.
    // At the offered rate the baseline column is IndexedDB alone, written by hand (one record per round, no SDK): the browser's floor.
    add('f IndexedDB enqueue (SDK vs IndexedDB alone)', `enqueued msgs/s at ${offered.toLocaleString('en-US')} offered`, 'msg/s', enqueue.atOfferedRate.perSecond, enqueue.rawAtOfferedRate.perSecond);
    add('f IndexedDB enqueue (SDK vs IndexedDB alone)', `p99 enqueue latency at ${offered.toLocaleString('en-US')} msgs/s offered`, 'ms', enqueue.atOfferedRate.p99Ms, enqueue.rawAtOfferedRate.p99Ms);
    // The same with outboxDurability 'strict' (a disk flush per transaction): what power-loss safety costs.
    add('f IndexedDB enqueue (strict durability)', 'enqueued msgs/s, as fast as it goes', 'msg/s', enqueue.strict.batched.perSecond, Number.NaN);
    add('f IndexedDB enqueue (strict durability)', `p99 enqueue latency at ${offered.toLocaleString('en-US')} msgs/s offered`, 'ms', enqueue.strict.atOfferedRate.p99Ms, Number.NaN);
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
  }
} finally {
  await redis.stop();
}

const format = (n: number) => (Number.isNaN(n) ? '—' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
console.log(`\nPartyline vs baseline (plain Socket.IO + redis adapter) — ${values.quick ? 'quick' : 'full'} run on ${machine}\n`);
console.log(`| scenario | metric | Partyline | baseline | ratio |`);
console.log(`|---|---|---:|---:|---:|`);
for (const row of rows) {
  const ratio = row.noBaseline ? 'n/a' : Number.isNaN(row.ratio) ? '—' : `${format(row.ratio)}×`;
  console.log(`| ${row.scenario} | ${row.metric} (${row.unit}) | ${format(row.partyline)} | ${row.noBaseline ? 'n/a' : format(row.baseline)} | ${ratio} |`);
}
if (wanted.has('h')) console.log('\n(h) has no baseline: plain Socket.IO keeps no presence (an app would write its own), so there is nothing like it to run.');
if (wanted.has('f')) console.log('\n(f) "as fast as it goes": "Partyline" is the SDK batched (group commit), "baseline" one transaction per message; "at 10,000 offered": "baseline" is IndexedDB alone, written by hand (one record per round, no SDK) — the browser\'s floor. The strict rows use outboxDurability \'strict\'.');
if (wanted.has('i')) console.log('\n(i) compares a big room with a 1,000-message room on the same relay ("baseline" column): a ratio near 1 means the cost does not grow with the log.');
if (wanted.has('j')) console.log('\n(j) compares the HTTP API with the socket on the same relay ("baseline" column is the socket).');

mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
const file = new URL(`../results/${new Date().toISOString().slice(0, 10)}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine, quick: Boolean(values.quick), scale, rows, results, sdk: sdkResults }, null, 2)}\n`);
console.log(`\nJSON: bench/results/${new Date().toISOString().slice(0, 10)}.json`);
