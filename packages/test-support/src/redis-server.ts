import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from './free-port.js';
import { waitFor } from './wait-for.js';

export interface RedisServerOptions {
  /** Append-only file with fsync on every write, so acked messages survive kill -9. @default true */
  appendOnly?: boolean;
  /** Extra `redis-server` arguments, e.g. ['--cluster-enabled', 'yes']. */
  extraArgs?: string[];
}

/** A real `redis-server` on 127.0.0.1, owned by the test that started it. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  /** Sends a signal (SIGKILL for a crash, SIGSTOP/SIGCONT for a pause) without waiting. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL and wait for the process to be gone. */
  kill(): Promise<void>;
  /** Start again on the same port and data directory (AOF replays the log). */
  restart(): Promise<void>;
  /** Stop and delete the data directory. */
  stop(): Promise<void>;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/** Fails with an actionable message when redis-server is not installed. */
export function assertRedisInstalled(): void {
  const probe = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `${REDIS_BIN} not found. Install it (Debian: apt-get install -y redis-server), ` +
        'run the README test command (npm test), which installs it, or set REDIS_SERVER_BIN.',
    );
  }
}

/** Answers true once the server replies +PONG. */
export async function pingRedis(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  assertRedisInstalled();
  const port = await findFreePort();
  const dir = mkdtempSync(join(tmpdir(), 'partyline-redis-'));
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', options.appendOnly === false ? 'no' : 'yes',
    '--appendfsync', 'always',
    '--protected-mode', 'no',
    '--loglevel', 'warning',
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;

  async function launch(): Promise<void> {
    const started = spawn(REDIS_BIN, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child = started;
    let exited = false;
    started.once('exit', () => (exited = true));
    await waitFor(async () => {
      if (exited) throw new Error(`redis-server exited at start (port ${port})`);
      return pingRedis(port);
    }, `redis-server on port ${port}`, 15_000);
  }

  async function kill(): Promise<void> {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once('exit', () => resolve());
      current.kill('SIGKILL');
    });
  }

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    signal(signal) {
      child?.kill(signal);
    },
    kill,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
