/**
 * The server client's HTTP side, against a stand-in relay (a plain node:http server): calls share
 * keep-alive connections, closed before the relay would close them; bodies go out as JSON with a
 * length; a relay behind a path prefix is reached; errors come back typed with their status; a
 * relay that never answers is given up on.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createServerClient, PartylineApiError } from '../src/index.js';

const KEY = 'stand-in-key-stand-in-key-stand-in-key';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** A stand-in relay answering each request with `answer`; what it was sent, and how many connections it accepted. */
async function standIn(answer: (seen: Seen, response: ServerResponse) => void) {
  const seen: Seen[] = [];
  let connections = 0;
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const call = { method: request.method!, url: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString() };
      seen.push(call);
      answer(call, response);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, connections: () => connections };
}

const json = (response: ServerResponse, status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

describe('createServerClient over HTTP', () => {
  it('sends its calls over one keep-alive connection, as JSON with a length, under the URL’s path', async () => {
    const relay = await standIn((call, response) => json(response, 201, { id: call.headers['idempotency-key'], seq: 1, epoch: 'e' }));
    const client = createServerClient({ url: `${relay.url}/partyline/`, credential: KEY });
    for (let n = 0; n < 20; n++) {
      expect(await client.publish('party:a b', { type: 'chat', body: { n } }, { idempotencyKey: `k-${n}` })).toEqual({ id: `k-${n}`, seq: 1, epoch: 'e' });
    }
    await client.publishBatch('party:a b', [{ id: 'm1', type: 'chat', body: null }]);
    expect(relay.connections()).toBe(1);
    const [first] = relay.seen;
    expect(first).toMatchObject({ method: 'POST', url: '/partyline/v1/rooms/party%3Aa%20b/messages', body: '{"type":"chat","body":{"n":0}}' });
    expect(first!.headers).toMatchObject({ authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': String(first!.body.length), 'idempotency-key': 'k-0' });
    expect(first!.headers['transfer-encoding']).toBeUndefined();
    expect(JSON.parse(relay.seen.at(-1)!.body)).toEqual({ messages: [{ id: 'm1', type: 'chat', body: null }] });
  });

  it('sends no body on reads and deletes', async () => {
    const relay = await standIn((_call, response) => json(response, 200, { messages: [], hasMore: false }));
    const client = createServerClient({ url: relay.url, credential: KEY });
    await client.history('party:x', { last: 5 });
    expect(relay.seen[0]).toMatchObject({ method: 'GET', url: '/v1/rooms/party%3Ax/messages?last=5', body: '' });
    expect(relay.seen[0]!.headers['content-type']).toBeUndefined();
  });

  it('throws the relay’s typed error with its status, and an answer that is not JSON as an internal error', async () => {
    const relay = await standIn((call, response) =>
      call.url.includes('conflict')
        ? json(response, 409, { error: { kind: 'conflict', message: 'id reused', retryable: false } })
        : response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>'),
    );
    const client = createServerClient({ url: relay.url, credential: KEY });
    const conflict = await client.publish('conflict', { type: 'chat', body: 1 }).catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(PartylineApiError);
    expect(conflict).toMatchObject({ status: 409, error: { kind: 'conflict', message: 'id reused' } });
    const gateway = await client.publish('elsewhere', { type: 'chat', body: 1 }).catch((error: unknown) => error);
    expect(gateway).toMatchObject({ status: 502, error: { kind: 'internal', message: 'HTTP 502', retryable: true } });
  });

  it('closes an idle connection a second before the relay announced it would', async () => {
    const relay = await standIn((_call, response) => json(response, 200, { room: 'party:x', members: [] }));
    server!.keepAliveTimeout = 2_000; // answers carry `Keep-Alive: timeout=2`
    const closedByClient = new Promise<void>((resolve) => server!.once('connection', (socket: Socket) => socket.once('end', resolve)));
    await createServerClient({ url: relay.url, credential: KEY }).presence('party:x');
    // The relay's own close would destroy its side without reading an end first.
    await closedByClient;
  });

  it('gives up on a relay that does not answer within timeoutMs', async () => {
    const relay = await standIn(() => undefined);
    const client = createServerClient({ url: relay.url, credential: KEY, timeoutMs: 100 });
    await expect(client.presence('party:x')).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});
