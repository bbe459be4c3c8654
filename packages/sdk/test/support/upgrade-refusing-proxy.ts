import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * An HTTP proxy that forwards plain requests (long-polling) to the relay and refuses every
 * WebSocket upgrade, as corporate proxies do: a 403 answer, or the connection reset.
 */
export interface UpgradeRefusingProxy {
  url: string;
  /** Upgrades refused so far. */
  readonly refusedUpgrades: number;
  /** Plain HTTP requests forwarded to `/socket.io/` with `transport=polling`. */
  readonly pollingRequests: number;
  close(): Promise<void>;
}

export async function startUpgradeRefusingProxy(relayPort: number, refusal: '403' | 'reset'): Promise<UpgradeRefusingProxy> {
  let refusedUpgrades = 0;
  let pollingRequests = 0;
  const server: Server = createServer((incoming, answer) => {
    if (incoming.url?.includes('transport=polling')) pollingRequests++;
    const forwarded = request({ host: '127.0.0.1', port: relayPort, method: incoming.method, path: incoming.url, headers: incoming.headers }, (upstream) => {
      answer.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(answer);
    });
    forwarded.on('error', () => answer.destroy());
    incoming.pipe(forwarded);
  });
  server.on('upgrade', (_incoming, socket) => {
    refusedUpgrades++;
    if (refusal === 'reset') (socket as Socket).resetAndDestroy(); // a TCP RST, as a proxy dropping the upgrade
    else socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 23\r\nConnection: close\r\n\r\nWebSocket not permitted');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get refusedUpgrades() {
      return refusedUpgrades;
    },
    get pollingRequests() {
      return pollingRequests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
