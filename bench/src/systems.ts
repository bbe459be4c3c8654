import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { findFreePort, waitFor } from '@partyline/test-support';

export type SystemName = 'partyline' | 'baseline';
export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret!';

export interface ServerProcess {
  url: string;
  pid: number;
  /** Bench instrumentation in the server process (see server-hooks.ts): `gc`, `profile:start`, `profile:stop`. */
  request(command: 'gc' | 'profile:start' | 'profile:stop'): Promise<{ heapUsed: number }>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);
const RELAY_CLI = require.resolve('@partyline/relay').replace(/index\.js$/, 'cli.js');
const BASELINE_SERVER = fileURLToPath(new URL('./baseline-server.js', import.meta.url));
const SERVER_HOOKS = new URL('./server-hooks.js', import.meta.url).href;

async function startProcess(script: string, args: string[], port: number, label: string, nodeArgs: string[]): Promise<ServerProcess> {
  const execArgv = ['--expose-gc', ...nodeArgs, '--import', SERVER_HOOKS];
  const env = { ...process.env, LOG_LEVEL: 'warn', BENCH_PROFILE_LABEL: label };
  const child: ChildProcess = fork(script, args, { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    return fetch(`${url}/socket.io/?EIO=4&transport=polling`).then(() => true, () => false);
  }, `${script} on ${url}`, 20_000);
  return {
    url,
    pid: child.pid!,
    request: (command) =>
      new Promise((resolve) => {
        const onMessage = (message: { done?: string; heapUsed: number }) => {
          if (message.done !== command) return;
          child.off('message', onMessage);
          resolve(message);
        };
        child.on('message', onMessage);
        child.send(command);
      }),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * V8 flags for memory measurements: a young generation of one fixed size. V8 otherwise doubles it
 * (by 16 MB at a time) when it sees fit, and whether that step falls inside a measured window is
 * luck — at 2,000 connections it alone moves RSS per connection by 8 KB either way.
 */
export const FIXED_YOUNG_GENERATION = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

/** Where servers keep shared state: a Redis URL, or the `host:port` nodes of a Redis Cluster (relays only). */
export type RedisTarget = string | { clusterNodes: string[] };

/** Starts `count` server processes of one system against one Redis (`relayArgs`: more relay flags; `nodeArgs`: V8/Node flags). */
export async function startServers(system: SystemName, count: number, redis: RedisTarget, relayArgs: string[] = [], nodeArgs: string[] = []): Promise<ServerProcess[]> {
  const storeArgs = typeof redis === 'string' ? ['--redis-url', redis] : ['--redis-cluster', redis.clusterNodes.join(',')];
  if (system === 'baseline' && typeof redis !== 'string') throw new Error('the baseline server takes a Redis URL, not a cluster');
  return Promise.all(
    Array.from({ length: count }, async () => {
      const port = await findFreePort();
      if (system === 'baseline') return startProcess(BASELINE_SERVER, ['--port', String(port), ...storeArgs], port, system, nodeArgs);
      return startProcess(
        RELAY_CLI,
        ['--port', String(port), ...storeArgs, '--token-secret', BENCH_SECRET, '--rate-limit', '10000000', '--rate-burst', '10000000', '--connect-rate', '1000000', '--connect-rate-per-address', '1000000', '--max-pending-per-address', '1000000', '--user-rate-limit', '0', '--user-byte-rate', '0', '--rooms-per-user-hour', '0', '--transports', 'websocket,polling', '--metrics-public', ...relayArgs],
        port,
        system,
        nodeArgs,
      );
    }),
  );
}
