/**
 * Preloaded into server processes by the bench (`--import`), never part of the relay:
 * - `gc`: collects garbage, so memory per connection is measured without handshake garbage;
 *   every answer carries the heap in use;
 * - `profile:start` / `profile:stop`: a V8 CPU profile and an allocation profile (every sampled
 *   allocation, collected or not) of the measured window only (not startup or connection setup),
 *   written to $BENCH_CPU_PROF when that is set.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

const profileDir = process.env.BENCH_CPU_PROF;
let session: Session | undefined;

async function handle(message: unknown): Promise<void> {
  if (message === 'gc') {
    // Short-lived garbage through the whole young generation first, so both of its halves are resident
    // before RSS is read: pages it touches for the first time later would count as connections' memory.
    // (A ring of recent allocations keeps the optimiser from removing them.)
    const ring: unknown[] = new Array(64);
    for (let i = 0; i < 64 * 1024; i++) ring[i & 63] = new Array(120).fill(i);
    // No options: on Node 20 (V8 11.3) gc(<any truthy argument>) is only a scavenge; gc() is a full mark-compact.
    (globalThis as { gc?: () => void }).gc?.();
  } else if (message === 'profile:start' && profileDir) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    // Every sampled allocation, also the garbage collected since: what the collector has to chase.
    await session.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  } else if (message === 'profile:stop' && session) {
    const { profile } = await session.post('Profiler.stop');
    const { profile: allocations } = await session.post('HeapProfiler.stopSampling');
    const name = `${process.env.BENCH_PROFILE_LABEL ?? 'server'}-${process.pid}-${Date.now()}`;
    mkdirSync(profileDir!, { recursive: true });
    writeFileSync(join(profileDir!, `${name}.cpuprofile`), JSON.stringify(profile));
    writeFileSync(join(profileDir!, `${name}.heapprofile`), JSON.stringify(allocations));
    session.disconnect();
    session = undefined;
  } else {
    return;
  }
  // The heap in use comes with every answer: after `gc` it is the live heap, steadier than RSS.
  process.send?.({ done: message, heapUsed: process.memoryUsage().heapUsed });
}

process.on('message', (message) => void handle(message));
