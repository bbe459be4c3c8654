import { ServerEvent } from '@partyline/protocol';
import { io } from 'socket.io-client';
import type { TransportFactory } from './transport.js';

const SERVER_EVENTS = Object.values(ServerEvent);

/**
 * Socket.IO over Engine.IO HTTP long-polling, for networks whose proxy refuses WebSocket upgrades:
 * the official socket.io-client, pinned to `polling` (no upgrade attempt, which the proxy would
 * refuse anyway) and with its own reconnection off (the connection reconnects, to the next relay).
 * Only ever loaded through `polling-fallback.ts`'s dynamic import, so it is a chunk of its own.
 * Its timers are the real ones (socket.io-client takes no clock): the simulator plugs in its own transport.
 */
export const pollingTransport: TransportFactory = (url, options, callbacks) => {
  const socket = io(url, { transports: ['polling'], auth: options.auth as Record<string, unknown>, timeout: options.connectTimeoutMs, reconnection: false, forceNew: true });
  socket.on('connect', () => callbacks.onOpen());
  socket.on('connect_error', (error) => callbacks.onConnectError(error as Error & { data?: unknown }));
  socket.on('disconnect', (reason) => callbacks.onClose(reason));
  for (const event of SERVER_EVENTS) socket.on(event, (payload: unknown) => callbacks.onEvent(event, payload));
  return {
    request: (event, payload, timeoutMs) => socket.timeout(timeoutMs).emitWithAck(event, payload),
    send: (event, payload) => socket.emit(event, payload, () => {}),
    close() {
      socket.off();
      socket.disconnect();
    },
  };
};
