import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { signAccessToken } from '@partyline/relay';
import { findFreePort, startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { lostAppends, type LostAppend } from './aof-tail.js';
import type { StoreLoss } from './checker.js';

export const CHAOS_SECRET = 'chaos-secret-chaos-secret-chaos-secret!';

/**
 * A member's token: short-lived (5–15 s, from `random`), so tokens expire on live connections all
 * through a run and the SDK must refresh them.
 */
export function mintChaosToken(sub: string, room: string, random: () => number): Promise<string> {
  return signAccessToken({ sub, rooms: [room], ttlSeconds: 5 + Math.round(random() * 10) }, CHAOS_SECRET);
}
/** The relay package in this repository; its CLI runs from source (tsx), like every test layer's relays. */
const RELAY_DIR = fileURLToPath(new URL('../../relay', import.meta.url));

/** How long Redis (appendfsync everysec) may hold a write back behind a slow fsync while acking it. */
const REDIS_WRITE_POSTPONE_MS = 2000;

/** A relay process on a fixed port, so clients find it again after a restart. */
export class ManagedRelay {
  #child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly redisUrl: string,
    private readonly extraArgs: string[] = [],
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
      // The built relay (turbo builds it before chaos runs and tests): no TypeScript transform per start, which on a
      // busy machine took most of a relay's start-up.
      ['dist/cli.js', '--port', String(this.port), '--redis-url', this.redisUrl, '--token-secret', CHAOS_SECRET, '--drain-timeout-ms', '3000', ...this.extraArgs],
      // CHAOS_RELAY_LOGS=1 shows the relays' JSON logs (LOG_LEVEL=warn for their warnings) on stderr.
      { cwd: RELAY_DIR, stdio: ['ignore', process.env.CHAOS_RELAY_LOGS ? process.stderr : 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' } },
    );
    this.#child = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`relay on ${this.port} exited with ${child.exitCode}`);
      return (await fetch(`${this.url}/healthz`)).ok;
    }, `relay on port ${this.port}`, 60_000);
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

export interface SystemOptions {
  /**
   * Redis AOF fsync policy. `everysec` simulates the disk (see test-support `startRedis`): a Redis
   * kill then drops what was written after the last fsync, as a power loss would. @default 'always'
   */
  fsync?: 'always' | 'everysec';
  /** Relays keep at most this many messages per room log (`--retention-messages`). @default unlimited */
  retentionMessages?: number;
  /** More relay flags. */
  relayArgs?: string[];
  /** Told what a Redis crash lost (everysec). */
  onNote?: (line: string) => void;
}

export interface SystemUnderTest {
  redis: RedisServer;
  relays: ManagedRelay[];
  fsync: 'always' | 'everysec';
  /**
   * Kill Redis -9 and start it again after `pauseMs`. With everysec the AOF loses its unsynced tail;
   * answers the bytes lost (the window of acks that may name lost messages is kept in `storeLosses`).
   */
  crashRedis(pauseMs: number): Promise<number>;
  /** Room-log appends Redis crashes lost: the XADDs of the AOF tails they dropped. */
  lostAppends: LostAppend[];
  /** Windows of ack times in which an acked write may have been lost without reaching the AOF (Redis held it behind a slow fsync). */
  storeLosses: StoreLoss[];
  /** AOF bytes Redis crashes dropped (everysec only), and how many crashes dropped any. */
  readonly unsyncedBytesLost: number;
  readonly crashesThatLostData: number;
  stop(): Promise<void>;
}

/** Redis with AOF (fsync always, or a simulated everysec) and `relayCount` relay processes. */
export async function startSystem(relayCount: number, options: SystemOptions = {}): Promise<SystemUnderTest> {
  const fsync = options.fsync ?? 'always';
  const onNote = options.onNote;
  // The simulated fsync runs here, so its time is known: an ack heard before it names a durable write.
  const redis = await startRedis({ appendOnly: true, fsync, fsyncEveryMs: 2_000_000_000 });
  let durableAt = Date.now();
  let crashing = false;
  const fsyncTimer =
    fsync === 'everysec'
      ? setInterval(() => {
          if (crashing) return;
          const at = Date.now();
          redis.markDurable();
          durableAt = at;
        }, 1000)
      : undefined;
  fsyncTimer?.unref();
  const relayArgs = [...(options.retentionMessages !== undefined ? ['--retention-messages', String(options.retentionMessages)] : []), ...(options.relayArgs ?? [])];
  const relays: ManagedRelay[] = [];
  for (let i = 0; i < relayCount; i++) relays.push(new ManagedRelay(await findFreePort(), redis.url, relayArgs));
  try {
    await Promise.all(relays.map((relay) => relay.start()));
  } catch (error) {
    // A relay that did not come up: nothing of this system may outlive the failed run.
    clearInterval(fsyncTimer);
    await Promise.all(relays.map((relay) => relay.kill()));
    await redis.stop();
    throw error;
  }
  const storeLosses: StoreLoss[] = [];
  const droppedAppends: LostAppend[] = [];
  let unsyncedBytesLost = 0;
  let crashesThatLostData = 0;
  return {
    get unsyncedBytesLost() {
      return unsyncedBytesLost;
    },
    get crashesThatLostData() {
      return crashesThatLostData;
    },
    redis,
    relays,
    fsync,
    storeLosses,
    lostAppends: droppedAppends,
    async crashRedis(pauseMs) {
      crashing = true;
      const from = durableAt;
      const persistence = fsync === 'everysec' ? await redisInfo(redis.port, 'persistence') : undefined;
      const killedAt = Date.now();
      const appendsBefore = droppedAppends.length;
      const lost = await redis.kill({ loseUnsynced: fsync === 'everysec', onUnsynced: (aof, kept) => droppedAppends.push(...lostAppends(aof, kept)) });
      if (persistence) {
        const field = (name: string) => persistence.match(new RegExp(`^${name}:(\\S+)`, 'm'))?.[1] ?? '?';
        onNote?.(
          `Redis killed -9 ${killedAt - from} ms after the last simulated fsync; AOF tail lost: ${lost} bytes, ${droppedAppends.length - appendsBefore} appends; just before: ` +
            `aof_buffer_length ${field('aof_buffer_length')}, aof_pending_bio_fsync ${field('aof_pending_bio_fsync')}, aof_delayed_fsync ${field('aof_delayed_fsync')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const restartAt = Date.now();
      await redis.restart();
      durableAt = restartAt; // the restarted server's AOF is noted as durable when it comes up
      crashing = false;
      // What the cut AOF tail held is known exactly (droppedAppends). Besides, with everysec Redis
      // writes the AOF before it replies, except while a background fsync is still running: then it
      // postpones the write for up to 2 s and replies anyway (redis.conf: "in the worst case ... up to
      // 2 seconds of data"). If Redis said so just before the kill, an acked write may never have
      // reached the file: acks heard from 2 s before the last fsync until Redis was back may name one.
      const field = (name: string) => Number(persistence?.match(new RegExp(`^${name}:(\\d+)`, 'm'))?.[1] ?? 1);
      const holdingWrites = field('aof_pending_bio_fsync') > 0 || field('aof_buffer_length') > 0;
      if (lost > 0 && holdingWrites) storeLosses.push({ from: from - REDIS_WRITE_POSTPONE_MS, to: Date.now() });
      unsyncedBytesLost += lost;
      if (lost > 0) crashesThatLostData++;
      return lost;
    },
    async stop() {
      clearInterval(fsyncTimer);
      await Promise.all(relays.map((relay) => relay.kill()));
      await redis.stop();
    },
  };
}

/** `INFO <section>` over a plain socket (inline command); empty if Redis does not answer within 1 s. */
function redisInfo(port: number, section: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = () => {
      socket.destroy();
      resolve(data);
    };
    socket.setTimeout(1000, done);
    socket.once('error', done);
    socket.once('connect', () => socket.write(`INFO ${section}\r\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      const header = /^\$(\d+)\r\n/.exec(data);
      if (header && data.length >= header[0].length + Number(header[1])) done();
    });
  });
}
