import { ServerEvent, type ClientToServerEvents, type ServerToClientEvents } from '@partyline/protocol';
import { createSocket } from './socket-client.js';
import type { TransportFactory } from './transport.js';

const SERVER_EVENTS = Object.values(ServerEvent);

/** The shipped transport: Socket.IO over one WebSocket (see socket-client.ts). */
export const socketTransport: TransportFactory = (url, options, callbacks) => {
  const socket = createSocket<ServerToClientEvents, ClientToServerEvents>(url, { auth: options.auth, timeout: options.connectTimeoutMs, clock: options.clock });
  socket.on('connect', () => callbacks.onOpen());
  socket.on('connect_error', (error) => callbacks.onConnectError(error));
  socket.on('disconnect', (reason) => callbacks.onClose(reason));
  for (const event of SERVER_EVENTS) socket.on(event, (payload: unknown) => callbacks.onEvent(event, payload));
  return {
    request: (event, payload, timeoutMs) => (socket.timeout(timeoutMs) as unknown as { emitWithAck(event: string, payload: object): Promise<unknown> }).emitWithAck(event, payload),
    send: (event, payload) => (socket as unknown as { emit(event: string, payload: object, ack: () => void): void }).emit(event, payload, () => {}),
    close() {
      socket.off();
      socket.disconnect();
    },
  };
};
