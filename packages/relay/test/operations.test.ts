import { ErrorKind, type RelayDrainEvent } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCli } from '../src/index.js';
import { connectClient, connectRefusal, expectOk, publish, request, startRelay, TEST_SECRET, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

const relays: RunningRelay[] = [];
const sockets: ClientSocket[] = [];

async function relay(options: Parameters<typeof startRelay>[0] = {}): Promise<RunningRelay> {
  const started = await startRelay(options);
  relays.push(started);
  return started;
}
async function client(target: RunningRelay, room = 'ops'): Promise<ClientSocket> {
  const socket = await connectClient(target.url, await tokenFor('ana', [room]));
  sockets.push(socket);
  return socket;
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const { relay } of relays.splice(0)) await relay.close().catch(() => {});
});

describe('/metrics, /healthz, /readyz', () => {
  it('answers Prometheus text with connection, room, publish, dedup, catch-up, error, latency and event-loop metrics', async () => {
    const target = await relay({ metricsPublic: true });
    const socket = await client(target);
    expectOk(await request(socket, 'room:join', { room: 'ops', since: 0 }));
    expectOk(await publish(socket, 'ops', [{ id: 'a' }, { id: 'b' }]));
    expectOk(await publish(socket, 'ops', [{ id: 'a' }]));
    expectOk(await request(socket, 'room:read', { room: 'ops', since: 0 }));
    await request(socket, 'room:join', { room: 'not-granted' });

    const response = await fetch(`${target.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const value = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
    expect(value('partyline_connections')).toBe(1);
    expect(value('partyline_rooms')).toBe(1);
    expect(value('partyline_messages_published_total')).toBe(2);
    expect(value('partyline_dedup_hits_total')).toBe(1);
    expect(value('partyline_catchup_messages_total')).toBe(2);
    expect(value('partyline_errors_total{kind="forbidden"}')).toBe(1);
    expect(value('partyline_publish_ack_seconds_count')).toBe(2);
    // The room's first message is two store steps (one finds no room, one creates it: see append-batch.ts).
    expect(value('partyline_store_seconds_count{op="append"}')).toBe(3);
    expect(text).toMatch(/^# TYPE partyline_publish_ack_seconds histogram$/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \S+$/m);
    expect(text).not.toContain('secret');
  });

  it('keeps /metrics off the main port by default, and serves it there only with metricsPublic', async () => {
    const target = await relay();
    expect((await fetch(`${target.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${target.url}/healthz`)).status).toBe(200);
    const opted = await relay({ metricsPublic: true });
    expect(await (await fetch(`${opted.url}/metrics`)).text()).toMatch(/^partyline_connections \d+$/m);
  });

  it('reads --metrics-public and METRICS_PUBLIC; neither means no public /metrics', async () => {
    const relayOf = (argv: string[], env: NodeJS.ProcessEnv) => {
      const parsed = parseCli(argv, { TOKEN_SECRET: TEST_SECRET, ...env });
      return parsed.help ? undefined : parsed.config.relay;
    };
    expect(relayOf(['--metrics-public'], {})?.metricsPublic).toBe(true);
    expect(relayOf([], { METRICS_PUBLIC: '1' })?.metricsPublic).toBe(true);
    expect(relayOf([], {})?.metricsPublic).toBeUndefined();
    expect(relayOf([], { METRICS_PUBLIC: '0' })?.metricsPublic).toBeUndefined();
  });

  it('serves /metrics only on the metrics port when one is set', async () => {
    const { findFreePort } = await import('@partyline/test-support');
    const metricsPort = await findFreePort();
    const target = await relay({ metricsPort });
    expect((await fetch(`${target.url}/metrics`)).status).toBe(404);
    const private_ = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(private_.status).toBe(200);
    expect(await private_.text()).toMatch(/^partyline_connections \d+$/m);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(404);
  });

  it('answers /healthz and /readyz, and 404 elsewhere', async () => {
    const target = await relay();
    expect(await (await fetch(`${target.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${target.url}/readyz`)).json()).toEqual({ status: 'ready', store: 'memory' });
    expect((await fetch(`${target.url}/nope`)).status).toBe(404);
  });
});

describe('reconnect storms', () => {
  it('refuses connections past the connection rate with rate_limited and retryAfterMs', async () => {
    const target = await relay({ connectRateLimit: { perSecond: 1, burst: 2 } });
    await client(target);
    await client(target);
    const refusal = await connectRefusal(target.url, { token: await tokenFor('ana', ['ops']) });
    expect(refusal).toMatchObject({ kind: ErrorKind.RateLimited, retryable: true });
    expect(refusal.retryAfterMs).toBeGreaterThan(0);
  });
});

describe('graceful drain', () => {
  it('tells clients to move with jittered delays, answers in-flight requests, refuses newcomers, then closes', async () => {
    const target = await relay();
    const members = await Promise.all(Array.from({ length: 20 }, () => client(target)));
    const notices: RelayDrainEvent[] = [];
    const closed = members.map((socket) => {
      socket.on('relay:drain', (event) => notices.push(event));
      return new Promise<string>((resolve) => socket.once('disconnect', resolve));
    });

    // A publish in flight when the drain starts is still acked.
    const inFlight = publish(members[0]!, 'ops', [{ id: 'in-flight' }]);
    // A spread long enough that the drain is still under way when the newcomer below tries (a loaded CI box).
    const drained = target.relay.drain({ deadlineMs: 8_000, spreadMs: 3_000 });
    expect(expectOk(await inFlight).results).toEqual([{ id: 'in-flight', seq: 1 }]);

    await waitFor(() => notices.length === 20, 'every client told to move');
    for (const notice of notices) {
      expect(notice.reconnectAfterMs).toBeGreaterThanOrEqual(0);
      expect(notice.reconnectAfterMs).toBeLessThan(3_000);
    }
    expect(new Set(notices.map((n) => n.reconnectAfterMs)).size).toBeGreaterThan(1);
    const refusal = await connectRefusal(target.url, { token: await tokenFor('ana', ['ops']) }).catch((error: Error) => error);
    expect(refusal).toMatchObject({ kind: ErrorKind.Draining });

    await drained;
    expect(await Promise.all(closed)).toEqual(Array(20).fill('io server disconnect'));
  });
});
