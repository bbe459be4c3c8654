import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRelay, signAccessToken, type Relay, type RelayOptions } from '@partyline/relay';
import { findFreePort, waitFor } from '@partyline/test-support';

export const TEST_SECRET = 'sdk-test-secret-sdk-test-secret-0123456789';

export function tokenFor(sub: string, rooms: string[] = ['*'], ttlSeconds = 3600): Promise<string> {
  return signAccessToken({ sub, rooms, ttlSeconds }, TEST_SECRET);
}

export interface InProcessRelay {
  relay: Relay;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A real relay in this process (memory store unless `redisUrl`), on 127.0.0.1 port 0. */
export async function startRelay(options: Partial<RelayOptions> = {}): Promise<InProcessRelay> {
  const relay = createRelay({ tokenSecret: TEST_SECRET, transports: ['websocket'], ...options });
  const { url, port } = await relay.listen(0);
  return { relay, url, port, close: () => relay.close() };
}

const RELAY_DIR = fileURLToPath(new URL('../../../relay', import.meta.url));

export interface RelayProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** SIGKILL: no drain, no goodbye. Resolves when the process is gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** The real relay CLI (from source, via tsx) as a child process, so a test can kill -9 it. */
export async function spawnRelay(args: string[]): Promise<RelayProcess> {
  const port = await findFreePort();
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'src/cli.ts', '--port', String(port), '--host', '127.0.0.1', '--token-secret', TEST_SECRET, '--transports', 'websocket', ...args],
    { cwd: RELAY_DIR, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`relay exited: ${output}`);
    return (await fetch(`${url}/healthz`)).ok;
  }, `relay process on ${url}`, 30_000);
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await gone;
  };
  return { url, port, child, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}
