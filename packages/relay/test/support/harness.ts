import {
  PROTOCOL_VERSION,
  type Ack,
  type ClientToServerEvents,
  type LogMessage,
  type RoomMessagesEvent,
  type ServerToClientEvents,
  type WireError,
} from '@partyline/protocol';
import { pino } from 'pino';
import { io, type Socket } from 'socket.io-client';
import { createRelay, type Relay, type RelayOptions } from '../../src/index.js';
import { signAccessToken } from '@partyline/server';
import { startRedis } from '@partyline/test-support';

export const TEST_SECRET = 'test-secret-test-secret-test-secret!';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export function tokenFor(sub: string, rooms: string[], ttlSeconds = 3600): Promise<string> {
  return signAccessToken({ sub, rooms, ttlSeconds }, TEST_SECRET);
}

export interface RunningRelay {
  relay: Relay;
  url: string;
}

/** Starts a relay on 127.0.0.1, port 0, quiet unless LOG_LEVEL is set; HS256 with TEST_SECRET unless `jwks` is given. */
export async function startRelay(options: Partial<RelayOptions> = {}): Promise<RunningRelay> {
  const relay = createRelay({ ...(options.jwks ? {} : { tokenSecret: TEST_SECRET }), logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }), ...options });
  const { url } = await relay.listen(0);
  return { relay, url };
}

/** A plain socket.io-client connection, as any app could open it (WebSocket transport). */
export async function connectClient(url: string, token: string, auth: Record<string, unknown> = {}): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, {
    transports: ['websocket'],
    auth: { token, protocol: PROTOCOL_VERSION, ...auth },
    reconnection: false,
    forceNew: true,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return socket;
}

/** Connects and returns the typed refusal the relay gave (fails if it accepted). */
export async function connectRefusal(url: string, auth: Record<string, unknown>): Promise<WireError> {
  const socket: ClientSocket = io(url, { transports: ['websocket'], auth, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.close();
      reject(new Error('relay accepted a connection it should have refused'));
    });
    socket.once('connect_error', (error) => {
      socket.close();
      resolve((error as Error & { data: WireError }).data);
    });
  });
}

/** Emits an event that takes an ack and resolves with the ack (typed loosely, for bad-input tests too). */
export function request<T extends object = Record<string, unknown>>(socket: ClientSocket, event: string, payload?: unknown): Promise<Ack<T>> {
  const loose = socket as unknown as { timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<Ack<T>> } };
  return payload === undefined ? loose.timeout(5000).emitWithAck(event) : loose.timeout(5000).emitWithAck(event, payload);
}

export function publish(socket: ClientSocket, room: string, messages: { id: string; type?: string; body?: string }[]) {
  return request<{ epoch: string; results: ({ id: string; seq: number; duplicate?: boolean } | { id: string; error: WireError })[] }>(
    socket,
    'room:publish',
    { room, messages: messages.map((m) => ({ type: 'chat', body: JSON.stringify({ text: m.id }), ...m })) },
  );
}

/** Everything a socket receives in `room:messages`, in arrival order. */
export function collectMessages(socket: ClientSocket): LogMessage[] {
  const received: LogMessage[] = [];
  socket.on('room:messages', (event: RoomMessagesEvent) => received.push(...event.messages));
  return received;
}

export function expectOk<T extends object>(ack: Ack<T>): { ok: true } & T {
  if (!ack.ok) throw new Error(`expected ok, got ${ack.error.kind}: ${ack.error.message}`);
  return ack;
}

/** Where a test runs: one relay on the memory store (as both "relays"), or two relays over one real Redis. */
export const MEMORY_OR_TWO_REDIS_RELAYS: [string, () => Promise<{ relays: RunningRelay[]; stop(): Promise<void> }>][] = [
  [
    'memory store',
    async () => {
      const relay = await startRelay();
      return { relays: [relay, relay], stop: () => relay.relay.close() };
    },
  ],
  [
    'two relays over Redis',
    async () => {
      const redis = await startRedis();
      const relays = [await startRelay({ redisUrl: redis.url }), await startRelay({ redisUrl: redis.url })];
      return {
        relays,
        async stop() {
          for (const { relay } of relays) await relay.close();
          await redis.stop();
        },
      };
    },
  ],
];
