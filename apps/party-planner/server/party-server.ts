import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { createRelay, signAccessToken, type Relay } from '@partyline/relay';
import { pino } from 'pino';

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
/** Token subjects: a browser profile's random user id. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{4,64}$/;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  response.end(body);
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

/**
 * The party planner's server: the built app, `GET /api/config` (which relays to use) and
 * `POST /api/token` (a demo token granting exactly one party). Without `relays` it embeds a relay
 * on the in-memory store, so one process runs everything.
 *
 * Demo policy: anyone who knows a party id may join it (the id is the invitation).
 */
export async function startPartyServer(options: PartyServerOptions): Promise<PartyServer> {
  const host = options.host ?? '127.0.0.1';
  const staticDir = resolve(options.staticDir);
  const ttlSeconds = options.tokenTtlSeconds ?? 12 * 3600;

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
    const hostHeader = request.headers.host ?? host;
    const hostname = new URL(`http://${hostHeader}`).hostname;
    return [`http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${embeddedPort}`];
  };

  async function serveStatic(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> {
    const relative = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '');
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
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/api/config' && request.method === 'GET') {
      sendJson(response, 200, { relays: relaysFor(request) });
      return;
    }
    if (url.pathname === '/api/token') {
      if (request.method !== 'POST') {
        sendJson(response, 405, { error: 'use POST' });
        return;
      }
      let input: unknown;
      try {
        input = await readJson(request);
      } catch {
        sendJson(response, 400, { error: 'expected a JSON body' });
        return;
      }
      const { party, user } = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
      if (typeof party !== 'string' || !PARTY_ID_PATTERN.test(party)) {
        sendJson(response, 400, { error: 'party: 6–32 lowercase letters or digits' });
        return;
      }
      if (typeof user !== 'string' || !USER_ID_PATTERN.test(user)) {
        sendJson(response, 400, { error: 'user: 4–64 letters, digits, _ or -' });
        return;
      }
      const token = await signAccessToken({ sub: user, rooms: [`party:${party}`], ttlSeconds }, options.tokenSecret);
      sendJson(response, 200, { token, room: `party:${party}`, expiresAt: Date.now() + ttlSeconds * 1000, relays: relaysFor(request) });
      return;
    }
    if (url.pathname === '/healthz') {
      sendJson(response, 200, { ok: true });
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      sendJson(response, 405, { error: 'method not allowed' });
      return;
    }
    await serveStatic(request, response, url.pathname);
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
