import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '@partyline/test-support';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RELAY_CLI = resolve(REPO_ROOT, 'packages/relay/dist/cli.js');
const APP_CLI = resolve(REPO_ROOT, 'apps/party-planner/dist/server/cli.js');

/** Fails early, with the command to run, when the relay or the app has not been built. */
export function assertBuilt(): void {
  for (const file of [RELAY_CLI, APP_CLI]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: build first (npx turbo run build, or npm test which builds everything)`);
  }
}

/** A server process started by the run (relay or app), on 127.0.0.1. */
export interface ServerProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Output so far, for failure reports. */
  output(): string;
  /** kill -9, and wait until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (SIGKILL after 5 s), and wait until it is gone. */
  stop(): Promise<void>;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

function track(name: string, child: ChildProcess, port: number): ServerProcess {
  let log = '';
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    output: () => log,
    async kill() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (gone()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function started(server: ServerProcess, child: ChildProcess, readyPath: string): Promise<ServerProcess> {
  const deadline = Date.now() + 20_000;
  while (!(await httpOk(`${server.url}${readyPath}`))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await server.kill();
      throw new Error(`${server.name} did not become ready (exit code ${child.exitCode}):\n${server.output()}`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
  return server;
}

/** A relay process (`partyline-relay` CLI) on the shared Redis. */
export async function startRelayProcess(name: string, redisUrl: string, tokenSecret: string): Promise<ServerProcess> {
  const port = await findFreePort();
  const child = spawn(process.execPath, [RELAY_CLI, '--port', String(port), '--host', '127.0.0.1', '--redis-url', redisUrl, '--log-level', 'warn', '--metrics-public'], {
    env: { ...process.env, TOKEN_SECRET: tokenSecret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return started(track(name, child, port), child, '/readyz');
}

/** The party planner's server (built app + token endpoint), pointed at the given relays. */
export async function startAppProcess(relayUrls: string[], tokenSecret: string): Promise<ServerProcess> {
  const port = await findFreePort();
  // Every browser of the run comes from 127.0.0.1: no cap on new identities per address (unit-tested in the app).
  const child = spawn(process.execPath, [APP_CLI, '--port', String(port), '--host', '127.0.0.1', '--new-identities-per-hour', '0', ...relayUrls.flatMap((url) => ['--relay', url])], {
    env: { ...process.env, TOKEN_SECRET: tokenSecret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return started(track('app', child, port), child, '/healthz');
}
