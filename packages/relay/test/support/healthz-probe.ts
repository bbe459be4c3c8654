import { spawn } from 'node:child_process';
import { waitFor } from '@partyline/test-support';

/**
 * Every /healthz latency (ms) while `during` runs, one request each `everyMs`, measured from another
 * process: the test's own process may be busy sending, which must not count as the relay's stall.
 */
export async function healthzLatencies(url: string, during: () => Promise<unknown>, everyMs = 20): Promise<number[]> {
  const probe = spawn(
    process.execPath,
    [
      '-e',
      `
    const latencies = [];
    let stop = false;
    process.stdin.on('data', () => (stop = true));
    (async () => {
      await fetch(${JSON.stringify(url)} + '/healthz'); // warm: the first fetch of a process loads its HTTP client
      process.stdout.write('ready;');
      while (!stop) {
        const started = performance.now();
        await fetch(${JSON.stringify(url)} + '/healthz');
        latencies.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, ${everyMs}));
      }
      process.stdout.write(JSON.stringify(latencies), () => process.exit(0));
    })();`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let output = '';
  probe.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => output.startsWith('ready;'), 'the /healthz probe polling', 10_000, 10);
  try {
    await during();
  } finally {
    probe.stdin.end('stop\n');
    await new Promise((resolve) => probe.once('exit', resolve));
  }
  return JSON.parse(output.slice('ready;'.length)) as number[];
}

/** The `p`-th percentile (0–100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
