import type { Socket } from 'socket.io';

/**
 * Bytes queued for a connection that its client has not read yet: Engine.IO's write buffer (packets
 * waiting for the transport) plus the WebSocket's own send buffer.
 */
export function bufferedBytes(socket: Socket): number {
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
