import { createRelay, signAccessToken, type Relay } from '@partyline/relay';

export const TEST_SECRET = 'react-test-secret-react-test-secret-0123456789';

export function tokenFor(sub: string, rooms: string[] = ['*']): Promise<string> {
  return signAccessToken({ sub, rooms }, TEST_SECRET);
}

/** What one connection asked the relay for, in order: `['room:join', room]`, `['room:leave', room]`, … */
export type Request = [event: string, room: string | undefined];

export interface TestRelay {
  relay: Relay;
  url: string;
  /** Every connection the relay accepted, with its subject and the requests it made. */
  connections: { sub: string; requests: Request[]; open: boolean }[];
  /** How many times `sub` (any connection) sent `event` for `room`. */
  count(event: string, room: string, sub?: string): number;
  close(): Promise<void>;
}

/**
 * A real relay in this process (memory store) on 127.0.0.1, port 0, that records what every
 * connection asks for — so a test sees a second `room:join` if a hook sends one.
 */
export async function startRelay(): Promise<TestRelay> {
  const relay = createRelay({ tokenSecret: TEST_SECRET, transports: ['websocket'] });
  const connections: TestRelay['connections'] = [];
  relay.io.on('connection', (socket) => {
    const connection = { sub: socket.data.sub, requests: [] as Request[], open: true };
    connections.push(connection);
    socket.onAny((event: string, payload: unknown) => {
      connection.requests.push([event, (payload as { room?: string } | undefined)?.room]);
    });
    socket.on('disconnect', () => (connection.open = false));
  });
  const { url } = await relay.listen(0, '127.0.0.1');
  return {
    relay,
    url,
    connections,
    count: (event, room, sub) =>
      connections
        .filter((connection) => sub === undefined || connection.sub === sub)
        .flatMap((connection) => connection.requests)
        .filter(([name, target]) => name === event && target === room).length,
    close: () => relay.close(),
  };
}
