import type { ClientEvent, ServerEvent } from '@partyline/protocol';
import type { Clock } from './clock.js';

/**
 * What a connection to one relay can do, whatever carries it (centrifuge-js's transports are the
 * model): the connection opens one per attempt, rooms, the flusher and presence send through it,
 * and it reports back through {@link TransportCallbacks}. A transport never reconnects by itself.
 * The shipped one speaks Socket.IO over a WebSocket (`socket-transport.ts`), falling back to HTTP
 * long-polling where asked (`polling-fallback.ts`); the simulator plugs in an in-memory one wired to
 * a model relay on a virtual clock.
 */
export interface Transport {
  /**
   * Sends a request and resolves with the relay's raw answer (the ack's argument, unchecked).
   * Rejects with an `Error` when no answer comes within `timeoutMs`, or at once when the transport
   * closes first (never later than that).
   */
  request(event: ClientEvent, payload: object, timeoutMs: number): Promise<unknown>;
  /** Sends without waiting for an answer (best effort). */
  send(event: ClientEvent, payload: object): void;
  /** Closes it; no callback follows. Idempotent. */
  close(): void;
}

export interface TransportCallbacks {
  /** The relay accepted the connection (Socket.IO CONNECT answered). */
  onOpen(): void;
  /** The attempt failed before `onOpen`: unreachable, refused (the relay's error in `data`), timed out. Nothing follows. */
  onConnectError(error: Error & { data?: unknown }): void;
  /** An open transport closed (`reason` as socket.io-client names it). Nothing follows. */
  onClose(reason: string): void;
  /** A relay event, undecoded. */
  onEvent(event: ServerEvent, payload: unknown): void;
}

export interface TransportOptions {
  /** The handshake's `auth` (token and protocol version). */
  auth: object;
  /** How long the whole opening (reaching the relay and its CONNECT answer) may take. */
  connectTimeoutMs: number;
  clock: Clock;
}

/** Opens a transport to `url`; it calls back asynchronously, never from inside this call. */
export type TransportFactory = (url: string, options: TransportOptions, callbacks: TransportCallbacks) => Transport;
