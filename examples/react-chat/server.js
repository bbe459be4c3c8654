// The example's server: the built app (dist/) and the token endpoint the SDK asks for access tokens.
// In your app this is your backend: sign tokens for the user of your own session, for the rooms they may use.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signAccessToken } from '@partyline/server';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const secret = process.env.TOKEN_SECRET;
// Room patterns every signed-in user is granted (a trailing * is a prefix).
const rooms = (process.env.PARTYLINE_ROOMS ?? 'chat:*').split(',');
if (!secret || secret.length < 32) {
  console.error('Set TOKEN_SECRET to the relay\'s secret (at least 32 bytes), e.g. export TOKEN_SECRET=$(openssl rand -hex 32)');
  process.exit(1);
}

const dist = fileURLToPath(new URL('./dist/', import.meta.url));
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json' };

/** The demo session: the user name the page put in a cookie (src/config.ts). */
function userOf(request) {
  const cookie = (request.headers.cookie ?? '').split(/;\s*/).find((part) => part.startsWith('partyline-demo-user='));
  const user = cookie?.slice('partyline-demo-user='.length) ?? '';
  // Names the page sets are URI-encoded; only plain ones are accepted, so no decoding is needed.
  return /^[\w.-]{1,64}$/.test(user) ? user : undefined;
}

/** The built file a URL path names, or undefined for a malformed escape (`%zz`) or a path outside dist/. */
function fileOf(pathname) {
  try {
    const path = normalize(join(dist, decodeURIComponent(pathname)));
    return path.startsWith(dist) && !path.includes('\0') ? path : undefined;
  } catch {
    return undefined;
  }
}

async function serveFile(response, path) {
  const body = await readFile(path);
  // Hashed assets never change; index.html and sw.js are revalidated, or a new build would never replace the cached shell.
  const cacheControl = path.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
  response.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': cacheControl });
  response.end(body);
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  try {
    if (url.pathname === '/api/partyline-token') {
      const user = userOf(request);
      if (!user) {
        response.writeHead(401, { 'content-type': 'text/plain' }).end('not signed in');
        return;
      }
      const token = await signAccessToken({ sub: user, rooms, ttlSeconds: 600 }, secret);
      response.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(token);
      return;
    }
    const path = fileOf(url.pathname);
    if (!path) {
      response.writeHead(400, { 'content-type': 'text/plain' }).end('bad path');
      return;
    }
    // Any path that is not a built file opens the app.
    await serveFile(response, path).catch(() => serveFile(response, join(dist, 'index.html')));
  } catch (error) {
    console.warn('request failed', url.pathname, error instanceof Error ? error.message : error);
    if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
    response.end();
  }
});

server.listen(port, host, () => console.log(`react-chat on http://${host}:${port}/?user=ana (dist: ${dist})`));
