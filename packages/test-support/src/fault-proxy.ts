import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of one or more targets, that a test can sever: `cut()` destroys
 * every open connection and refuses new ones (as a dropped network would), `heal()` lets them through
 * again. `context.setOffline()` alone does not close an open WebSocket; this does.
 */
export interface FaultProxy {
  /** One listening port per target, in the order of `targets`. */
  readonly ports: number[];
  /** `http://127.0.0.1:<port>` per target. */
  readonly urls: string[];
  readonly isCut: boolean;
  /** Connections currently open through the proxy. */
  readonly openConnections: number;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targets: number[]): Promise<FaultProxy> {
  let cut = false;
  const open = new Set<Socket>();
  const servers: Server[] = [];

  for (const targetPort of targets) {
    const server = createServer((client) => {
      if (cut) {
        client.destroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      open.add(client);
      open.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        open.delete(client);
        open.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  const ports = servers.map((server) => (server.address() as { port: number }).port);

  const severAll = () => {
    for (const socket of open) socket.destroy();
    open.clear();
  };

  return {
    ports,
    urls: ports.map((port) => `http://127.0.0.1:${port}`),
    get isCut() {
      return cut;
    },
    get openConnections() {
      return open.size / 2;
    },
    cut() {
      cut = true;
      severAll();
    },
    heal() {
      cut = false;
    },
    async close() {
      cut = true;
      severAll();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}
