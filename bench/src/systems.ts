import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { findFreePort, waitFor } from '@partyline/test-support';

export type SystemName = 'partyline' | 'baseline';
export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret!';

export interface ServerProcess {
  url: string;
  pid: number;
  /** Full garbage collection in the server process (bench instrumentation). */
  collectGarbage(): Promise<void>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);
const RELAY_CLI = require.resolve('@partyline/relay').replace(/index\.js$/, 'cli.js');
const BASELINE_SERVER = fileURLToPath(new URL('./baseline-server.js', import.meta.url));
const GC_ON_REQUEST = new URL('./gc-on-request.js', import.meta.url).href;

async function startProcess(script: string, args: string[], port: number): Promise<ServerProcess> {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every server process (open with Chrome DevTools or speedscope).
  const profileDir = process.env.BENCH_CPU_PROF;
  const execArgv = ['--expose-gc', '--import', GC_ON_REQUEST, ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [])];
  const child: ChildProcess = fork(script, args, { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, LOG_LEVEL: 'warn' } });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    return fetch(`${url}/socket.io/?EIO=4&transport=polling`).then(() => true, () => false);
  }, `${script} on ${url}`, 20_000);
  return {
    url,
    pid: child.pid!,
    collectGarbage: () =>
      new Promise<void>((resolve) => {
        const onMessage = (message: unknown) => {
          if (message !== 'gc:done') return;
          child.off('message', onMessage);
          resolve();
        };
        child.on('message', onMessage);
        child.send('gc');
      }),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // A profiled process must exit on its own to write its profile.
      child.kill(profileDir ? 'SIGTERM' : 'SIGKILL');
      await exited;
    },
  };
}

/** Starts `count` server processes of one system against one Redis. */
export async function startServers(system: SystemName, count: number, redisUrl: string): Promise<ServerProcess[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const port = await findFreePort();
      if (system === 'baseline') return startProcess(BASELINE_SERVER, ['--port', String(port), '--redis-url', redisUrl], port);
      return startProcess(
        RELAY_CLI,
        ['--port', String(port), '--redis-url', redisUrl, '--token-secret', BENCH_SECRET, '--rate-limit', '10000000', '--rate-burst', '10000000', '--connect-rate', '1000000', '--transports', 'websocket,polling'],
        port,
      );
    }),
  );
}
