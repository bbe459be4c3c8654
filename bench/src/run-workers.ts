import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodeFromCompressedBase64, build, type Histogram } from 'hdr-histogram-js';
import type { WorkerPlan, WorkerReport } from './load-worker.js';

const WORKER = fileURLToPath(new URL('./load-worker.js', import.meta.url));

export interface LoadResult {
  published: number;
  acked: number;
  errors: number;
  delivered: number;
  seconds: number;
  latency: Histogram;
}

/**
 * Runs worker processes: connect all, publish unmeasured for `warmUpSeconds` (if any), measure for
 * `seconds`, collect and merge their reports.
 */
export async function runWorkers(plans: WorkerPlan[], seconds: number, hooks: { started?(): unknown; stopped?(): unknown } = {}, warmUpSeconds = 0): Promise<LoadResult> {
  const workers: ChildProcess[] = plans.map(() => fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const next = (worker: ChildProcess, type: string) =>
    new Promise<{ type: string; report?: WorkerReport }>((resolve, reject) => {
      const onMessage = (message: { type: string; report?: WorkerReport }) => {
        if (message.type !== type) return;
        worker.off('message', onMessage);
        resolve(message);
      };
      worker.on('message', onMessage);
      worker.once('exit', (code) => reject(new Error(`load worker exited with ${code} before ${type}`)));
    });
  const ready = workers.map((worker) => next(worker, 'ready'));
  workers.forEach((worker, i) => worker.send(plans[i]!));
  await Promise.all(ready);
  if (warmUpSeconds > 0) {
    for (const worker of workers) worker.send('warm-up');
    await new Promise((resolve) => setTimeout(resolve, warmUpSeconds * 1000));
  }

  await hooks.started?.();
  const started = performance.now();
  for (const worker of workers) worker.send('start');
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  await hooks.stopped?.();
  const reports = workers.map((worker) => next(worker, 'report'));
  for (const worker of workers) worker.send('stop');
  const finished = await Promise.all(reports);
  const elapsed = (performance.now() - started) / 1000;

  const latency = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const total = { published: 0, acked: 0, errors: 0, delivered: 0 };
  for (const { report } of finished) {
    total.published += report!.published;
    total.acked += report!.acked;
    total.errors += report!.errors;
    total.delivered += report!.delivered;
    if (report!.latency) latency.add(decodeFromCompressedBase64(report!.latency));
  }
  await Promise.all(workers.map((worker) => (worker.exitCode === null ? new Promise((resolve) => worker.once('exit', resolve)) : undefined)));
  return { ...total, seconds: elapsed, latency };
}

/** Spreads `connections` over `workers` plans built by `plan(i, share)`. */
export function split(connections: number, workers: number, plan: (index: number, share: number) => WorkerPlan): WorkerPlan[] {
  return Array.from({ length: workers }, (_, i) => plan(i, Math.floor(connections / workers) + (i < connections % workers ? 1 : 0)));
}
