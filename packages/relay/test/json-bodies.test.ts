/**
 * Bodies and presence data come back from the HTTP API, the server client and webhooks as the JSON
 * values the HTTP POST takes, not as JSON text; text that is not JSON (a raw socket client may publish
 * any) or nests deeper than 64 levels comes back as `bodyText` / `dataText`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerClient, verifyWebhook, type MessageAppendedEvent, type PresenceEvent } from '../src/index.js';
import { connectClient, expectOk, publish, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

const API_KEY = 'server-key-server-key-server-key-0123';
const WEBHOOK_SECRET = `whsec_${Buffer.from('json-bodies-webhook-secret-32-bytes').toString('base64')}`;
const VALUES: unknown[] = [{ text: 'hi', n: [1, 2] }, [1, 'two', null], 'just a string', null, 42.5];
const DEEP = `${'['.repeat(100)}${']'.repeat(100)}`;

let relay: RunningRelay;
let receiver: Server;
const events: (MessageAppendedEvent | PresenceEvent)[] = [];
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (!verifyWebhook(WEBHOOK_SECRET, req.headers, body).ok) return res.writeHead(400).end();
      events.push(JSON.parse(body) as MessageAppendedEvent | PresenceEvent);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  relay = await startRelay({ apiKeys: [API_KEY], webhook: { url: `http://127.0.0.1:${port}/hook`, secret: WEBHOOK_SECRET } });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await relay?.relay.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe('bodies as JSON values', () => {
  it('GET /messages, history() and message.appended webhooks hand back the value that was POSTed; socket text that is not JSON comes back as bodyText', async () => {
    const room = 'party:json';
    const server = createServerClient({ url: relay.url, credential: API_KEY });
    for (const [i, body] of VALUES.entries()) await server.publish(room, { type: 'chat', body }, { idempotencyKey: `v${i}` });
    const socket = await connectClient(relay.url, await tokenFor('raw', ['party:*']));
    sockets.push(socket);
    const sent = await publish(socket, room, [
      { id: 'sdk', body: '{"from":"sdk"}' },
      { id: 'not-json', body: 'plain text, not JSON' },
      { id: 'deep', body: DEEP },
    ]);
    expect(sent.ok).toBe(true);

    const expected = [...VALUES.map((body) => ({ body })), { body: { from: 'sdk' } }, { bodyText: 'plain text, not JSON' }, { bodyText: DEEP }];
    const shape = (messages: Record<string, unknown>[]) => messages.map((m) => ('bodyText' in m ? { bodyText: m.bodyText } : { body: m.body }));
    const page = (await (await fetch(`${relay.url}/v1/rooms/${room}/messages`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as { messages: Record<string, unknown>[] };
    expect(shape(page.messages)).toEqual(expected);
    expect(page.messages.filter((m) => 'bodyText' in m).every((m) => !('body' in m))).toBe(true);
    expect(shape((await server.history(room, { last: 10 })).messages)).toEqual(expected);

    const appended = () => events.filter((e): e is MessageAppendedEvent => e.type === 'message.appended' && e.data.room === room);
    await waitFor(() => appended().length === expected.length, 'a message.appended webhook per message', 10_000);
    expect(shape(appended().sort((a, b) => a.data.seq - b.data.seq).map((e) => e.data as unknown as Record<string, unknown>))).toEqual(expected);
  });

  it('GET /presence, presence() and presence webhooks hand back member data as JSON values (dataText when not JSON)', async () => {
    const room = 'party:presence-json';
    const ana = await connectClient(relay.url, await tokenFor('ana', ['party:*']));
    const bob = await connectClient(relay.url, await tokenFor('bob', ['party:*']));
    const cy = await connectClient(relay.url, await tokenFor('cy', ['party:*']));
    sockets.push(ana, bob, cy);
    expectOk(await request(ana, 'presence:enter', { room, data: '{"name":"Ana","status":["here"]}' }));
    expectOk(await request(bob, 'presence:enter', { room, data: 'Bob (not JSON)' }));
    expectOk(await request(cy, 'presence:enter', { room }));

    const expected = { ana: { data: { name: 'Ana', status: ['here'] } }, bob: { dataText: 'Bob (not JSON)' }, cy: {} };
    const bySub = (members: Record<string, unknown>[]) => Object.fromEntries(members.map(({ sub, since: _since, ...rest }) => [sub, rest]));
    const got = (await (await fetch(`${relay.url}/v1/rooms/${room}/presence`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as { members: Record<string, unknown>[] };
    expect(bySub(got.members)).toEqual(expected);
    expect(bySub((await createServerClient({ url: relay.url, credential: API_KEY }).presence(room)).members as Record<string, unknown>[])).toEqual(expected);

    const joined = () => events.filter((e): e is PresenceEvent => e.type === 'presence.joined' && e.data.room === room);
    await waitFor(() => joined().length === 3, 'a presence.joined webhook per member', 10_000);
    expect(bySub(joined().map((e) => e.data.member as unknown as Record<string, unknown>))).toEqual(expected);
  });
});
