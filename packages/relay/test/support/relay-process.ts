import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findFreePort, waitFor } from '@partyline/test-support';

const RELAY_DIR = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the real CLI from source (`--conditions=source` + tsx), so a test can SIGKILL a real process. */
export function runCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: RELAY_DIR,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Everything a process printed, for assertions and failure messages. */
export function captureOutput(child: ChildProcess): { text: () => string } {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { text: () => text };
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export interface RelayProcess {
  url: string;
  child: ChildProcess;
  /** What it printed so far (its JSON log lines). */
  output: { text: () => string };
  stop(): Promise<void>;
}

/** Starts `partyline-relay` on a free loopback port and waits until /healthz answers. */
export async function startRelayProcess(args: string[], env: Record<string, string> = {}): Promise<RelayProcess> {
  const port = await findFreePort();
  const child = runCli(['--port', String(port), '--host', '127.0.0.1', ...args], env);
  const output = captureOutput(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`relay exited: ${output.text()}`);
    return (await fetch(`${url}/healthz`)).ok;
  }, `relay process on ${url}`, 20_000);
  return {
    url,
    child,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exitOf(child);
    },
  };
}
