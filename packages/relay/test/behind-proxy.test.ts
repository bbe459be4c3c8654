/**
 * Relays behind the shipped nginx (deploy/nginx.conf, rendered with the test's addresses): one client
 * flooding token-less WebSocket sessions through nginx keeps no other client out when the relays
 * trust the proxy — the per-address limits count the client nginx saw, not nginx. Without the flag
 * the same flood shuts real clients out, and the relay says why in its log.
 *
 * The attacker's sockets leave from 127.0.0.2 (Linux routes all of 127/8 to lo), so nginx forwards a
 * different client address for it than for the real clients on 127.0.0.1; it also writes its own
 * X-Forwarded-For claiming the real clients' address, which must not count.
 */
import { findFreePort, shippedNginxConf, startNginx, waitFor, type Nginx } from '@partyline/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectClient, TEST_SECRET, tokenFor, type ClientSocket } from './support/harness.js';
import { captureOutput, exitOf, runCli } from './support/relay-process.js';

const ATTACK_SESSIONS = 600;
const REAL_CLIENTS = 10;
const PENDING_PER_ADDRESS = 128;

interface LoggedRelay {
  port: number;
  log: () => string;
  stop(): Promise<void>;
}

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((each) => each.stop()));
});

/** A relay process (the real CLI) with its info-level JSON log captured. */
async function startRelay(args: string[]): Promise<LoggedRelay> {
  const port = await findFreePort();
  const child = runCli(['--port', String(port), '--host', '127.0.0.1', '--token-secret', TEST_SECRET, '--drain-timeout-ms', '1000', ...args], { LOG_LEVEL: 'info' });
  const output = captureOutput(child);
  const relay = {
    port,
    log: output.text,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exitOf(child);
    },
  };
  running.push(relay);
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`relay exited: ${output.text()}`);
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
  }, `relay process on port ${port}`, 20_000);
  return relay;
}


async function startBehindNginx(relayArgs: string[][]): Promise<{ relays: LoggedRelay[]; nginx: Nginx }> {
  const relays = await Promise.all(relayArgs.map(startRelay));
  const nginx = await startNginx({ http: shippedNginxConf([relays[0]!.port, relays[1]!.port]) });
  running.push(nginx);
  return { relays, nginx };
}

interface Flood {
  /** Sessions the relays opened for the attacker (WebSocket upgraded: HTTP 101). */
  open: WebSocket[];
  /** Refusals by HTTP status (429 from nginx's limits, 403 from a relay's per-address caps, 502 …). */
  refusedByStatus: Record<string, number>;
}

/** Opens `count` Engine.IO WebSocket sessions through nginx from 127.0.0.2 and never sends CONNECT. */
async function flood(nginx: Nginx, count: number): Promise<Flood> {
  const result: Flood = { open: [], refusedByStatus: {} };
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const socket = new WebSocket(`ws://127.0.0.1:${nginx.port}/socket.io/?EIO=4&transport=websocket`, {
            localAddress: '127.0.0.2',
            headers: { 'X-Forwarded-For': '127.0.0.1' }, // a lie: the real clients' address
          });
          socket.once('open', () => {
            result.open.push(socket);
            resolve();
          });
          socket.once('error', (error) => {
            const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1] ?? error.message;
            result.refusedByStatus[status] = (result.refusedByStatus[status] ?? 0) + 1;
            resolve();
          });
        }),
    ),
  );
  running.push({ stop: async () => result.open.forEach((socket) => socket.terminate()) });
  return result;
}

/** Each real client makes one attempt with a valid token, as the flood is held; answers who got in and who not. */
async function connectRealClients(nginx: Nginx): Promise<{ connected: ClientSocket[]; refused: string[] }> {
  const outcomes = await Promise.allSettled(
    Array.from({ length: REAL_CLIENTS }, async (_, i) => connectClient(nginx.url, await tokenFor(`guest-${i}`, ['party:*']))),
  );
  const connected = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  running.push({ stop: async () => connected.forEach((socket) => socket.close()) });
  const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String((outcome.reason as Error).message)] : []));
  return { connected, refused };
}

/** The relay's JSON log lines with this message. */
const logLines = (relay: LoggedRelay, msg: string) =>
  relay
    .log()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === msg);

describe('relays behind deploy/nginx.conf', () => {
  it('with --trust-proxy, a token-less flood from one client keeps none of the real clients out', async () => {
    // One relay trusts one hop, the other names nginx's address: both forms of the flag.
    const { relays, nginx } = await startBehindNginx([['--trust-proxy', '1'], ['--trust-proxy', '127.0.0.1/32,::1/128']]);
    const attack = await flood(nginx, ATTACK_SESSIONS);
    const clients = await connectRealClients(nginx);
    console.log(
      `[behind nginx, --trust-proxy] attacker: ${attack.open.length} of ${ATTACK_SESSIONS} sessions opened, refused by status ${JSON.stringify(attack.refusedByStatus)}; ` +
        `real clients: ${clients.connected.length} of ${REAL_CLIENTS} connected`,
    );
    expect(clients.refused).toEqual([]);
    // Every refused session was answered (429 by nginx's limits, 400 by a relay's per-address caps):
    // none was reset, which nginx would take for a failed relay and stop sending anyone there.
    expect(Object.keys(attack.refusedByStatus).filter((status) => status !== '400' && status !== '429')).toEqual([]);
    // The relays held the attacker to its own per-address cap (each relay), through the proxy.
    expect(attack.open.length).toBeLessThanOrEqual(2 * PENDING_PER_ADDRESS);
    // The connected clients work: a join answers.
    const joined = await clients.connected[0]!.timeout(5_000).emitWithAck('room:join', { room: 'party:1' } as never);
    expect(joined).toMatchObject({ ok: true });

    // The HTTP API and /healthz go through too; /metrics stays inside.
    expect((await fetch(`${nginx.url}/v1/openapi.json`)).status).toBe(200);
    expect((await fetch(`${nginx.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${nginx.url}/metrics`)).status).toBe(404);

    for (const relay of relays) await relay.stop();
    // Refusals are in the default log, summed, under the address nginx saw for the attacker.
    const refusals = relays.flatMap((relay) => logLines(relay, 'handshakes refused'));
    expect(refusals.length).toBeGreaterThan(0);
    for (const line of refusals) expect(line).toMatchObject({ level: 30, topAddresses: [{ address: '127.0.0.2' }] });
    for (const relay of relays) expect(logLines(relay, 'requests carry X-Forwarded-For but no proxy is trusted').length).toBe(0);
  }, 60_000);

  it('without --trust-proxy, the same flood shuts real clients out, and the relay logs that it ignores X-Forwarded-For', async () => {
    const { relays, nginx } = await startBehindNginx([[], []]);
    const attack = await flood(nginx, ATTACK_SESSIONS);
    const clients = await connectRealClients(nginx);
    console.log(
      `[behind nginx, no --trust-proxy] attacker: ${attack.open.length} of ${ATTACK_SESSIONS} sessions opened; ` +
        `real clients: ${clients.connected.length} of ${REAL_CLIENTS} connected (refused: ${[...new Set(clients.refused)].join('; ')})`,
    );
    // The control: if the flood did not shut anyone out here, the test above would prove nothing.
    expect(clients.refused.length).toBeGreaterThan(0);
    const notices = relays.flatMap((relay) =>
      relay
        .log()
        .split('\n')
        .filter((line) => line.includes('X-Forwarded-For') && line.includes('--trust-proxy')),
    );
    expect(notices.length).toBeGreaterThan(0);
    // Once per relay (rate-limited), not once per request.
    expect(notices.length).toBeLessThanOrEqual(relays.length);
    expect(JSON.parse(notices[0]!)).toMatchObject({ level: 40, proxy: '127.0.0.1', flag: '--trust-proxy' });
  }, 60_000);
});
