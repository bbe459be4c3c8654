import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorKind, wireError } from '@partyline/protocol';
import { authenticate, charge, readJson, refuse, send, type HttpApiContext } from './http-api.js';
import { StoreUnavailableError } from './store/room-log-store.js';
import type { DeadLetter, DeadLetterList } from './store/webhook-state.js';

export const DEAD_LETTERS_PATH = '/v1/webhooks/dead-letters';
export const REPLAY_PATH = '/v1/webhooks/dead-letters/replay';
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1_000;
const MAX_REPLAY_IDS = 1_000;
const MAX_REPLAY_BODY_BYTES = 1024 * 1024;
/** Webhook ids are a kind prefix, `_` and base64url. */
const EVENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,512}$/;

/**
 * Webhook dead letters for operators, with a server API key only (a user token is refused): list
 * them a page at a time, oldest first, and replay some or all. A replayed letter is queued and sent
 * again with its own `webhook-id` (receivers dedupe), by any relay; delivered, it leaves the list;
 * failed again (after a new round of attempts), it is listed again. Replays do not wait for their
 * room's live events: a dead letter is out of order by nature.
 */
export async function serveWebhookAdmin(request: IncomingMessage, response: ServerResponse, url: URL, context: HttpApiContext): Promise<void> {
  const method = url.pathname === DEAD_LETTERS_PATH ? 'GET' : url.pathname === REPLAY_PATH ? 'POST' : undefined;
  if (!method) return send(response, 404, { error: wireError(ErrorKind.BadRequest, `no such endpoint: ${request.method} ${url.pathname}`) });
  if (request.method !== method) return send(response, 405, { error: wireError(ErrorKind.BadRequest, `${request.method} not allowed on ${url.pathname}`) });
  charge(context.requestsByAddress, context.addressOf(request), 1, 'too many requests from this address');
  const identity = await authenticate(request, context);
  context.onAuthenticated(request);
  if (!identity.apiKey) refuse(ErrorKind.Forbidden, 'webhook dead letters need a server API key, not a user token');
  charge(context.requestsByIdentity, identity.sub, 1, 'too many requests from this caller');
  if (!context.deadLetters) return send(response, 404, { error: wireError(ErrorKind.BadRequest, 'webhooks are not configured on this relay (--webhook-url)') });
  if (method === 'GET') await list(url, response, context.deadLetters);
  else await replay(request, response, context.deadLetters);
}

async function list(url: URL, response: ServerResponse, deadLetters: DeadLetterList): Promise<void> {
  const limitText = url.searchParams.get('limit');
  const limit = limitText === null ? DEFAULT_PAGE_SIZE : Number(limitText);
  if (!/^\d+$/.test(limitText ?? '1') || limit < 1 || limit > MAX_PAGE_SIZE) refuse(ErrorKind.BadRequest, `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  const cursor = url.searchParams.get('cursor') ?? undefined;
  if (cursor !== undefined && !/^\d{1,15}$/.test(cursor)) refuse(ErrorKind.BadRequest, 'cursor must be the `next` of an earlier page');
  const page = await reach(() => deadLetters.list(cursor, limit));
  send(response, 200, { deadLetters: page.letters.map(toJson), next: page.next });
}

async function replay(request: IncomingMessage, response: ServerResponse, deadLetters: DeadLetterList): Promise<void> {
  const body = (await readJson(request, MAX_REPLAY_BODY_BYTES, { request: () => {} })) as { all?: unknown; ids?: unknown } | null;
  const all = body?.all === true && body.ids === undefined;
  const ids = body?.ids;
  const validIds = Array.isArray(ids) && ids.length >= 1 && ids.length <= MAX_REPLAY_IDS && ids.every((id) => typeof id === 'string' && EVENT_ID_PATTERN.test(id));
  if (!all && !(validIds && body?.all === undefined)) refuse(ErrorKind.BadRequest, `send {"all": true} or {"ids": [...]} with 1 to ${MAX_REPLAY_IDS} dead letter ids`);
  const queued = await reach(() => deadLetters.requestReplay(all ? 'all' : (ids as string[])));
  const moved = new Set(queued);
  send(response, 202, { queued: queued.length, notListed: all ? [] : (ids as string[]).filter((id) => !moved.has(id)) });
}

/** The store's failures are the caller's `unavailable` (503, retry), not the relay's internal error. */
async function reach<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw new StoreUnavailableError('webhook dead letters unreachable', { cause: error });
  }
}

function toJson(letter: DeadLetter): object {
  return { ...letter, firstAttemptAt: new Date(letter.firstAttemptAt).toISOString(), lastAttemptAt: new Date(letter.lastAttemptAt).toISOString() };
}
