import 'fake-indexeddb/auto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { PROTOCOL_VERSION } from '@partyline/protocol';
import { signAccessToken } from '@partyline/relay';
import { createClient, createManualOnlineManager } from '@partyline/sdk';
import { chromiumLaunchOptions, waitFor, type RedisServer } from '@partyline/test-support';
import { build } from 'esbuild';
import { IDBFactory } from 'fake-indexeddb';
import { chromium } from 'playwright-core';
import { io } from 'socket.io-client';
import { interleaved } from './interleaved.js';
import { watchForeignCpu } from './proc-stats.js';
import { BENCH_SECRET, startServers } from './systems.js';

/** (e) 10,000 messages queued offline in one SDK client (Node), then online: seconds until all are acked. */
export async function outboxFlush(redis: RedisServer, count: number): Promise<{ partyline: number; baseline: number }> {
  const [relay] = await startServers('partyline', 1, redis.url);
  let partyline: number;
  try {
    const online = createManualOnlineManager(false);
    const client = createClient({
      relays: [relay!.url],
      token: () => signAccessToken({ sub: 'flusher', rooms: ['*'] }, BENCH_SECRET),
      indexedDB: new IDBFactory(),
      onlineManager: online,
    });
    const room = client.room('flush', { from: 'now' });
    let sent = 0;
    room.on('status', ({ status }) => {
      if (status === 'sent') sent++;
    });
    for (let i = 0; i < count; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, k) => room.publish('bench', { n: i + k })));
    }
    const started = performance.now();
    online.setOnline(true);
    await waitFor(() => sent >= count, `${count} acks`, 120_000, 5);
    partyline = (performance.now() - started) / 1000;
    await client.close();
  } finally {
    await relay!.stop();
  }

  // Baseline: plain Socket.IO, the same messages emitted with acks back to back (nothing durable to flush).
  const [server] = await startServers('baseline', 1, redis.url);
  try {
    const socket = io(server!.url, { transports: ['websocket'], auth: { protocol: PROTOCOL_VERSION }, forceNew: true });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const started = performance.now();
    await Promise.all(Array.from({ length: count }, (_, n) => socket.emitWithAck('publish', { room: 'flush', body: JSON.stringify({ n }) })));
    const baseline = (performance.now() - started) / 1000;
    socket.close();
    return { partyline, baseline };
  } finally {
    await server!.stop();
  }
}

export interface EnqueueFigures {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Share of the machine's CPU that processes outside this bench (and its browser) used meanwhile (0–1). */
  foreignCpuShare: number;
}

/** (f) at the offered rate: the SDK and IndexedDB alone, one run each per round. */
export interface EnqueuePairs {
  sdk: EnqueueFigures[];
  raw: EnqueueFigures[];
}

/**
 * (f) IndexedDB enqueue in headless Chromium: one transaction per message (one publish at a time) vs
 * batched (100 in flight share transactions: group commit), each as fast as it goes; and at a fixed
 * offered rate (open loop), where p99 is what an app publishing that fast sees, the SDK next to the
 * same rate written with IndexedDB alone (the browser's floor) in `rounds` interleaved pairs in the
 * same page, after one unmeasured run of each (the first run in a page pays for compiling the code
 * and for the profile's first database files). The outbox's default durability (relaxed)
 * throughout, and once more with `outboxDurability: 'strict'`.
 *
 * The page runs in a persistent profile on disk, as a user's browser does: a Playwright
 * `browser.newPage()` context keeps IndexedDB in memory, which neither writes files nor can show
 * what durability costs.
 */
export async function browserEnqueue(
  count: number,
  offered: { perSecond: number; count: number; rounds: number },
  progress: (text: string) => void,
): Promise<{ batched: EnqueueFigures; oneTxPerMessage: EnqueueFigures; atOfferedRate: EnqueuePairs; strict: { batched: EnqueueFigures; atOfferedRate: EnqueueFigures } }> {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('../src/browser/enqueue-page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
  });
  const script = bundle.outputFiles[0]!.text;
  const server = createServer((request, response) => {
    if (request.url === '/bench.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>loading</title><script type="module" src="/bench.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const profile = await mkdtemp(join(tmpdir(), 'partyline-bench-f-'));
  const context = await chromium.launchPersistentContext(profile, chromiumLaunchOptions());
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
    await page.waitForFunction(() => document.title === 'ready');
    type Run = (n: number, x: number, durability?: string) => Promise<{ perSecond: number; latenciesMs: number[] }>;
    const measure = async (mode: 'run' | 'runAtRate' | 'rawAtRate', n: number, x: number, durability?: 'strict'): Promise<EnqueueFigures> => {
      const foreignCpu = watchForeignCpu(process.pid);
      const { perSecond, latenciesMs } = await page.evaluate(
        ([m, n, value, d]) => (window as unknown as { bench: Record<string, Run> }).bench[m]!(n, value, d),
        [mode, n, x, durability] as const,
      );
      latenciesMs.sort((a, b) => a - b);
      const at = (p: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(latenciesMs.length * p))] ?? 0;
      return { perSecond, p50Ms: at(0.5), p99Ms: at(0.99), foreignCpuShare: foreignCpu() };
    };
    progress(`(f) IndexedDB enqueue in headless Chromium: ${count} messages, one transaction each and batched`);
    const oneTxPerMessage = await measure('run', count, 1);
    const batched = await measure('run', count, 100);
    progress(`(f) at ${offered.perSecond} msgs/s offered: one unmeasured run of the SDK and of IndexedDB alone`);
    await measure('runAtRate', offered.count, offered.perSecond);
    await measure('rawAtRate', offered.count, offered.perSecond);
    // Which goes first alternates by round: neither always runs on the other's leftovers (compaction, GC).
    const atOfferedRate = await interleaved(
      `(f) ${offered.count} messages at ${offered.perSecond} msgs/s offered`,
      offered.rounds,
      (round) => (round % 2 === 0 ? (['sdk', 'raw'] as const) : (['raw', 'sdk'] as const)),
      (who) => measure(who === 'sdk' ? 'runAtRate' : 'rawAtRate', offered.count, offered.perSecond),
      progress,
    );
    progress('(f) strict durability');
    const strict = { batched: await measure('run', count, 100, 'strict'), atOfferedRate: await measure('runAtRate', offered.count, offered.perSecond, 'strict') };
    return { batched, oneTxPerMessage, atOfferedRate, strict };
  } finally {
    await context.close();
    server.close();
    await rm(profile, { recursive: true, force: true });
  }
}

/** (g) minified + gzipped bundle: the SDK with all its dependencies, and socket.io-client alone. */
export async function bundleSizes(): Promise<{ sdkKb: number; socketIoClientKb: number }> {
  const gzipKb = async (contents: string) => {
    const result = await build({ stdin: { contents, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'ts' }, bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'warning' });
    return gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length / 1024;
  };
  return {
    sdkKb: await gzipKb(`export * from '@partyline/sdk';`),
    socketIoClientKb: await gzipKb(`export { io } from 'socket.io-client';`),
  };
}
