import { PROTOCOL_VERSION, type RoomPage } from '@partyline/protocol';
import { signAccessToken } from '@partyline/relay';
import type { RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { rssBytes } from './proc-stats.js';
import { BENCH_SECRET, startServers } from './systems.js';

export interface WindowFigures {
  messages: number;
  /** Connect, join with `last: 50`, first 50 in hand: median over the samples, ms. */
  lastFiftyMs: number;
  /** Backward pages of 100 while the room takes 200 publishes/s: p50 / p99, ms. */
  backwardP50Ms: number;
  backwardP99Ms: number;
  /** The relay's RSS after the run, MB. */
  relayRssMb: number;
}

/** Writes `count` messages the way the append script does (stream entries `<seq>-0` and the room's meta). */
async function fill(redis: Redis, room: string, count: number): Promise<void> {
  for (let from = 1; from <= count; from += 20_000) {
    const pipeline = redis.pipeline();
    for (let seq = from; seq < Math.min(from + 20_000, count + 1); seq++) {
      pipeline.xadd(`pl:{${room}}:log`, `${seq}-0`, 'i', `m${seq}`, 't', 'chat', 'b', `{"text":"message number ${seq}"}`, 's', 'filler', 'ts', String(Date.now()));
    }
    await pipeline.exec();
  }
  await redis.hset(`pl:{${room}}:meta`, 'epoch', `bench-${room}`, 'seq', count);
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

async function connect(url: string, token: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], auth: { token, protocol: PROTOCOL_VERSION }, forceNew: true, reconnection: false });
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
  return socket;
}

/**
 * (i) history windows: one relay over Redis (retention unlimited), a room of `big` messages and one of
 * 1,000 (filled with pipelined appends). For each: a new member's time to its newest 50 (connect +
 * join with `last: 50`), and backward pages of 100 while the room takes live publishes; relay RSS.
 * The figure that matters is the ratio big / small: a join and a page must not cost more in a bigger log.
 */
export async function historyWindows(redisServer: RedisServer, big: number, progress: (text: string) => void): Promise<{ big: WindowFigures; small: WindowFigures }> {
  const redis = new Redis(redisServer.url);
  redis.on('error', () => {});
  await redis.flushall();
  progress(`(i) filling a ${big.toLocaleString('en')}-message room and a 1,000-message room`);
  await Promise.all([fill(redis, 'window-big', big), fill(redis, 'window-small', 1_000)]);
  const [relay] = await startServers('partyline', 1, redisServer.url, ['--retention-messages', '0', '--retention-hours', '0']);
  try {
    const token = await signAccessToken({ sub: 'bench-reader', rooms: ['*'], ttlSeconds: 3600 }, BENCH_SECRET);
    const measureRoom = async (room: string, messages: number): Promise<WindowFigures> => {
      const joins: number[] = [];
      for (let i = 0; i < 30; i++) {
        const started = performance.now();
        const socket = await connect(relay!.url, token);
        const page = (await socket.timeout(10_000).emitWithAck('room:join', { room, last: 50 })) as RoomPage & { ok: boolean };
        joins.push(performance.now() - started);
        if (!page.ok || page.messages.length !== 50) throw new Error(`join last: 50 in ${room} answered ${page.messages?.length} messages`);
        socket.close();
      }
      // Live publishes meanwhile (200/s), so pages are read from a log that grows.
      const publisher = await connect(relay!.url, token);
      let n = 0;
      const publishing = setInterval(() => {
        const messages = Array.from({ length: 20 }, () => ({ id: `live-${room}-${n++}`, type: 'chat', body: '{"live":true}' }));
        publisher.emit('room:publish', { room, messages }, () => {});
      }, 100);
      const reader = await connect(relay!.url, token);
      const pages: number[] = [];
      try {
        for (let before = Number.MAX_SAFE_INTEGER; pages.length < 200; ) {
          const started = performance.now();
          const page = (await reader.timeout(10_000).emitWithAck('room:read', { room, before, limit: 100 })) as RoomPage & { ok: boolean };
          pages.push(performance.now() - started);
          before = page.hasOlder ? page.messages[0]!.seq : Number.MAX_SAFE_INTEGER; // at seq 1: start over from the head
        }
      } finally {
        clearInterval(publishing);
        reader.close();
        publisher.close();
      }
      joins.sort((a, b) => a - b);
      pages.sort((a, b) => a - b);
      return { messages, lastFiftyMs: percentile(joins, 50), backwardP50Ms: percentile(pages, 50), backwardP99Ms: percentile(pages, 99), relayRssMb: rssBytes(relay!.pid) / 1_048_576 };
    };
    progress('(i) history windows — 1,000-message room');
    const small = await measureRoom('window-small', 1_000);
    progress(`(i) history windows — ${big.toLocaleString('en')}-message room`);
    const bigFigures = await measureRoom('window-big', big);
    return { big: bigFigures, small };
  } finally {
    await relay?.stop();
    redis.disconnect();
  }
}
