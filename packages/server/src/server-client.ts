import type { PublishAck, WireError } from '@partyline/protocol';
import type { ApiPage, ApiPresence } from './api-values.js';
import { createRelayTransport } from './relay-transport.js';

/** A failed HTTP API call: the relay's typed error and the HTTP status. */
export class PartylineApiError extends Error {
  override readonly name = 'PartylineApiError';
  constructor(
    readonly status: number,
    readonly error: WireError,
  ) {
    super(`${error.kind}: ${error.message}`);
  }
}

export interface ServerClientOptions {
  /** A relay's base URL, e.g. `https://relay.example.com`. */
  url: string;
  /** A server API key (`--api-keys`) or an access token. */
  credential: string;
  /** Per request. @default 10000 */
  timeoutMs?: number;
}

export interface Appended {
  id: string;
  seq: number;
  epoch: string;
  duplicate?: true;
}

/**
 * An edit or delete as the relay took it: the annotation's `id` and `seq` (201), a `duplicate` of the
 * first answer to the same idempotency key, or `noop` (a delete of a deleted message: `seq` is the message's).
 */
export interface Annotated extends Appended {
  noop?: true;
}

/**
 * A small typed client of the relay's HTTP API for app backends (no IndexedDB, no socket): publish
 * with an idempotency key (retrying is safe: the same key is appended once), edit and delete
 * messages, read history windows, read presence. Verify webhooks with `verifyWebhook`.
 *
 * @example
 * const partyline = createServerClient({ url: process.env.RELAY_URL!, credential: process.env.PARTYLINE_API_KEY! });
 * await partyline.publish('party:abc', { type: 'system', body: { text: 'Party created' } }, { idempotencyKey: `created-${partyId}` });
 */
export function createServerClient({ url, credential, timeoutMs = 10_000 }: ServerClientOptions) {
  const relay = createRelayTransport(url, timeoutMs);
  async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const answer = await relay.send(method, path, { authorization: `Bearer ${credential}`, ...headers }, body === undefined ? undefined : JSON.stringify(body));
    const parsed = parseAnswer(answer.text) as { error?: WireError };
    if (answer.status < 200 || answer.status > 299) {
      throw new PartylineApiError(answer.status, parsed.error ?? { kind: 'internal', message: `HTTP ${answer.status}`, retryable: answer.status >= 500 });
    }
    return parsed as T;
  }
  const room = (name: string) => `/v1/rooms/${encodeURIComponent(name)}`;
  return {
    /** Appends one message (`body`: any JSON). With the same `idempotencyKey`, a retry answers the first result. */
    publish(name: string, message: { type: string; body: unknown }, { idempotencyKey }: { idempotencyKey?: string } = {}): Promise<Appended> {
      return call('POST', `${room(name)}/messages`, message, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
    },
    /** Appends up to 100 messages, each with its own id (its idempotency key). */
    publishBatch(name: string, messages: { id: string; type: string; body: unknown }[]): Promise<PublishAck> {
      return call('POST', `${room(name)}/messages`, { messages });
    },
    /**
     * Replaces the body of the message at `seq` (`body`: any JSON). Only its sender may, or a
     * credential with `moderate` (server API keys). Fails with `not_found` (404), `message_deleted` (410), `forbidden` (403).
     * @example await partyline.editMessage('party:abc', 42, { text: 'fixed typo' }, { idempotencyKey: `edit-${editId}` });
     */
    editMessage(name: string, seq: number, body: unknown, { idempotencyKey }: { idempotencyKey?: string } = {}): Promise<Annotated> {
      return call('PATCH', `${room(name)}/messages/${seq}`, { body }, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
    },
    /**
     * Deletes the message at `seq` (its body and reactions are cleared for everyone). Only its sender
     * may, or a credential with `moderate` (server API keys). Deleting a deleted message answers `noop`.
     * @example await partyline.deleteMessage('party:abc', 42, { idempotencyKey: `delete-${reportId}` });
     */
    deleteMessage(name: string, seq: number, { idempotencyKey }: { idempotencyKey?: string } = {}): Promise<Annotated> {
      return call('DELETE', `${room(name)}/messages/${seq}`, undefined, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
    },
    /** A page of the log: after `since`, before `before`, or the newest `last`; each `body` the JSON value published (`bodyText` if it was not JSON). */
    history(name: string, window: { since?: number; before?: number; last?: number; limit?: number } = {}): Promise<ApiPage> {
      const query = new URLSearchParams(Object.entries(window).filter(([, value]) => value !== undefined).map(([key, value]): [string, string] => [key, String(value)]));
      return call('GET', `${room(name)}/messages${query.size > 0 ? `?${query}` : ''}`);
    },
    /** The members now; each `data` the JSON value it entered with (`dataText` if it was not JSON). */
    presence(name: string): Promise<ApiPresence> {
      return call('GET', `${room(name)}/presence`);
    },
  };
}

export type ServerClient = ReturnType<typeof createServerClient>;

/** An answer's JSON; an empty object when it has none (a proxy's HTML error page, a cut-off body). */
function parseAnswer(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
