import { ErrorKind, ServerEvent, wireError } from '@partyline/protocol';
import type { Logger } from 'pino';
import type { RelayServer, RelaySocket } from './connection.js';
import type { RelayMetrics } from './metrics.js';

export interface SlowConsumerGuardOptions {
  io: RelayServer;
  /** A connection with more than this many bytes waiting to be written is closed. */
  maxBufferedBytes: number;
  intervalMs: number;
  metrics: RelayMetrics;
  logger: Logger;
}

/**
 * Bytes queued for a connection that its client has not read yet: Engine.IO's write buffer (packets
 * waiting for the transport) plus the WebSocket's own send buffer.
 */
export function bufferedBytes(socket: RelaySocket): number {
  const conn = socket.conn as unknown as {
    writeBuffer: { data?: unknown }[];
    transport: { socket?: { bufferedAmount?: number } };
  };
  let bytes = conn.transport.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer) {
    const data = packet.data;
    if (typeof data === 'string') bytes += data.length;
    else if (data instanceof Uint8Array) bytes += data.byteLength;
  }
  return bytes;
}

/**
 * A client that stops reading would make the relay buffer its room traffic without bound. Once a
 * connection's backlog passes the limit it is closed; the client reconnects and catches up from the
 * log, which holds everything it missed, so nothing is lost. One timer checks every connection.
 */
export function startSlowConsumerGuard({ io, maxBufferedBytes, intervalMs, metrics, logger }: SlowConsumerGuardOptions): () => void {
  const timer = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) {
      const backlog = bufferedBytes(socket);
      if (backlog <= maxBufferedBytes) continue;
      metrics.slowConsumerDisconnects.inc();
      logger.warn({ conn: socket.id, sub: socket.data.sub, backlogBytes: backlog }, 'closing slow consumer');
      // Best effort: the client is not reading, so this may never arrive; the close itself does.
      socket.emit(ServerEvent.Error, wireError(ErrorKind.SlowConsumer, `client fell ${backlog} bytes behind; reconnect and catch up from the log`));
      socket.disconnect(true);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
