import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { createRelay, type Relay } from '@partyline/relay';
import { signAccessToken } from '@partyline/server';
import { pino } from 'pino';
import { createIdentityCookies } from './identity-cookie.js';
import { createNewIdentityLimit } from './new-identity-limit.js';
import { createPartyLimit } from './party-limit.js';

export interface PartyServerOptions {
  /** The built app (Vite's output: index.html + assets/). */
  staticDir: string;
  /** HS256 secret shared with the relays (at least 32 bytes). */
  tokenSecret: string;
  /**
   * Relays the browser connects to, in order of preference (the SDK fails over).
   * @default none: an embedded relay on the in-memory store, on a free port of `host`
   */
  relays?: string[];
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (any free port) */
  port?: number;
  /** Lifetime of the demo tokens. @default 12 hours */
  tokenTtlSeconds?: number;
  /** Log level of the embedded relay. @default 'warn' */
  relayLogLevel?: string;
  /**
   * New identities (user ids) one address may get per hour, refilled evenly; 0 turns the limit off.
   * Browsers that already have one are never limited. @default 30
   */
  newIdentitiesPerHour?: number;
  /**
   * Different parties one identity may get tokens for (create or join); 0 turns the limit off. Each is a
   * room in the relay: this keeps one visitor from filling it with parties. @default 20
   */
  maxPartiesPerIdentity?: number;
  /**
   * Behind a reverse proxy: take the client's address from the last `X-Forwarded-For` entry and
   * https from `X-Forwarded-Proto` (the identity cookie is `Secure` then). Only with a proxy that sets
   * both, or anyone can pick their address. @default false
   */
  trustProxy?: boolean;
}

export interface PartyServer {
  readonly url: string;
  readonly port: number;
  /** The relays the app is pointed at; for the embedded relay, its loopback URL. */
  readonly relays: string[];
  close(): Promise<void>;
}

/** Party ids as the app makes them (also the suffix of the room name `party:<id>`). */
export const PARTY_ID_PATTERN = /^[a-z0-9]{6,32}$/;
export { IDENTITY_COOKIE, SERVER_USER_ID_PATTERN } from './identity-cookie.js';

const MIME = new Map<string, string>([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.json', 'application/json'],
  ['.webmanifest', 'application/manifest+json'],
  ['.ico', 'image/x-icon'],
  ['.txt', 'text/plain; charset=utf-8'],
]);

function sendJson(response: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

/**
 * The path of a request target, or undefined when it is not one: origin-form (`/p/x?y`) is read
 * as a path even when it starts with `//` (never as a host), absolute-form (`http://host/p/x`) as
 * a URL.
 */
function targetPath(target: string | undefined): string | undefined {
  if (!target) return undefined;
  try {
    return new URL(target.startsWith('/') ? `http://localhost${target}` : target).pathname;
  } catch {
    return undefined;
  }
}

/** A percent-decoded path, or undefined when an escape is malformed (`%E0%A4%A`, `%`) or decodes to a NUL. */
function decodePath(pathname: string): string | undefined {
  try {
    const decoded = decodeURIComponent(pathname);
    return decoded.includes('\0') ? undefined : decoded;
  } catch {
    return undefined;
  }
}

async function readJson(request: IncomingMessage, limit = 4096): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Most parties one `{ parties }` token may read (the app lists the last 8 it opened). */
const MAX_LISTED_PARTIES = 20;

/**
 * The party planner's server: the built app, `GET /api/config` (which relays to use) and
 * `POST /api/token` `{ party }` (a demo token granting exactly one party, for the browser's own
 * identity) or `{ parties }` (a token that only reads those parties: their unread counts). Without `relays` it embeds a relay on the in-memory store, so one process runs everything.
 *
 * Identity: the server gives each browser profile a random user id in an HttpOnly cookie MACed with
 * a key derived from `tokenSecret` (see `identity-cookie.ts`), and the tokens' `sub` is that id and
 * nothing else — a `user` in the request body is ignored. The answer tells the app its id
 * (`{ token, user, ... }`); the display name is only data in the app's messages and presence.
 *
 * Demo policy: anyone who knows a party id may join it (the id is the invitation); one identity may
 * be in at most `maxPartiesPerIdentity` parties (403 past it), so one visitor cannot fill the relay.
 */
export async function startPartyServer(options: PartyServerOptions): Promise<PartyServer> {
  const host = options.host ?? '127.0.0.1';
  const staticDir = resolve(options.staticDir);
  const ttlSeconds = options.tokenTtlSeconds ?? 12 * 3600;
  const identities = createIdentityCookies(options.tokenSecret);
  const perHour = options.newIdentitiesPerHour ?? 30;
  const newIdentityLimit = perHour > 0 ? createNewIdentityLimit(perHour) : undefined;
  const maxParties = options.maxPartiesPerIdentity ?? 20;
  const partyLimit = maxParties > 0 ? createPartyLimit(maxParties) : undefined;
  const trustProxy = options.trustProxy ?? false;

  let relay: Relay | undefined;
  let relays = options.relays ?? [];
  let embeddedPort: number | undefined;
  if (!options.relays || options.relays.length === 0) {
    relay = createRelay({ tokenSecret: options.tokenSecret, logger: pino({ level: options.relayLogLevel ?? 'warn' }) });
    const listening = await relay.listen(0, host);
    embeddedPort = listening.port;
    relays = [listening.url];
  }

  // Bound to every interface, the embedded relay is reached on the host name the browser used for the app (LAN, ...).
  const wildcard = host === '0.0.0.0' || host === '::';
  const relaysFor = (request: IncomingMessage): string[] => {
    if (embeddedPort === undefined || !wildcard) return relays;
    let hostname: string;
    try {
      hostname = new URL(`http://${request.headers.host ?? host}`).hostname;
    } catch {
      return relays; // a Host header that is no host: the relay as it listens
    }
    return [`http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${embeddedPort}`];
  };

  /** The client's address: the socket's, or behind a trusted proxy the last hop it saw. */
  const clientAddress = (request: IncomingMessage): string => {
    const forwarded = trustProxy ? request.headers['x-forwarded-for'] : undefined;
    const last = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',').at(-1)?.trim();
    return last || request.socket.remoteAddress || 'unknown';
  };
  const overHttps = (request: IncomingMessage): boolean =>
    ('encrypted' in request.socket && request.socket.encrypted === true) ||
    (trustProxy && String(request.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() === 'https');

  async function mintToken(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') {
      sendJson(response, 405, { error: 'use POST' }, { allow: 'POST' });
      return;
    }
    let input: unknown;
    try {
      input = await readJson(request);
    } catch {
      sendJson(response, 400, { error: 'expected a JSON body' });
      return;
    }
    // Only `party` (or `parties`) is read: who the token is for is the cookie's to say, whatever `user` the body names.
    const { party, parties } = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    if (parties !== undefined) {
      await mintListToken(request, response, parties);
      return;
    }
    if (typeof party !== 'string' || !PARTY_ID_PATTERN.test(party)) {
      sendJson(response, 400, { error: 'party: 6–32 lowercase letters or digits' });
      return;
    }
    let user = identities.read(request.headers.cookie);
    if (user === undefined) {
      const allowed = newIdentityLimit?.take(clientAddress(request));
      if (allowed && !allowed.ok) {
        sendJson(
          response,
          429,
          { error: 'too many new visitors from this network; try again later', retryAfterMs: allowed.retryAfterMs },
          { 'retry-after': String(Math.ceil(allowed.retryAfterMs / 1000)) },
        );
        return;
      }
      user = identities.newUser();
    }
    // (A new identity has no parties yet: only a browser that has one can be refused here.)
    if (partyLimit && !partyLimit.admit(user, party)) {
      sendJson(response, 403, { error: `this browser is already in ${maxParties} parties, the most one guest may join on this server`, maxParties });
      return;
    }
    const token = await signAccessToken({ sub: user, rooms: [`party:${party}`], ttlSeconds }, options.tokenSecret);
    sendJson(
      response,
      200,
      { token, user, room: `party:${party}`, expiresAt: Date.now() + ttlSeconds * 1000, relays: relaysFor(request) },
      // Every answer renews the cookie, so a browser in use keeps its identity.
      { 'set-cookie': identities.cookie(user, { secure: overHttps(request) }) },
    );
  }

  /**
   * `{ parties }`: a token that may only read the browser's parties (the app's list of parties asks it
   * for their unread counts). Only for a browser that has an identity, only parties it may be in.
   */
  async function mintListToken(request: IncomingMessage, response: ServerResponse, parties: unknown): Promise<void> {
    if (!Array.isArray(parties) || parties.length === 0 || parties.length > MAX_LISTED_PARTIES || !parties.every((id): id is string => typeof id === 'string' && PARTY_ID_PATTERN.test(id))) {
      sendJson(response, 400, { error: `parties: 1–${MAX_LISTED_PARTIES} party ids of 6–32 lowercase letters or digits` });
      return;
    }
    const user = identities.read(request.headers.cookie);
    if (user === undefined) {
      sendJson(response, 401, { error: 'no identity yet: open a party first' });
      return;
    }
    const readable = [...new Set(parties)].filter((party) => !partyLimit || partyLimit.admit(user, party));
    if (readable.length === 0) {
      sendJson(response, 403, { error: `this browser is already in ${maxParties} other parties`, maxParties });
      return;
    }
    const rooms = readable.map((party) => `party:${party}`);
    const token = await signAccessToken({ sub: user, grants: rooms.map((room) => ({ room, can: ['read'] })), ttlSeconds }, options.tokenSecret);
    sendJson(
      response,
      200,
      { token, user, rooms, expiresAt: Date.now() + ttlSeconds * 1000, relays: relaysFor(request) },
      { 'set-cookie': identities.cookie(user, { secure: overHttps(request) }) },
    );
  }

  async function serveStatic(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> {
    const decoded = decodePath(pathname);
    if (decoded === undefined) {
      sendJson(response, 400, { error: 'malformed URL' });
      return;
    }
    const relative = normalize(decoded).replace(/^([/\\])+/, '');
    let file = join(staticDir, relative);
    if (!file.startsWith(staticDir + sep) && file !== staticDir) {
      response.writeHead(400).end();
      return;
    }
    let info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      // Client-side routes (/p/<id>) get the app; missing assets are a 404.
      if (extname(relative) !== '' && relative !== 'index.html') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      file = join(staticDir, 'index.html');
      info = await stat(file).catch(() => undefined);
      if (!info) {
        response.writeHead(500, { 'content-type': 'text/plain' }).end('the app is not built: run npm run build');
        return;
      }
    }
    const immutable = relative.startsWith('assets/');
    response.writeHead(200, {
      'content-type': MIME.get(extname(file)) ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // A target that is no URL is the client's mistake: a short 400, not a 500 and a stack trace in the log.
    const pathname = targetPath(request.url);
    if (pathname === undefined) {
      sendJson(response, 400, { error: 'malformed URL' });
      return;
    }
    if (pathname === '/api/config' && request.method === 'GET') {
      sendJson(response, 200, { relays: relaysFor(request) });
      return;
    }
    if (pathname === '/api/token') {
      await mintToken(request, response);
      return;
    }
    if (pathname === '/healthz') {
      sendJson(response, 200, { ok: true });
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      sendJson(response, 405, { error: 'method not allowed' });
      return;
    }
    await serveStatic(request, response, pathname);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: 'internal error' });
      else response.destroy();
      console.error('party-planner: request failed', error);
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolveListen());
  });
  const port = (server.address() as { port: number }).port;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    relays,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      await relay?.close();
    },
  };
}
