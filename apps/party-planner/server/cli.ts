#!/usr/bin/env node
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startPartyServer } from './party-server.js';

const HELP = `party-planner — the Partyline demo app server

Usage: node apps/party-planner/dist/server/cli.js [options]

  --port <n>           PORT          HTTP port (0 = any free)                     [8080]
  --host <addr>        HOST          bind address                                 [127.0.0.1]
  --relay <url>        RELAY_URLS    a relay the browser uses; repeat (or comma-separate in the env)
                                     for failover. None: embed one relay on the in-memory store.
  --token-secret <s>   TOKEN_SECRET  HS256 secret shared with the relays (≥ 32 bytes)  [required]
  --static-dir <dir>   STATIC_DIR    the built app                                 [dist/client]
  --new-identities-per-hour <n>
                       NEW_IDENTITIES_PER_HOUR
                                     new user ids one address (IPv6: one /64) may get
                                     per hour; browsers that have one are never limited;
                                     0 = no limit                                  [30]
  --max-parties-per-identity <n>
                       MAX_PARTIES_PER_IDENTITY
                                     different parties one browser identity may create
                                     or join; 0 = no limit                         [20]
  --trust-proxy        TRUST_PROXY=1 behind a reverse proxy: the client address from the
                                     last X-Forwarded-For entry, https from
                                     X-Forwarded-Proto (Secure identity cookie)
  -h, --help

Each browser profile gets a random user id from this server, in an HttpOnly cookie MACed with a key
derived from the token secret; tokens are signed for that id only. A new secret means new identities.
`;

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    relay: { type: 'string', multiple: true },
    'token-secret': { type: 'string' },
    'static-dir': { type: 'string' },
    'new-identities-per-hour': { type: 'string' },
    'max-parties-per-identity': { type: 'string' },
    'trust-proxy': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const tokenSecret = values['token-secret'] ?? process.env.TOKEN_SECRET;
if (!tokenSecret || Buffer.byteLength(tokenSecret) < 32) {
  process.stderr.write('party-planner: --token-secret / TOKEN_SECRET is required (at least 32 bytes)\n\n' + HELP);
  process.exit(2);
}
const relays = values.relay ?? (process.env.RELAY_URLS ? process.env.RELAY_URLS.split(',').map((url) => url.trim()).filter(Boolean) : []);
const here = dirname(fileURLToPath(import.meta.url));
const newIdentitiesPerHour = Number(values['new-identities-per-hour'] ?? process.env.NEW_IDENTITIES_PER_HOUR ?? 30);
if (!Number.isFinite(newIdentitiesPerHour) || newIdentitiesPerHour < 0) {
  process.stderr.write('party-planner: --new-identities-per-hour / NEW_IDENTITIES_PER_HOUR must be a number ≥ 0\n\n' + HELP);
  process.exit(2);
}

const maxPartiesPerIdentity = Number(values['max-parties-per-identity'] ?? process.env.MAX_PARTIES_PER_IDENTITY ?? 20);
if (!Number.isInteger(maxPartiesPerIdentity) || maxPartiesPerIdentity < 0) {
  process.stderr.write('party-planner: --max-parties-per-identity / MAX_PARTIES_PER_IDENTITY must be an integer ≥ 0\n\n' + HELP);
  process.exit(2);
}

const server = await startPartyServer({
  staticDir: values['static-dir'] ?? process.env.STATIC_DIR ?? join(here, '..', 'client'),
  tokenSecret,
  relays,
  host: values.host ?? process.env.HOST ?? '127.0.0.1',
  port: Number(values.port ?? process.env.PORT ?? 8080),
  newIdentitiesPerHour,
  maxPartiesPerIdentity,
  trustProxy: values['trust-proxy'] ?? ['1', 'true', 'yes'].includes((process.env.TRUST_PROXY ?? '').toLowerCase()),
});

const embedded = relays.length === 0;
process.stdout.write(
  `\n  🎉 Party planner: ${server.url}\n` +
    `     relays: ${server.relays.join(', ')}${embedded ? ' (embedded, in memory — no Redis)' : ''}\n\n`,
);
// A machine-readable line for scripts and tests.
process.stdout.write(JSON.stringify({ event: 'listening', url: server.url, relays: server.relays }) + '\n');

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) process.exit(1);
    closing = true;
    void server.close().then(() => process.exit(0));
  });
}
