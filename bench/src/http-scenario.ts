import { PROTOCOL_VERSION } from '@partyline/protocol';
import { createServerClient, signAccessToken } from '@partyline/relay';
import type { RedisServer } from '@partyline/test-support';
import { io } from 'socket.io-client';
import { cpuMicros } from './proc-stats.js';
import { BENCH_SECRET, startServers } from './systems.js';

export interface PublishFigures {
  /** Messages appended per second (a batch counts each of its messages): the median of the rounds. */
  messagesPerSecond: number;
  /** Each round's msgs/s, in the order run: their spread is the run's noise. */
  roundsMessagesPerSecond: number[];
  /** Publish → ack of one request (a batch's whole request), over all rounds. */
  p50Ms: number;
  p99Ms: number;
  /** Relay CPU (user + system) per message appended, over all rounds. */
  relayCpuMicrosPerMessage: number;
}

export interface HttpPublishFigures {
  /** One message per POST, with an Idempotency-Key. */
  http: PublishFigures;
  /** One message per `room:publish`. */
  socket: PublishFigures;
  /** `batchSize` messages per POST (each with its id), as many POSTs as `http` makes. */
  httpBatch: PublishFigures;
  /** `batchSize` messages per `room:publish`. */
  socketBatch: PublishFigures;
  batchSize: number;
}

const API_KEY = 'bench-api-key-bench-api-key-bench-api-key';
const IN_FLIGHT = 16;
const BATCH_SIZE = 10;
const ROUNDS = 5;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

/** One form's measurements so far, over the rounds. */
interface Tally {
  rates: number[];
  latencies: number[];
  messages: number;
  relayCpuMicros: number;
}

/** `requests` calls of `send`, IN_FLIGHT at a time, each carrying `perRequest` messages, added to `tally` with the relay's CPU over them. */
async function drive(tally: Tally, relayPid: number, requests: number, perRequest: number, send: (n: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const cpuBefore = cpuMicros(relayPid);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < requests) {
        const n = next++;
        const at = performance.now();
        await send(n);
        tally.latencies.push(performance.now() - at);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  tally.rates.push((requests * perRequest) / seconds);
  tally.messages += requests * perRequest;
  tally.relayCpuMicros += cpuMicros(relayPid) - cpuBefore;
}

function figuresOf({ rates, latencies, messages, relayCpuMicros }: Tally): PublishFigures {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    messagesPerSecond: percentile([...rates].sort((a, b) => a - b), 50),
    roundsMessagesPerSecond: rates,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    relayCpuMicrosPerMessage: relayCpuMicros / messages,
  };
}

/**
 * (j) HTTP publish next to socket publish: one relay over Redis, `count` requests each way, 16
 * in flight, as single messages (HTTP with an Idempotency-Key per message, the socket one
 * message per `room:publish`) and as batches of BATCH_SIZE. HTTP goes through the server client
 * (@partyline/server) over keep-alive connections, as an app backend would. Every form is warmed
 * up first (a tenth of `count`, unmeasured), so the first one measured does not pay the relay's JIT,
 * then measured in ROUNDS interleaved rounds. With BENCH_CPU_PROF set, the relay is profiled over
 * the measured rounds only.
 */
export async function httpPublish(redisServer: RedisServer, count: number): Promise<HttpPublishFigures> {
  const [relay] = await startServers('partyline', 1, redisServer.url, ['--api-keys', API_KEY]);
  const token = await signAccessToken({ sub: 'bench-socket', rooms: ['*'], ttlSeconds: 3600 }, BENCH_SECRET);
  const socket = io(relay!.url, { transports: ['websocket'], auth: { token, protocol: PROTOCOL_VERSION }, forceNew: true, reconnection: false });
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
    const client = createServerClient({ url: relay!.url, credential: API_KEY });
    const batch = (prefix: string, n: number) => Array.from({ length: BATCH_SIZE }, (_, i) => ({ id: `${prefix}-${n}-${i}`, type: 'chat', body: { n, i } }));
    // Each pass publishes to its own rooms and ids: nothing is a duplicate of an earlier pass.
    const forms = (pass: string) => ({
      http: (n: number) => client.publish(`http-${pass}`, { type: 'chat', body: { n } }, { idempotencyKey: `http-${n}` }),
      socket: (n: number) =>
        socket.timeout(10_000).emitWithAck('room:publish', { room: `socket-${pass}`, messages: [{ id: `socket-${n}`, type: 'chat', body: JSON.stringify({ n }) }] }),
      httpBatch: (n: number) => client.publishBatch(`http-batch-${pass}`, batch('http', n)),
      socketBatch: (n: number) =>
        socket.timeout(10_000).emitWithAck('room:publish', {
          room: `socket-batch-${pass}`,
          messages: batch('socket', n).map(({ body, ...message }) => ({ ...message, body: JSON.stringify(body) })),
        }),
    });
    const sizes = { http: 1, socket: 1, httpBatch: BATCH_SIZE, socketBatch: BATCH_SIZE };
    type Form = keyof typeof sizes;
    const tally = (): Tally => ({ rates: [], latencies: [], messages: 0, relayCpuMicros: 0 });
    const tallies = (): Record<Form, Tally> => ({ http: tally(), socket: tally(), httpBatch: tally(), socketBatch: tally() });
    /** Every form in turn, `requests` each, into `into`. */
    const round = async (pass: string, requests: number, into: Record<Form, Tally>) => {
      for (const [form, send] of Object.entries(forms(pass)) as [Form, (n: number) => Promise<unknown>][]) {
        await drive(into[form], relay!.pid, requests, sizes[form], send);
      }
    };
    await round('warm-up', Math.ceil(count / 10), tallies());
    const profiling = Boolean(process.env.BENCH_CPU_PROF);
    if (profiling) await relay!.request('profile:start');
    // Interleaved rounds: a noisy second on the machine lands in one round of every form, not in one form.
    const measured = tallies();
    for (let r = 0; r < ROUNDS; r++) await round(`round-${r}`, Math.ceil(count / ROUNDS), measured);
    if (profiling) await relay!.request('profile:stop');
    return {
      http: figuresOf(measured.http),
      socket: figuresOf(measured.socket),
      httpBatch: figuresOf(measured.httpBatch),
      socketBatch: figuresOf(measured.socketBatch),
      batchSize: BATCH_SIZE,
    };
  } finally {
    socket.close();
    await relay?.stop();
  }
}
