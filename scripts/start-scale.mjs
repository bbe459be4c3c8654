// Starts redis-server + two relays + the party planner, each as its own process, on free ports of
// 127.0.0.1 (the app on PORT, default 8080). Stops them all on Ctrl-C or when one of them dies.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (process.argv.includes('--help')) {
  console.log(`npm run start:scale — redis-server + two relay processes + the party planner pointed at both

Usage: npm run start:scale        (PORT=8080 and TOKEN_SECRET=… are read from the environment)

Starts everything on free ports of 127.0.0.1 and prints the app URL and the relays' pids: kill -9 one of
them and the open tabs move to the other relay without losing anything. Ctrl-C stops everything.`);
  process.exit(0);
}

// No public default: a random secret per run, shared with the processes started here.
const secret = process.env.TOKEN_SECRET ?? randomBytes(32).toString('base64url');
const appPort = Number(process.env.PORT ?? 8080);
const children = [];
const dataDir = mkdtempSync(join(tmpdir(), 'partyline-redis-'));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function start(name, command, args, env = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const prefix = (chunk) => chunk.toString().split('\n').filter(Boolean).map((line) => `[${name}] ${line}\n`).join('');
  child.stdout.on('data', (chunk) => process.stdout.write(prefix(chunk)));
  child.stderr.on('data', (chunk) => process.stderr.write(prefix(chunk)));
  child.on('exit', (code, signal) => {
    if (stopping) return;
    // A relay may die (that is the point of the demo): the app carries on with the other one.
    if (name.startsWith('relay')) {
      console.error(`${name} exited (${signal ?? code}); the app carries on with the other relay`);
      return;
    }
    console.error(`${name} exited (${signal ?? code}); stopping everything`);
    stop(1);
  });
  children.push(child);
  return child;
}

async function waitForHttp(url, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children.reverse()) child.kill('SIGTERM');
  setTimeout(() => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  }, 1500).unref();
  Promise.all(children.map((child) => (child.exitCode !== null ? undefined : new Promise((resolve) => child.once('exit', resolve))))).then(() => {
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  });
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

const redisPort = await freePort();
start('redis', process.env.REDIS_SERVER_BIN ?? 'redis-server', [
  '--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--loglevel', 'warning',
]);
const redisUrl = `redis://127.0.0.1:${redisPort}`;

const relayUrls = [];
const relayPids = [];
for (const name of ['relay-a', 'relay-b']) {
  const port = await freePort();
  relayPids.push(start(name, process.execPath, ['packages/relay/dist/cli.js', '--port', String(port), '--redis-url', redisUrl, '--log-level', 'warn'], { TOKEN_SECRET: secret }).pid);
  relayUrls.push(`http://127.0.0.1:${port}`);
}
await Promise.all(relayUrls.map((url) => waitForHttp(`${url}/readyz`)));

start('app', process.execPath, ['apps/party-planner/dist/server/cli.js', '--port', String(appPort), ...relayUrls.flatMap((url) => ['--relay', url])], { TOKEN_SECRET: secret });
console.log(`redis ${redisUrl}; relays ${relayUrls.map((url, i) => `${url} (pid ${relayPids[i]})`).join(' and ')}`);
console.log(`try: kill -9 ${relayPids[0]}  — open tabs move to the other relay and nothing is lost. Ctrl-C stops everything.`);
