import { randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ALL_CAPABILITIES,
  AnnotationType,
  Capability,
  ErrorKind,
  isAllowed,
  isValidRoomName,
  HttpBatchSchema,
  HttpMessageSchema,
  isAnnotationType,
  MESSAGE_ID_PATTERN,
  validate,
  wireError,
  type OutgoingMessage,
  type PublishAck,
  type ReadPosition,
  type RoomGrant,
  type WireError,
} from '@partyline/protocol';
import { apiMessage, apiPresenceMember } from './api-json.js';
import { appendBatch, type AppendContext } from './append-batch.js';
import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from './json-depth.js';
import { PACKET_OVERHEAD_BYTES } from './options.js';
import type { PresenceKeeper } from './presence.js';
import type { KeyedBuckets } from './rate-limiter.js';
import { StoreUnavailableError } from './store/room-log-store.js';
import type { TokenCheck } from './tokens.js';
import type { UserRateLimiter } from './user-rate-limit.js';
import type { DeadLetterList } from './store/webhook-state.js';
import { serveWebhookAdmin } from './webhook-admin-api.js';

/** What the HTTP API needs: the socket's append path, token checks, presence, per-user limits. */
export interface HttpApiContext extends AppendContext {
  verifyToken(token: string): Promise<TokenCheck>;
  /** Server API keys: a bearer equal to one of them acts as `server` with every capability in every room. */
  apiKeys: readonly string[];
  presence: PresenceKeeper;
  userRate: UserRateLimiter | undefined;
  /** The client's address (behind a trusted proxy, the client's own), for the per-address budget. */
  addressOf(request: IncomingMessage): string;
  /** Requests per address, charged before the bearer is checked: what a caller spends before showing a token. */
  requestsByAddress: KeyedBuckets;
  /**
   * Requests per identity (a user's `sub`, `server` for API keys), charged before a read is made or a
   * body parsed: 1 per page or presence read (as a socket read costs its connection), and a body what
   * the messages it could carry cost (1 per started `maxBodyBytes`, at most `maxBatchMessages`).
   */
  requestsByIdentity: KeyedBuckets;
  /** A request's bearer token or API key was accepted (the relay stops counting its connection as pending). */
  onAuthenticated(request: IncomingMessage): void;
  /** Webhook dead letters (webhook-admin-api.ts), when webhooks are configured. */
  deadLetters?: DeadLetterList;
  onError(error: unknown): void;
}

/** The OpenAPI document of this API (in the repo, served at /v1/openapi.json, checked against the routes in tests). */
export const OPENAPI = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> };

/** The routes this module serves, as OpenAPI names them. */
export const ROUTES = [
  { method: 'post', path: '/v1/rooms/{room}/messages' },
  { method: 'get', path: '/v1/rooms/{room}/messages' },
  { method: 'patch', path: '/v1/rooms/{room}/messages/{seq}' },
  { method: 'delete', path: '/v1/rooms/{room}/messages/{seq}' },
  { method: 'get', path: '/v1/rooms/{room}/presence' },
  { method: 'get', path: '/v1/openapi.json' },
  { method: 'get', path: '/v1/webhooks/dead-letters' },
  { method: 'post', path: '/v1/webhooks/dead-letters/replay' },
] as const;

const STATUS: Record<string, number> = {
  [ErrorKind.BadRequest]: 400,
  [ErrorKind.InvalidRoom]: 400,
  [ErrorKind.Unauthorized]: 401,
  [ErrorKind.TokenExpired]: 401,
  [ErrorKind.Forbidden]: 403,
  [ErrorKind.NotFound]: 404,
  [ErrorKind.Conflict]: 409,
  // Gone: the message existed and was deleted; editing it cannot succeed later either.
  [ErrorKind.MessageDeleted]: 410,
  [ErrorKind.PayloadTooLarge]: 413,
  [ErrorKind.RateLimited]: 429,
  [ErrorKind.Unavailable]: 503,
};

class ApiError extends Error {
  constructor(readonly error: WireError) {
    super(error.message);
  }
}
export const refuse = (kind: ErrorKind, message: string, retryAfterMs?: number): never => {
  throw new ApiError(wireError(kind, message, retryAfterMs));
};

/**
 * The relay's HTTP API for app backends: publish (one message with an `Idempotency-Key`, or a batch
 * with ids) through the same append path as the socket — same dedup, same sequence, broadcast to the
 * room's members — edit and delete messages, read history windows, read presence. Bearer token with capabilities, or a server
 * API key. Errors are the socket's typed errors with an HTTP status. Answers false for other paths.
 */
export async function serveApi(request: IncomingMessage, response: ServerResponse, context: HttpApiContext): Promise<boolean> {
  const url = parseTarget(request.url ?? '/');
  if (!url?.pathname.startsWith('/v1/')) return false;
  try {
    if (url.pathname === '/v1/openapi.json' && request.method === 'GET') return send(response, 200, OPENAPI), true;
    if (url.pathname.startsWith('/v1/webhooks/')) return await serveWebhookAdmin(request, response, url, context), true;
    const match = /^\/v1\/rooms\/([^/]+)\/(messages|presence)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!match || (match[3] !== undefined && match[2] !== 'messages')) return send(response, 404, { error: wireError(ErrorKind.BadRequest, `no such endpoint: ${request.method} ${url.pathname}`) }), true;
    charge(context.requestsByAddress, context.addressOf(request), 1, 'too many requests from this address');
    const room = decodeRoom(match[1]!);
    const identity = await authenticate(request, context);
    context.onAuthenticated(request);
    const resource = match[2];
    if (match[3] !== undefined) {
      const seq = decodeSeq(match[3]);
      if (request.method === 'PATCH' || request.method === 'DELETE') await annotate(request, response, context, room, seq, identity);
      else send(response, 405, { error: wireError(ErrorKind.BadRequest, `${request.method} not allowed on ${url.pathname}`) });
    } else if (resource === 'messages' && request.method === 'POST') await publish(request, response, context, room, identity);
    else if (resource === 'messages' && request.method === 'GET') await history(url, response, context, room, identity);
    else if (resource === 'presence' && request.method === 'GET') {
      allow(identity, room, Capability.Read);
      charge(context.requestsByIdentity, identity.sub, 1, 'too many reads from this caller');
      const { members, ...snapshot } = await context.presence.snapshot(room);
      send(response, 200, { room, ...snapshot, members: members.map(apiPresenceMember) });
    } else send(response, 405, { error: wireError(ErrorKind.BadRequest, `${request.method} not allowed on ${url.pathname}`) });
  } catch (error) {
    const wire = toWireError(error, context);
    const headers = wire.retryAfterMs !== undefined ? { 'retry-after': String(Math.ceil(wire.retryAfterMs / 1000)) } : {};
    send(response, STATUS[wire.kind] ?? 500, { error: wire }, headers);
  }
  return true;
}

/** The request target as a URL; undefined when it does not parse (an absolute-form `GET http://[…`): not an API path then. */
function parseTarget(target: string): URL | undefined {
  // One parse, not URL.canParse and then new URL: each is a native call costing about as much as the other.
  try {
    return new URL(target, 'http://relay');
  } catch {
    return undefined;
  }
}

async function publish(request: IncomingMessage, response: ServerResponse, context: HttpApiContext, room: string, identity: Identity): Promise<void> {
  allow(identity, room, Capability.Publish);
  const { maxBatchBytes, maxBodyBytes, maxBatchMessages } = context.limits;
  const raw = await readJson(request, maxBatchBytes + PACKET_OVERHEAD_BYTES, {
    request: (bytes) =>
      charge(context.requestsByIdentity, identity.sub, Math.min(maxBatchMessages, Math.max(1, Math.ceil(bytes / maxBodyBytes))), 'too much published by this caller'),
    // The user's byte rate, right before the parse (a 1 MiB body of small arrays costs ~60 ms to parse): a flood
    // of big bodies is refused unparsed. Capped at the batch bound, which the byte rate always admits.
    parse: (bytes) => {
      const waitMs = context.userRate?.take(identity.sub, 0, Math.min(bytes, maxBatchBytes)) ?? 0;
      if (waitMs > 0) refuse(ErrorKind.RateLimited, 'too many bytes from this user', waitMs);
    },
  });
  let messages: OutgoingMessage[];
  let single = false;
  if (raw && typeof raw === 'object' && 'messages' in raw) {
    const batch = validate(HttpBatchSchema, raw);
    if (!batch.ok) throw new ApiError(batch.error);
    if (batch.value.messages.length > context.limits.maxBatchMessages) refuse(ErrorKind.PayloadTooLarge, `batch of ${batch.value.messages.length} messages exceeds ${context.limits.maxBatchMessages}`);
    messages = batch.value.messages.map((m) => ({ id: m.id, type: m.type, body: JSON.stringify(m.body ?? null) }));
  } else {
    const message = validate(HttpMessageSchema, raw);
    if (!message.ok) throw new ApiError(message.error);
    messages = [{ id: idempotencyKey(request) ?? `http-${randomUUID()}`, type: message.value.type, body: JSON.stringify(message.value.body ?? null) }];
    single = true;
  }
  const waitMs = context.userRate?.take(identity.sub, messages.length) ?? 0; // its bytes were charged before the parse
  if (waitMs > 0) refuse(ErrorKind.RateLimited, 'too many messages from this user', waitMs);
  // Server API keys (acting as `server`) create rooms for the app's own backend: no bound on those.
  const moderate = isAllowed(identity.grants, room, Capability.Moderate);
  const { ack, reads } = await appendBatch(context, room, identity.sub, messages, { countRooms: identity.sub !== 'server', moderate });
  await noteActive(context, room, identity, reads);
  if (!single) return send(response, 200, ack);
  sendSingle(response, ack);
}

/**
 * `PATCH /v1/rooms/{room}/messages/{seq}` (`{ body }`: the new body, any JSON) edits the message at
 * `seq`, `DELETE` deletes it: an annotation (`pl:edit` / `pl:delete`) naming the message at `seq`,
 * appended through the socket's path and rules (its id the `Idempotency-Key`, or made up). Only its
 * sender may, or a caller with `moderate` (API keys have it). 404 when `seq` holds no message, 410
 * when it was deleted (an edit), 403 when the caller may not; a delete of a deleted message is a
 * 200 with `noop`.
 */
async function annotate(request: IncomingMessage, response: ServerResponse, context: HttpApiContext, room: string, seq: number, identity: Identity): Promise<void> {
  allow(identity, room, Capability.Publish);
  const edit = request.method === 'PATCH';
  const { maxBatchBytes, maxBodyBytes, maxBatchMessages } = context.limits;
  let newBody: string | undefined;
  if (edit) {
    const raw = await readJson(request, maxBatchBytes + PACKET_OVERHEAD_BYTES, {
      request: (bytes) => charge(context.requestsByIdentity, identity.sub, Math.min(maxBatchMessages, Math.max(1, Math.ceil(bytes / maxBodyBytes))), 'too much published by this caller'),
    });
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !('body' in raw)) refuse(ErrorKind.BadRequest, 'send { "body": <the new body, any JSON> }');
    newBody = JSON.stringify((raw as { body: unknown }).body ?? null);
  } else charge(context.requestsByIdentity, identity.sub, 1, 'too much published by this caller');
  const key = idempotencyKey(request);
  const waitMs = context.userRate?.take(identity.sub, 1, newBody === undefined ? 0 : Buffer.byteLength(newBody)) ?? 0;
  if (waitMs > 0) refuse(ErrorKind.RateLimited, 'too many messages from this user', waitMs);
  const target = (await context.store.read(room, seq - 1, 1)).messages[0];
  if (!target || target.seq !== seq || isAnnotationType(target.type)) refuse(ErrorKind.NotFound, `no message at seq ${seq} in room ${room}`);
  const { id, sender: from } = target!;
  const annotation = edit
    ? { id: key ?? `http-${randomUUID()}`, type: AnnotationType.Edit, body: JSON.stringify({ id, from, seq, body: newBody }) }
    : { id: key ?? `http-${randomUUID()}`, type: AnnotationType.Delete, body: JSON.stringify({ id, from, seq }) };
  const moderate = isAllowed(identity.grants, room, Capability.Moderate);
  const { ack } = await appendBatch(context, room, identity.sub, [annotation], { countRooms: false, moderate });
  sendSingle(response, ack);
}

/** A user posting over HTTP read the room, as on a socket: the room counts in its `user:unread` (API keys have none). */
async function noteActive(context: HttpApiContext, room: string, identity: Identity, reads: readonly ReadPosition[]): Promise<void> {
  if (identity.apiKey || !reads.some((read) => read.sub === identity.sub)) return;
  await context.store.noteUserRoom(identity.sub, room).catch((error: unknown) => context.onError(error));
}

/** One message's answer: 201 when appended, 200 for a duplicate or a noop, its error otherwise. */
function sendSingle(response: ServerResponse, ack: PublishAck): void {
  const result = ack.results[0]!;
  if ('error' in result) throw new ApiError(result.error);
  const { duplicate, noop } = result;
  send(response, duplicate || noop ? 200 : 201, { id: result.id, seq: result.seq, epoch: ack.epoch, ...(duplicate ? { duplicate: true } : {}), ...(noop ? { noop: true } : {}) });
}

/** The `Idempotency-Key` header, when given: it becomes the message's id. */
function idempotencyKey(request: IncomingMessage): string | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !MESSAGE_ID_PATTERN.test(key)) refuse(ErrorKind.BadRequest, 'Idempotency-Key must be 1–128 characters of A–Z a–z 0–9 _ . : -');
  return key as string;
}

function decodeSeq(raw: string): number {
  const seq = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(seq) || seq < 1) refuse(ErrorKind.BadRequest, 'seq must be an integer ≥ 1');
  return seq;
}

async function history(url: URL, response: ServerResponse, context: HttpApiContext, room: string, identity: Identity): Promise<void> {
  allow(identity, room, Capability.Read);
  const number = (name: string): number | undefined => {
    const text = url.searchParams.get(name);
    if (text === null) return undefined;
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) refuse(ErrorKind.BadRequest, `${name} must be a non-negative integer`);
    return value;
  };
  const since = number('since');
  const before = number('before');
  const last = number('last');
  if ([since, before, last].filter((x) => x !== undefined).length > 1) refuse(ErrorKind.BadRequest, 'use one of since, before, last');
  const limit = Math.max(1, Math.min(number('limit') ?? last ?? context.limits.maxPageSize, context.limits.maxPageSize));
  charge(context.requestsByIdentity, identity.sub, 1, 'too many reads from this caller');
  const { sinceId: _unused, messages, ...page } =
    since !== undefined || (before === undefined && last === undefined)
      ? await context.store.read(room, since ?? 0, limit, identity.sub)
      : await context.store.readBefore(room, before ?? Number.MAX_SAFE_INTEGER, limit, identity.sub);
  // Bodies as the JSON values the POST takes: parsing costs at most a page (maxPageBytes).
  send(response, 200, { ...page, messages: messages.map(apiMessage) });
}

export interface Identity {
  sub: string;
  grants: RoomGrant[];
  /** Authenticated by a server API key, not a user token. */
  apiKey?: true;
}

/** Who a server API key acts as: `server`, with every capability in every room. */
const SERVER_IDENTITY: Identity = Object.freeze({ sub: 'server', grants: [{ room: '*', can: [...ALL_CAPABILITIES] }], apiKey: true });

/** Each key list's keys as bytes, made once rather than per request. */
const keyBytes = new WeakMap<readonly string[], Buffer[]>();

/** Whether `token` is one of `apiKeys`, compared in constant time. */
function isApiKey(apiKeys: readonly string[], token: string): boolean {
  let keys = keyBytes.get(apiKeys);
  if (!keys) keyBytes.set(apiKeys, (keys = apiKeys.map((key) => Buffer.from(key))));
  const presented = Buffer.from(token);
  return keys.some((key) => key.length === presented.length && timingSafeEqual(key, presented));
}

export async function authenticate(request: IncomingMessage, context: HttpApiContext): Promise<Identity> {
  const header = request.headers.authorization ?? '';
  const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (!token) return refuse(ErrorKind.Unauthorized, 'missing bearer token: Authorization: Bearer <token or API key>');
  if (isApiKey(context.apiKeys, token)) return SERVER_IDENTITY;
  const check = await context.verifyToken(token);
  if (!check.ok) throw new ApiError(check.error);
  return { sub: check.claims.sub, grants: check.grants };
}

function allow(identity: Identity, room: string, capability: Capability): void {
  if (!isAllowed(identity.grants, room, capability)) refuse(ErrorKind.Forbidden, `token does not allow ${capability} in room ${room}`);
}

function decodeRoom(raw: string): string {
  let room: string;
  try {
    room = decodeURIComponent(raw);
  } catch {
    return refuse(ErrorKind.InvalidRoom, 'room name is not valid percent-encoding');
  }
  if (!isValidRoomName(room)) refuse(ErrorKind.InvalidRoom, `invalid room name ${JSON.stringify(raw.slice(0, 140))}`);
  return room;
}

/** Takes `cost` from `key`'s bucket, or refuses with `rate_limited` and when to come back. */
export function charge(buckets: KeyedBuckets, key: string, cost: number, message: string): void {
  const waitMs = buckets.take(key, cost);
  if (waitMs > 0) refuse(ErrorKind.RateLimited, message, waitMs);
}

/** What a caller pays for a body, by its size: `request` before the depth scan, `parse` after it, right before the parse. */
export interface BodyCharges {
  request(bytes: number): void;
  parse?(bytes: number): void;
}

/**
 * The body as JSON, at most `maxBytes` (more is refused without reading on). Nesting deeper than
 * MAX_JSON_DEPTH is refused by a linear scan, unparsed; the caller is charged before both (see BodyCharges).
 */
export async function readJson(request: IncomingMessage, maxBytes: number, charges: BodyCharges): Promise<unknown> {
  if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) refuse(ErrorKind.BadRequest, 'send JSON with content-type: application/json');
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) refuse(ErrorKind.PayloadTooLarge, `body over ${maxBytes} bytes`);
  const body = await readBody(request, maxBytes);
  charges.request(body.length);
  const text = body.toString('utf8');
  if (jsonNestsDeeperThan(text)) refuse(ErrorKind.BadRequest, `body nests JSON deeper than ${MAX_JSON_DEPTH} levels`);
  charges.parse?.(body.length);
  try {
    return JSON.parse(text);
  } catch {
    return refuse(ErrorKind.BadRequest, 'body is not valid JSON');
  }
}

/**
 * The body's bytes, at most `maxBytes` (more is refused without reading on). Read from events, not
 * `for await`: an async iterator per request (a stream wrapper, a promise per chunk) is the dearer
 * part of reading the small body of a publish.
 */
function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (error?: ApiError) => {
      request.off('data', onData).off('end', onEnd).off('error', onCutOff).off('close', onCutOff);
      if (error) reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      stop(new ApiError(wireError(ErrorKind.PayloadTooLarge, `body over ${maxBytes} bytes`)));
      request.destroy();
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    // The client went away mid-body (`aborted`, or closed before the end): its fault, nobody is left to hear the answer.
    const onCutOff = () => stop(new ApiError(wireError(ErrorKind.BadRequest, 'request body was cut off')));
    request.on('data', onData).once('end', onEnd).once('error', onCutOff).once('close', onCutOff);
  });
}

function toWireError(error: unknown, context: HttpApiContext): WireError {
  if (error instanceof ApiError) return error.error;
  if (error instanceof StoreUnavailableError) return wireError(ErrorKind.Unavailable, 'room log store unavailable, retry later');
  context.onError(error);
  return wireError(ErrorKind.Internal, 'internal relay error');
}

/** A JSON answer with its length (not chunked): one write, and a client on a keep-alive connection knows where it ends. */
export function send(response: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}
