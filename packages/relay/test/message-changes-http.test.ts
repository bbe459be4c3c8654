/**
 * Edits and deletes over the HTTP API, and the webhooks of every annotation kind, on two relays over
 * a real Redis: `PATCH` / `DELETE /v1/rooms/{room}/messages/{seq}` append one annotation per
 * Idempotency-Key (a repeat answers the first result), follow the socket's rules (sender or
 * `moderate`; API keys moderate) with HTTP statuses (404 not_found, 410 message_deleted, 403
 * forbidden), answer what the OpenAPI document says; the receiver gets `message.updated`,
 * `message.deleted`, `reaction.added` and `reaction.removed` with the annotation and its target.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorKind, type JoinAck, type LogMessage, type WireError } from '@partyline/protocol';
import { createServerClient, PartylineApiError, verifyWebhook } from '@partyline/server';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI } from '../src/http-api.js';
import { collectMessages, connectClient, expectOk, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';
import { schemaProblems } from './support/json-schema.js';

const API_KEY = 'server-key-server-key-server-key-0123';
const WEBHOOK_SECRET = `whsec_${Buffer.from('webhook-secret-webhook-secret-32b').toString('base64')}`;
const PATH = '/v1/rooms/{room}/messages/{seq}';

let redis: RedisServer;
let relays: RunningRelay[];
let receiver: Server;
const hooks: { type: string; data: Record<string, unknown> }[] = [];
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (!verifyWebhook(WEBHOOK_SECRET, req.headers, body).ok) return res.writeHead(400).end();
      hooks.push(JSON.parse(body) as (typeof hooks)[number]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const webhook = { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, secret: WEBHOOK_SECRET };
  const options = { redisUrl: redis.url, apiKeys: [API_KEY], webhook };
  relays = [await startRelay(options), await startRelay(options)];
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const { relay } of relays ?? []) await relay.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await redis?.stop();
});

function change(method: 'PATCH' | 'DELETE', relay: number, room: string, seq: number | string, options: { key?: string; credential?: string; body?: unknown } = {}) {
  return fetch(`${relays[relay]!.url}/v1/rooms/${room}/messages/${seq}`, {
    method,
    headers: {
      authorization: `Bearer ${options.credential ?? API_KEY}`,
      ...(options.key ? { 'idempotency-key': options.key } : {}),
      ...(method === 'PATCH' ? { 'content-type': 'application/json' } : {}),
    },
    ...(method === 'PATCH' ? { body: JSON.stringify({ body: options.body ?? null }) } : {}),
  });
}

/** The answer's status and JSON, checked against the OpenAPI schema for that status. */
async function answer(response: Response, method: 'patch' | 'delete'): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = (await response.json()) as Record<string, unknown>;
  const operation = OPENAPI.paths[PATH]![method] as { responses: Record<string, { content: { 'application/json': { schema: object } } }> };
  const documented = operation.responses[String(response.status)];
  expect(documented, `${method} ${response.status} documented`).toBeDefined();
  expect(schemaProblems(OPENAPI, documented!.content['application/json'].schema, body), `${method} ${response.status}`).toEqual([]);
  return { status: response.status, body };
}

describe('HTTP edits and deletes', () => {
  it('appends one annotation per Idempotency-Key on any relay, follows the rules with HTTP statuses, and members get it live', async () => {
    const room = 'party:http-edit';
    // A version-2 client: its own publishes come back live too, so `live` is the room's whole stream.
    const ana = await connectClient(relays[0]!.url, await tokenFor('ana', ['party:*']), { protocol: 2 });
    sockets.push(ana);
    const live = collectMessages(ana);
    expectOk(await request(ana, 'room:join', { room }));
    const posted = expectOk(await request<{ results: { seq: number }[] }>(ana, 'room:publish', { room, messages: [{ id: 'm1', type: 'chat', body: '{"text":"helo"}' }] }));
    expect(posted.results[0]!.seq).toBe(1);

    // The API key moderates: it edits ana's message; the same key again on the other relay appends nothing.
    const first = await answer(await change('PATCH', 0, room, 1, { key: 'fix-1', body: { text: 'hello' } }), 'patch');
    const repeat = await answer(await change('PATCH', 1, room, 1, { key: 'fix-1', body: { text: 'hello' } }), 'patch');
    expect(first).toMatchObject({ status: 201, body: { id: 'fix-1', seq: 2 } });
    expect(repeat).toMatchObject({ status: 200, body: { id: 'fix-1', seq: 2, duplicate: true } });
    // Same key, another body: a conflict.
    expect(await answer(await change('PATCH', 0, room, 1, { key: 'fix-1', body: { text: 'other' } }), 'patch')).toMatchObject({ status: 409, body: { error: { kind: ErrorKind.Conflict } } });

    // A member edits its own message, not others'.
    const bob = await tokenFor('bob', ['party:*']);
    expect(await answer(await change('PATCH', 1, room, 1, { key: 'bob-1', credential: bob, body: 'mine' }), 'patch')).toMatchObject({ status: 403, body: { error: { kind: ErrorKind.Forbidden } } });
    const anaToken = await tokenFor('ana', ['party:*']);
    expect(await answer(await change('PATCH', 1, room, 1, { key: 'ana-1', credential: anaToken, body: { text: 'hello!' } }), 'patch')).toMatchObject({ status: 201, body: { seq: 3 } });

    // No message at a seq (beyond the head, or an annotation): 404.
    expect(await answer(await change('PATCH', 0, room, 99, { key: 'x-1' }), 'patch')).toMatchObject({ status: 404, body: { error: { kind: ErrorKind.NotFound } } });
    expect(await answer(await change('DELETE', 0, room, 2, { key: 'x-2' }), 'delete')).toMatchObject({ status: 404, body: { error: { kind: ErrorKind.NotFound } } });

    // Delete once per key; a delete of the deleted message is a noop; an edit of it is gone (410).
    expect(await answer(await change('DELETE', 1, room, 1, { key: 'del-1' }), 'delete')).toMatchObject({ status: 201, body: { id: 'del-1', seq: 4 } });
    expect(await answer(await change('DELETE', 0, room, 1, { key: 'del-1' }), 'delete')).toMatchObject({ status: 200, body: { id: 'del-1', seq: 4, duplicate: true } });
    expect(await answer(await change('DELETE', 0, room, 1, { key: 'del-2' }), 'delete')).toMatchObject({ status: 200, body: { id: 'del-2', seq: 1, noop: true } });
    expect(await answer(await change('PATCH', 0, room, 1, { key: 'late', body: 1 }), 'patch')).toMatchObject({ status: 410, body: { error: { kind: ErrorKind.MessageDeleted } } });

    await waitFor(() => live.length === 4, 'ana to get her message and three annotations live');
    expect(live.map((m: LogMessage) => `${m.seq}:${m.type}:${m.sender}`)).toEqual(['1:chat:ana', '2:pl:edit:server', '3:pl:edit:ana', '4:pl:delete:server']);
    expect(JSON.parse(live[1]!.body)).toEqual({ id: 'm1', from: 'ana', seq: 1, body: '{"text":"hello"}' });
    const history = await createServerClient({ url: relays[1]!.url, credential: API_KEY }).history(room, { since: 0 });
    expect(history.messages.map((m) => m.id)).toEqual(['m1', 'fix-1', 'ana-1', 'del-1']);
    expect(history.summaries?.['1']).toMatchObject({ deleted: true });
  });

  it('edits and deletes through the server client helpers, typed errors included', async () => {
    const room = 'party:http-client';
    const client = createServerClient({ url: relays[0]!.url, credential: API_KEY });
    const { seq } = await client.publish(room, { type: 'chat', body: { text: 'draft' } });
    expect(await client.editMessage(room, seq, { text: 'final' }, { idempotencyKey: 'edit-a' })).toMatchObject({ id: 'edit-a', seq: seq + 1 });
    expect(await client.editMessage(room, seq, { text: 'final' }, { idempotencyKey: 'edit-a' })).toMatchObject({ id: 'edit-a', seq: seq + 1, duplicate: true });
    expect(await client.deleteMessage(room, seq)).toMatchObject({ seq: seq + 2 });
    expect(await client.deleteMessage(room, seq)).toMatchObject({ seq, noop: true });
    const error = await client.editMessage(room, seq, 'again').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartylineApiError);
    expect(error).toMatchObject({ status: 410, error: { kind: ErrorKind.MessageDeleted } });
    const page = await client.history(room, { last: 10 });
    expect(page.messages).toHaveLength(3);
  });
});

describe('annotation webhooks', () => {
  it('sends message.updated, reaction.added, reaction.removed and message.deleted, with the annotation and its target', async () => {
    const room = 'party:hooked';
    const ana = await connectClient(relays[1]!.url, await tokenFor('ana', ['party:*']));
    const bob = await connectClient(relays[0]!.url, await tokenFor('bob', ['party:*']));
    sockets.push(ana, bob);
    const publishOne = async (socket: ClientSocket, message: { id: string; type: string; body: string }) =>
      expectOk(await request<{ results: ({ seq: number } | { error: WireError })[] }>(socket, 'room:publish', { room, messages: [message] })).results[0]!;
    await publishOne(ana, { id: 'm1', type: 'chat', body: '{"text":"hi"}' });
    await publishOne(ana, { id: 'e1', type: 'pl:edit', body: JSON.stringify({ id: 'm1', seq: 1, body: '{"text":"hi all"}' }) });
    await publishOne(bob, { id: 'r1', type: 'pl:react', body: JSON.stringify({ id: 'm1', from: 'ana', key: '👋' }) });
    await publishOne(bob, { id: 'u1', type: 'pl:unreact', body: JSON.stringify({ id: 'm1', from: 'ana', key: '👋' }) });
    await publishOne(ana, { id: 'd1', type: 'pl:delete', body: JSON.stringify({ id: 'm1', seq: 1 }) });
    const ofRoom = () => hooks.filter((hook) => hook.data.room === room);
    await waitFor(() => ofRoom().length >= 5, 'five webhooks of the room', 20_000);
    const received = ofRoom();
    expect(received.map((hook) => hook.type)).toEqual(['message.appended', 'message.updated', 'reaction.added', 'reaction.removed', 'message.deleted']);
    const target = { id: 'm1', from: 'ana' };
    expect(received[1]!.data).toMatchObject({ room, id: 'e1', seq: 2, sender: 'ana', target: { ...target, seq: 1 }, body: { text: 'hi all' } });
    expect(received[2]!.data).toMatchObject({ id: 'r1', seq: 3, sender: 'bob', target, key: '👋' });
    expect(received[2]!.data.target).not.toHaveProperty('seq');
    expect(received[3]!.data).toMatchObject({ id: 'u1', seq: 4, sender: 'bob', target, key: '👋' });
    expect(received[4]!.data).toMatchObject({ id: 'd1', seq: 5, sender: 'ana', target: { ...target, seq: 1 } });
    const schemas = OPENAPI as unknown as { components: { schemas: Record<string, object> } };
    const schemaOf = { 'message.updated': 'MessageUpdatedEvent', 'message.deleted': 'MessageDeletedEvent', 'reaction.added': 'ReactionEvent', 'reaction.removed': 'ReactionEvent' } as const;
    for (const hook of received.slice(1)) {
      expect(schemaProblems(OPENAPI, schemas.components.schemas[schemaOf[hook.type as keyof typeof schemaOf]]!, hook), hook.type).toEqual([]);
    }
    const join = expectOk(await request<JoinAck>(ana, 'room:join', { room, since: 0 }));
    expect(join.summaries?.['1']).toMatchObject({ deleted: true });
  });
});
