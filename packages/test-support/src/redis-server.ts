import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from './free-port.js';
import { waitFor } from './wait-for.js';

export interface RedisServerOptions {
  /** Append-only file with fsync on every write, so acked messages survive kill -9. @default true */
  appendOnly?: boolean;
  /**
   * AOF fsync policy. With `everysec` the server also simulates what the disk really holds: once a
   * second it notes the AOF's size (the part an fsync made durable), and `kill({ loseUnsynced: true })`
   * cuts the file back to it — what a power loss or kernel crash does to `appendfsync everysec`
   * (a process kill alone loses nothing: written data sits in the page cache). @default 'always'
   */
  fsync?: 'always' | 'everysec';
  /** With `fsync: 'everysec'`: how often the simulated fsync runs (a test may prefer to call `markDurable` itself). @default 1000 */
  fsyncEveryMs?: number;
  /** Extra `redis-server` arguments, e.g. ['--cluster-enabled', 'yes']. */
  extraArgs?: string[];
}

export interface RedisKillOptions {
  /** With `fsync: 'everysec'`: drop what reached the AOF after the last simulated fsync (up to ~1 s of acked writes). */
  loseUnsynced?: boolean;
  /**
   * With `loseUnsynced`: shown the AOF file as the kill left it and the length it is about to be cut
   * to, before the cut — so a test can tell exactly which writes the crash lost.
   */
  onUnsynced?: (aof: Buffer, keptBytes: number) => void;
}

/** A real `redis-server` on 127.0.0.1, owned by the test that started it. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  /** With `fsync: 'everysec'`: the simulated fsync, now — what the AOF holds so far survives `loseUnsynced`. */
  markDurable(): void;
  /** Sends a signal (SIGKILL for a crash, SIGSTOP/SIGCONT for a pause) without waiting. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL and wait for the process to be gone; answers how many AOF bytes were dropped (`loseUnsynced`). */
  kill(options?: RedisKillOptions): Promise<number>;
  /** Start again on the same port and data directory (AOF replays the log). */
  restart(options?: RedisKillOptions): Promise<void>;
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
    '--appendfsync', options.fsync ?? 'always',
    // A cut-back AOF ends mid-command or mid-MULTI: load what is complete, as after a real power loss.
    '--aof-load-truncated', 'yes',
    '--protected-mode', 'no',
    '--loglevel', 'warning',
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;
  /** Simulated fsync: the AOF size the disk is known to hold (everysec only). */
  let durable: { file: string; size: number } | undefined;
  let fsyncTimer: ReturnType<typeof setInterval> | undefined;
  const noteDurable = () => {
    const file = currentAofFile(dir);
    if (file) durable = { file, size: statSync(file).size };
  };

  async function launch(): Promise<void> {
    const started = spawn(REDIS_BIN, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child = started;
    let exited = false;
    started.once('exit', () => (exited = true));
    await waitFor(async () => {
      if (exited) throw new Error(`redis-server exited at start (port ${port})`);
      return pingRedis(port);
    }, `redis-server on port ${port}`, 15_000);
    if (options.fsync === 'everysec') {
      noteDurable();
      fsyncTimer = setInterval(noteDurable, options.fsyncEveryMs ?? 1000);
      fsyncTimer.unref();
    }
  }

  async function kill(killOptions: RedisKillOptions = {}): Promise<number> {
    clearInterval(fsyncTimer);
    const current = child;
    if (current && current.exitCode === null && current.signalCode === null) {
      await new Promise<void>((resolve) => {
        current.once('exit', () => resolve());
        current.kill('SIGKILL');
      });
    }
    if (!killOptions.loseUnsynced || !durable) return 0;
    const file = currentAofFile(dir);
    if (file !== durable.file) return 0; // rewritten since: the new file was fsynced whole
    const lost = statSync(file).size - durable.size;
    if (lost > 0) {
      killOptions.onUnsynced?.(readFileSync(file), durable.size);
      truncateSync(file, durable.size);
    }
    return Math.max(0, lost);
  }

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    markDurable: noteDurable,
    signal(signal) {
      child?.kill(signal);
    },
    kill,
    async restart(killOptions) {
      await kill(killOptions);
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The AOF file Redis appends to now (Redis 7 multi-part AOF: the highest-numbered `.incr.aof`). */
function currentAofFile(dir: string): string | undefined {
  const aofDir = join(dir, 'appendonlydir');
  let names: string[];
  try {
    names = readdirSync(aofDir).filter((name) => name.endsWith('.incr.aof'));
  } catch {
    return undefined;
  }
  const number = (name: string) => Number(/\.(\d+)\.incr\.aof$/.exec(name)?.[1] ?? -1);
  const newest = names.sort((a, b) => number(a) - number(b)).at(-1);
  return newest === undefined ? undefined : join(aofDir, newest);
}
