import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helpText, parseCli } from '../src/index.js';
import { collectMessages, connectClient, expectOk, publish, request, TEST_SECRET, tokenFor, type ClientSocket } from './support/harness.js';
import { captureOutput, exitOf, runCli, startRelayProcess, type RelayProcess } from './support/relay-process.js';

describe('partyline-relay CLI', () => {
  it('--help lists every option with the env var that mirrors it', async () => {
    const child = runCli(['--help']);
    const output = captureOutput(child);
    expect(await exitOf(child)).toBe(0);
    expect(output.text().trim()).toBe(helpText());
    for (const env of ['PORT', 'HOST', 'REDIS_URL', 'TOKEN_SECRET', 'MAX_BODY_BYTES', 'RATE_LIMIT', 'DEDUP_RETENTION_HOURS', 'RETENTION_MESSAGES', 'TRANSPORTS', 'PING_INTERVAL_MS', 'PING_TIMEOUT_MS', 'PRESENCE_GRACE_MS', 'LOG_LEVEL']) {
      expect(output.text()).toContain(`[env ${env}]`);
    }
  });

  it('reads the heartbeat and the presence grace from flags and env (flags win)', () => {
    const parsed = parseCli(['--ping-interval-ms', '3000', '--presence-grace-ms', '4000'], { TOKEN_SECRET: TEST_SECRET, PING_INTERVAL_MS: '9000', PING_TIMEOUT_MS: '2000' });
    expect(parsed.help ? undefined : parsed.config.relay).toMatchObject({ pingIntervalMs: 3000, pingTimeoutMs: 2000, presenceTiming: { graceMs: 4000 } });
    expect(() => parseCli(['--ping-timeout-ms', '0'], { TOKEN_SECRET: TEST_SECRET })).toThrow('at least 1');
  });

  it('exits on SIGTERM even when the reader of its stdout is gone (a broken pipe never holds it up)', async () => {
    const relay = await startRelayProcess(['--token-secret', TEST_SECRET, '--drain-timeout-ms', '500'], { LOG_LEVEL: 'debug' });
    relay.child.stdout!.destroy();
    await fetch(`${relay.url}/healthz`); // something to log into the broken pipe
    relay.child.kill('SIGTERM');
    expect(await exitOf(relay.child)).not.toBeNull();
  });

  it.each([
    [['--port', '8080'], {}, 'tokens need a key: --token-secret'],
    [['--token-secret', 'short'], {}, 'at least 32 bytes'],
    [['--bogus'], { TOKEN_SECRET: TEST_SECRET }, "Unknown option '--bogus'"],
    [['--port', 'eighty'], { TOKEN_SECRET: TEST_SECRET }, '--port must be a non-negative integer'],
    [['--transports', 'carrier-pigeon'], { TOKEN_SECRET: TEST_SECRET }, 'unknown transport'],
  ])('exits 2 with a clear message for %j', async (args, env, message) => {
    const child = runCli(args, { TOKEN_SECRET: '', ...env });
    const output = captureOutput(child);
    expect(await exitOf(child)).toBe(2);
    expect(output.text()).toContain(message);
  });
});

describe('two CLI relays against one redis-server, plain socket.io-client', () => {
  let redis: RedisServer;
  let relayA: RelayProcess;
  let relayB: RelayProcess;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    // One relay configured by flags, the other by environment variables.
    [relayA, relayB] = await Promise.all([
      startRelayProcess(['--redis-url', redis.url, '--token-secret', TEST_SECRET]),
      startRelayProcess([], { REDIS_URL: redis.url, TOKEN_SECRET: TEST_SECRET }),
    ]);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await relayA?.stop();
    await relayB?.stop();
    await redis?.stop();
  });

  it('delivers A → B with its seq; the same id republished through B is acked with that seq and not delivered twice', async () => {
    const room = 'party:cli';
    const [publisherA, publisherB, subscriberB] = await Promise.all([
      connectClient(relayA.url, await tokenFor('ana', [room])),
      connectClient(relayB.url, await tokenFor('ana', [room])),
      connectClient(relayB.url, await tokenFor('bob', [room])),
    ]);
    sockets.push(publisherA, publisherB, subscriberB);
    const received = collectMessages(subscriberB);
    expectOk(await request(subscriberB, 'room:join', { room }));

    const first = expectOk(await publish(publisherA, room, [{ id: 'cake-1', body: '{"text":"I bring the cake"}' }]));
    const seq = (first.results[0] as { seq: number }).seq;
    await waitFor(() => received.length === 1, 'message at relay B');
    expect(received[0]).toMatchObject({ id: 'cake-1', seq, sender: 'ana', body: '{"text":"I bring the cake"}' });

    const again = expectOk(await publish(publisherB, room, [{ id: 'cake-1', body: '{"text":"I bring the cake"}' }]));
    expect(again.results).toEqual([{ id: 'cake-1', seq, duplicate: true }]);
    expectOk(await publish(publisherB, room, [{ id: 'sentinel' }]));
    await waitFor(() => received.some((m) => m.id === 'sentinel'), 'sentinel at relay B');
    expect(received.map((m) => m.id)).toEqual(['cake-1', 'sentinel']);
  });

  it('answers /readyz with the store state', async () => {
    const ready = await fetch(`${relayA.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', store: 'redis' });
  });
});
