/**
 * A load generator process. The parent sends a WorkerPlan, waits for `ready`, sends `start`, later
 * `stop`, and receives WorkerReport. Latency is publish→delivery: the body carries the time the
 * message was *meant* to be sent (open loop), so a stalled sender does not hide its own delay
 * (coordinated omission).
 */
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { PROTOCOL_VERSION } from '@partyline/protocol';
import { io, type Socket } from 'socket.io-client';
import type { SystemName } from './systems.js';

export interface WorkerPlan {
  system: SystemName;
  urls: string[];
  token: string;
  /** Connections this worker opens, spread over `urls`. */
  connections: number;
  /** Room of connection i: rooms[i % rooms.length]. */
  rooms: string[];
  /** Join the room and record deliveries. */
  subscribe: boolean;
  /** Publishing: open loop at `ratePerSecond` in all, or closed loop with `window` in flight per connection. */
  publish?: { ratePerSecond?: number; window?: number; bodyBytes: number };
}

export interface WorkerReport {
  connected: number;
  published: number;
  acked: number;
  errors: number;
  delivered: number;
  /** Latency histogram in microseconds, HdrHistogram compressed base64. */
  latency: string;
}

const now = () => performance.timeOrigin + performance.now();

interface Adapter {
  join(socket: Socket, room: string): Promise<void>;
  publish(socket: Socket, room: string, id: string, body: string): Promise<boolean>;
  onDeliver(socket: Socket, deliver: (body: string) => void): void;
  /**
   * The publisher's own copy arrives in its ack, not as an event (Partyline protocol 3: the SDK puts
   * its appended messages in its view from the ack). Plain Socket.IO echoes the broadcast to its sender.
   */
  ownCopyInAck: boolean;
}

const adapters: Record<SystemName, Adapter> = {
  partyline: {
    async join(socket, room) {
      await socket.emitWithAck('room:join', { room });
    },
    async publish(socket, room, id, body) {
      const ack = (await socket.emitWithAck('room:publish', { room, messages: [{ id, type: 'bench', body }] })) as { ok: boolean; results?: { seq?: number }[] };
      return ack.ok && ack.results?.[0]?.seq !== undefined;
    },
    onDeliver(socket, deliver) {
      socket.on('room:messages', (event: { messages: { body: string }[] }) => {
        for (const message of event.messages) deliver(message.body);
      });
    },
    ownCopyInAck: true,
  },
  baseline: {
    async join(socket, room) {
      await socket.emitWithAck('join', room);
    },
    async publish(socket, room, _id, body) {
      await socket.emitWithAck('publish', { room, body });
      return true;
    },
    onDeliver(socket, deliver) {
      socket.on('message', (message: { body: string }) => deliver(message.body));
    },
    ownCopyInAck: false,
  },
};

async function run(plan: WorkerPlan): Promise<void> {
  const adapter = adapters[plan.system];
  const histogram: Histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const report: WorkerReport = { connected: 0, published: 0, acked: 0, errors: 0, delivered: 0, latency: '' };
  let measuring = false;
  let measuredFrom = 0;
  let running = true;

  const sockets: Socket[] = [];
  for (let i = 0; i < plan.connections; i += 50) {
    const batch = Array.from({ length: Math.min(50, plan.connections - i) }, (_, k) => {
      const url = plan.urls[(i + k) % plan.urls.length]!;
      const socket = io(url, { transports: ['websocket'], auth: { token: plan.token, protocol: PROTOCOL_VERSION }, reconnection: false, forceNew: true });
      return new Promise<Socket>((resolve, reject) => {
        socket.once('connect', () => resolve(socket));
        socket.once('connect_error', reject);
      });
    });
    sockets.push(...(await Promise.all(batch)));
  }
  report.connected = sockets.length;

  const deliver = (body: string) => {
    if (!measuring) return;
    const sentAt = Number(body.slice(5, body.indexOf(',')));
    // A message meant to be sent during the warm-up is not the measured window's, even if it arrives in it.
    if (sentAt < measuredFrom) return;
    report.delivered++;
    histogram.recordValue(Math.max(1, Math.round((now() - sentAt) * 1000)));
  };
  if (plan.subscribe) {
    await Promise.all(
      sockets.map(async (socket, i) => {
        adapter.onDeliver(socket, deliver);
        await adapter.join(socket, plan.rooms[i % plan.rooms.length]!);
      }),
    );
  }

  const padding = 'x'.repeat(Math.max(0, (plan.publish?.bodyBytes ?? 0) - 40));
  let counter = 0;
  const sendOne = async (socket: Socket, room: string, intendedAt: number) => {
    const body = `{"t":${intendedAt.toFixed(3)},"p":"${padding}"}`;
    const counted = measuring;
    if (counted) report.published++;
    try {
      if (await adapter.publish(socket, room, `${process.pid}-${counter++}`, body)) {
        if (counted) report.acked++;
        // A member that publishes holds its own message once the ack is in (counted like a delivery).
        if (plan.subscribe && adapter.ownCopyInAck) deliver(body);
      } else if (counted) report.errors++;
    } catch {
      if (counted) report.errors++;
    }
  };

  const publishLoop = async () => {
    const spec = plan.publish;
    if (!spec) return;
    if (spec.ratePerSecond) {
      // Open loop: send on schedule whether or not earlier sends were answered.
      const interval = 1000 / spec.ratePerSecond;
      const start = now();
      let n = 0;
      while (running) {
        // Send everything that is due (catching up after a slow tick), then sleep until the next one.
        for (const due = now(); start + n * interval <= due; n++) {
          void sendOne(sockets[n % sockets.length]!, plan.rooms[(n % sockets.length) % plan.rooms.length]!, start + n * interval);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, start + n * interval - now())));
      }
    } else {
      // Closed loop: `window` in flight per connection, as fast as acks allow.
      await Promise.all(
        sockets.flatMap((socket, i) =>
          Array.from({ length: spec.window ?? 1 }, async () => {
            while (running) await sendOne(socket, plan.rooms[i % plan.rooms.length]!, now());
          }),
        ),
      );
    }
  };

  const nextCommand = () => new Promise<unknown>((resolve) => process.once('message', resolve));
  process.send!({ type: 'ready' });
  let publishing: Promise<void> | undefined;
  if ((await nextCommand()) === 'warm-up') {
    // Unmeasured publishing until `start`: the first messages through fresh servers and workers run cold code.
    publishing = publishLoop();
    await nextCommand();
  }
  measuredFrom = now();
  measuring = true;
  publishing ??= publishLoop();
  await nextCommand();
  measuring = false;
  running = false;
  await Promise.race([publishing, new Promise((resolve) => setTimeout(resolve, 2000))]);
  report.latency = encodeIntoCompressedBase64(histogram);
  process.send!({ type: 'report', report });
  for (const socket of sockets) socket.close();
  setTimeout(() => process.exit(0), 100);
}

process.once('message', (plan: WorkerPlan) => void run(plan));
