import { socketTransport } from './socket-transport.js';
import type { Transport, TransportCallbacks, TransportFactory, TransportOptions } from './transport.js';

export interface PollingFallbackOptions {
  /**
   * WebSocket attempts in a row on one relay that must fail unanswered (refused upgrade, reset,
   * timeout) before it is reached by long-polling; 0 polls from the first attempt. @default 2
   */
  webSocketFailures?: number;
}

/**
 * A transport for networks that block WebSocket: Socket.IO over a WebSocket as usual, and HTTP
 * long-polling (the official socket.io-client, imported on demand as a chunk of its own) for a
 * relay whose WebSocket attempts keep failing before any answer — a proxy refusing the upgrade
 * (4xx/5xx) or resetting it. A relay reached by polling stays on polling; when polling fails
 * unanswered too, the next attempt tries a WebSocket again (the relay may simply have been down).
 * An answer from the relay (accepted or refused) proves the WebSocket works.
 *
 * Not in the main entry, so apps that do not use it ship none of it. Needs `socket.io-client`
 * installed (an optional peer dependency) and relays started with `--transports websocket,polling`
 * behind sticky sessions (deploy/nginx.conf: `ip_hash`).
 *
 * @example
 * import { createClient } from '@partyline/sdk';
 * import { pollingFallback } from '@partyline/sdk/polling';
 *
 * const client = createClient({ relays: ['https://relay.example.com'], token, transport: pollingFallback() });
 */
export function pollingFallback(options: PollingFallbackOptions = {}): TransportFactory {
  const threshold = options.webSocketFailures ?? 2;
  /** Per relay URL: WebSocket attempts that failed unanswered in a row; at `threshold`, the relay is polled. */
  const failures = new Map<string, number>();
  return (url, transportOptions, callbacks) => {
    const polling = (failures.get(url) ?? 0) >= threshold;
    const tracked: TransportCallbacks = {
      ...callbacks,
      onOpen() {
        if (!polling) failures.set(url, 0);
        callbacks.onOpen();
      },
      onConnectError(error) {
        // `data`: the relay itself refused (a token, a limit), so the way to it works.
        const answered = Boolean(error.data);
        if (!polling) failures.set(url, answered ? 0 : (failures.get(url) ?? 0) + 1);
        // Unreachable by polling too: the relay may just be down, so the next attempt tries a WebSocket.
        else if (!answered) failures.delete(url);
        callbacks.onConnectError(error);
      },
    };
    return polling ? lazyPollingTransport(url, transportOptions, tracked) : socketTransport(url, transportOptions, tracked);
  };
}

/** The polling transport, imported on first use; it calls back only once loaded (a failed import is a failed attempt). */
function lazyPollingTransport(url: string, options: TransportOptions, callbacks: TransportCallbacks): Transport {
  let inner: Transport | undefined;
  let closed = false;
  import('./polling-transport.js').then(
    ({ pollingTransport }) => {
      if (!closed) inner = pollingTransport(url, options, callbacks);
    },
    (error: unknown) => {
      if (!closed) callbacks.onConnectError(new Error(`cannot load the long-polling transport (is socket.io-client installed?): ${String(error)}`));
    },
  );
  return {
    // The connection sends only once `onOpen` came, which the loaded transport calls.
    request: (event, payload, timeoutMs) => inner?.request(event, payload, timeoutMs) ?? Promise.reject(new Error('socket has been disconnected')),
    send: (event, payload) => inner?.send(event, payload),
    close() {
      closed = true;
      inner?.close();
    },
  };
}
