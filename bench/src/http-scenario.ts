import { PROTOCOL_VERSION } from '@partyline/protocol';
import { createServerClient, signAccessToken } from '@partyline/relay';
import type { RedisServer } from '@partyline/test-support';
import { io } from 'socket.io-client';
import { BENCH_SECRET, startServers } from './systems.js';

export interface PublishFigures {
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

const API_KEY = 'bench-api-key-bench-api-key-bench-api-key';
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

/** `count` single-message publishes, `concurrency` in flight at a time, through `send`. */
async function drive(count: number, concurrency: number, send: (n: number) => Promise<unknown>): Promise<PublishFigures> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        const at = performance.now();
        await send(n);
        latencies.push(performance.now() - at);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { messagesPerSecond: count / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

/**
 * (j) HTTP publish next to socket publish: one relay over Redis, `count` single messages each way, 16
 * in flight; HTTP with an Idempotency-Key per message (a new connection per request would measure
 * TCP setup: fetch keeps connections alive), the socket with one message per `room:publish`.
 */
export async function httpPublish(redisServer: RedisServer, count: number): Promise<{ http: PublishFigures; socket: PublishFigures }> {
  const [relay] = await startServers('partyline', 1, redisServer.url, ['--api-keys', API_KEY]);
  try {
    const client = createServerClient({ url: relay!.url, credential: API_KEY });
    const http = await drive(count, 16, (n) => client.publish('http-bench', { type: 'chat', body: { n } }, { idempotencyKey: `http-${n}` }));
    const token = await signAccessToken({ sub: 'bench-socket', rooms: ['*'], ttlSeconds: 3600 }, BENCH_SECRET);
    const socket = io(relay!.url, { transports: ['websocket'], auth: { token, protocol: PROTOCOL_VERSION }, forceNew: true, reconnection: false });
    await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
    const viaSocket = await drive(count, 16, (n) =>
      socket.timeout(10_000).emitWithAck('room:publish', { room: 'socket-bench', messages: [{ id: `socket-${n}`, type: 'chat', body: JSON.stringify({ n }) }] }),
    );
    socket.close();
    return { http, socket: viaSocket };
  } finally {
    await relay?.stop();
  }
}
