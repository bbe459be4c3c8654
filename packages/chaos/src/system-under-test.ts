import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findFreePort, startRedis, waitFor, type RedisServer } from '@partyline/test-support';

export const CHAOS_SECRET = 'chaos-secret-chaos-secret-chaos-secret!';
/** The relay package in this repository; its CLI runs from source (tsx), like every test layer's relays. */
const RELAY_DIR = fileURLToPath(new URL('../../relay', import.meta.url));

/** A relay process on a fixed port, so clients find it again after a restart. */
export class ManagedRelay {
  #child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly redisUrl: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'src/cli.ts', '--port', String(this.port), '--redis-url', this.redisUrl, '--token-secret', CHAOS_SECRET, '--drain-timeout-ms', '3000'],
      { cwd: RELAY_DIR, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' } },
    );
    this.#child = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`relay on ${this.port} exited with ${child.exitCode}`);
      return (await fetch(`${this.url}/healthz`)).ok;
    }, `relay on port ${this.port}`, 20_000);
  }

  /** kill -9: no drain, no goodbye. */
  async kill(): Promise<void> {
    await this.#stop('SIGKILL');
  }

  /** SIGTERM: the relay drains (clients told to move) and exits by itself. */
  async drain(): Promise<void> {
    await this.#stop('SIGTERM');
  }

  async #stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}

export interface SystemUnderTest {
  redis: RedisServer;
  relays: ManagedRelay[];
  stop(): Promise<void>;
}

/** Redis with AOF (fsync always) and `relayCount` relay processes. */
export async function startSystem(relayCount: number): Promise<SystemUnderTest> {
  const redis = await startRedis({ appendOnly: true });
  const relays: ManagedRelay[] = [];
  for (let i = 0; i < relayCount; i++) relays.push(new ManagedRelay(await findFreePort(), redis.url));
  await Promise.all(relays.map((relay) => relay.start()));
  return {
    redis,
    relays,
    async stop() {
      await Promise.all(relays.map((relay) => relay.kill()));
      await redis.stop();
    },
  };
}
