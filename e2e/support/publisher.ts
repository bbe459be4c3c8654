import { randomUUID } from 'node:crypto';
import { PROTOCOL_VERSION, type Ack, type PublishAck } from '@partyline/protocol';
import { signAccessToken } from '@partyline/relay';
import { io } from 'socket.io-client';

export interface BurstOptions {
  /** How many chat messages. */
  count: number;
  /** Messages per publish request. @default 10 */
  batch?: number;
  /** Pause between requests. @default 50 (with batch 10: about 200 messages/s) */
  intervalMs?: number;
  /** Chat text prefix: messages read `${prefix} 1`, `${prefix} 2`, … */
  prefix: string;
}

/**
 * Publishes `messages` into `room` straight at a relay with the given token (no browser, no outbox):
 * what a script holding that token can do. Answers the relay's ack, one result per message.
 */
export async function publishWithToken(relayUrl: string, room: string, token: string, messages: { id: string; type: string; body: unknown }[]): Promise<Ack<PublishAck>> {
  const socket = io(relayUrl, { transports: ['websocket'], auth: { token, protocol: PROTOCOL_VERSION }, reconnection: false, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const wire = messages.map((message) => ({ id: message.id, type: message.type, body: JSON.stringify(message.body) }));
    return (await socket.timeout(10_000).emitWithAck('room:publish', { room, messages: wire })) as Ack<PublishAck>;
  } finally {
    socket.close();
  }
}

/**
 * Another member of the room talking fast, straight at a relay (no browser): chat messages in
 * batches, each batch acked before the next. Answers the texts in the order they were published.
 */
export async function publishBurst(relayUrl: string, room: string, tokenSecret: string, options: BurstOptions): Promise<string[]> {
  const batch = options.batch ?? 10;
  const intervalMs = options.intervalMs ?? 50;
  const token = await signAccessToken({ sub: 'e2e-chatterbox', rooms: [room], ttlSeconds: 600 }, tokenSecret);
  const socket = io(relayUrl, { transports: ['websocket'], auth: { token, protocol: PROTOCOL_VERSION }, reconnection: false, forceNew: true });
  const run = randomUUID().slice(0, 8);
  const texts: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    for (let sent = 0; sent < options.count; sent += batch) {
      const messages = [];
      for (let n = sent + 1; n <= Math.min(options.count, sent + batch); n += 1) {
        const text = `${options.prefix} ${n}`;
        texts.push(text);
        messages.push({ id: `burst-${run}-${n}`, type: 'chat', body: JSON.stringify({ text }) });
      }
      const ack = (await socket.timeout(10_000).emitWithAck('room:publish', { room, messages })) as Ack<PublishAck>;
      const refused = ack.ok ? ack.results.find((result) => 'error' in result) : ack;
      if (refused) throw new Error(`publishing into ${room} failed: ${JSON.stringify(refused)}`);
      if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    return texts;
  } finally {
    socket.close();
  }
}
