/**
 * Deeply nested JSON from an authenticated caller is refused by a linear scan before anything parses
 * it: an HTTP body with 400 `bad_request`, a socket frame with a typed `bad_request` for that request
 * only. A flood of them does not stall the relay (its /healthz stays fast) and logs no error. HTTP
 * requests are charged before their bodies are parsed, HTTP reads like socket reads (429 and
 * Retry-After), and a client that breaks off its request causes no error-level log either.
 */
import { connect, type Socket } from 'node:net';
import { ErrorKind, PROTOCOL_VERSION, ServerEvent, type WireError } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RelayOptions } from '../src/index.js';
import { collectMessages, connectClient, expectOk, publish, request, startRelay, TEST_SECRET, tokenFor, type RunningRelay } from './support/harness.js';
import { healthzLatencies, percentile } from './support/healthz-probe.js';
import { captureOutput, startRelayProcess } from './support/relay-process.js';

const API_KEY = 'deep-json-key-deep-json-key-0123456789';
/** The finding's body: 1.1 MB, nested 550,000 deep; as a whole request, or as one message's body. */
const DEEP = '['.repeat(550_000) + ']'.repeat(550_000);
const DEEP_MESSAGE = `{"type":"chat","body":${DEEP}}`;
const TOO_DEEP = /deeper than 64 levels/;

const running: RunningRelay[] = [];
afterEach(async () => {
  for (const { relay } of running.splice(0)) await relay.close();
});

/** A relay whose every log line is kept, to check that nothing was logged at error level or above. */
async function relayWithLog(options: Partial<RelayOptions> = {}): Promise<RunningRelay & { errorLines: () => string[] }> {
  const lines: string[] = [];
  const logger: Logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  const relay = await startRelay({ apiKeys: [API_KEY], logger, ...options });
  running.push(relay);
  return { ...relay, errorLines: () => errorLines(lines.join('')) };
}

/** JSON log lines at error level or above. */
function errorLines(log: string): string[] {
  return log.split('\n').filter((line) => line.startsWith('{') && (JSON.parse(line) as { level: number }).level >= 50);
}

const postMessages = (url: string, body: string, credential = API_KEY) =>
  fetch(`${url}/v1/rooms/party:deep/messages`, { method: 'POST', headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' }, body });

async function answerOf(response: Response): Promise<{ status: number; error: WireError | undefined; retryAfter: string | null }> {
  const body = (await response.json()) as { error?: WireError };
  return { status: response.status, error: body.error, retryAfter: response.headers.get('retry-after') };
}

/** A Socket.IO connection spoken frame by frame over ws: a client library could not even serialise such nesting. */
async function rawConnection(url: string, token: string) {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const frames: string[] = [];
  socket.on('message', (data: Buffer) => {
    const text = data.toString();
    if (text === '2') socket.send('3'); // Engine.IO ping
    else frames.push(text);
  });
  await waitFor(() => frames[0]?.startsWith('0{'), 'the Engine.IO open packet');
  socket.send(`40${JSON.stringify({ token, protocol: PROTOCOL_VERSION })}`);
  await waitFor(() => frames.some((frame) => frame.startsWith('40{')), 'the namespace CONNECT to be accepted');
  return {
    socket,
    frames,
    send: (frame: string) => socket.send(frame),
    /** The answer acked to request `id`. */
    async ack(id: number): Promise<{ ok: boolean; error?: WireError; results?: { seq?: number }[] }> {
      const frame = await waitFor(() => frames.find((f) => f.startsWith(`43${id}[`)), `the ack of request ${id}`);
      return (JSON.parse(frame.slice(`43${id}`.length)) as [{ ok: boolean; error?: WireError }])[0];
    },
  };
}

const publishFrame = (id: number | '', messageId: string, body: string) =>
  `42${id}${JSON.stringify(['room:publish', { room: 'party:deep', messages: [{ id: messageId, type: 'chat', body: '@' }] }]).replace('"@"', body)}`;

describe('deeply nested JSON after auth', () => {
  it('refuses a flood of 1 MB bodies within the depth bound at the byte rate, before parsing them (429 + Retry-After)', async () => {
    // 16 messages of ~62 KB, each an array of small nested arrays: within every bound, yet ~60 ms to parse.
    const arrays = '['.repeat(60) + ']'.repeat(60);
    const body = `[${Array.from({ length: 510 }, () => arrays).join(',')}]`;
    const batch = (n: number) => JSON.stringify({ messages: Array.from({ length: 16 }, (_, i) => ({ id: `big-${n}-${i}`, type: 'chat', body: 0 })) }).replaceAll(':0}', `:${body}}`);
    const relay = await relayWithLog();
    const answers: Awaited<ReturnType<typeof answerOf>>[] = [];
    // 8 a second for 2 s from one caller, not waiting for earlier answers: 16 MB offered against 1 MiB/s.
    const sent: Promise<void>[] = [];
    // The relay runs in this process: count the parses of request-sized JSON it makes.
    const parse = JSON.parse;
    let bigParses = 0;
    JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
      if (typeof text === 'string' && text.length > 500_000) bigParses++;
      return parse(text, reviver);
    }) as typeof JSON.parse;
    try {
      const startedAt = performance.now();
      for (let i = 0; i < 16; i++) {
        sent.push(postMessages(relay.url, batch(i)).then(answerOf).then((answer) => void answers.push(answer)));
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + (i + 1) * 125 - performance.now())));
      }
      await Promise.all(sent);
    } finally {
      JSON.parse = parse;
    }
    const statuses = answers.map((a) => a.status);
    console.log(`[big POST flood] ${batch(0).length} bytes each; statuses ${statuses.join(',')}; ${bigParses} bodies parsed`);
    expect(bigParses).toBe(statuses.filter((status) => status === 200).length);
    const limited = answers.filter((a) => a.status === 429);
    // At 1 MiB/s about one body a second gets through (and is parsed); the rest are refused before the parse.
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(4);
    expect(limited.length).toBeGreaterThanOrEqual(12);
    for (const answer of limited) {
      expect(answer.error).toMatchObject({ kind: ErrorKind.RateLimited, retryable: true });
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    expect(relay.errorLines()).toEqual([]);
  });

  it('answers 8 nested 1.1 MB POSTs a second with 400 bad_request for 3 s; /healthz keeps answering promptly; nothing logged at error level', async () => {
    // A relay process of its own: this process's sending must not count as the relay's stall.
    const relay = await startRelayProcess(['--token-secret', TEST_SECRET, '--api-keys', API_KEY], { LOG_LEVEL: 'info' });
    const log = captureOutput(relay.child);
    try {
      const answers: Promise<Awaited<ReturnType<typeof answerOf>>>[] = [];
      const latencies = await healthzLatencies(relay.url, async () => {
        const startedAt = performance.now();
        // A load profile: one POST every 125 ms, not waiting for earlier answers.
        for (let i = 0; i < 24; i++) {
          answers.push(postMessages(relay.url, i % 2 ? DEEP_MESSAGE : DEEP).then(answerOf));
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + (i + 1) * 125 - performance.now())));
        }
        await Promise.all(answers);
      });
      const settled = await Promise.all(answers);
      const p99 = percentile(latencies, 99);
      console.log(
        `[deep POST flood] ${settled.length} POSTs, statuses ${[...new Set(settled.map((a) => a.status))].join(',')}; /healthz ${latencies.length} polls, median ${percentile(latencies, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
      );
      for (const answer of settled) {
        expect(answer.status).toBe(400);
        expect(answer.error).toMatchObject({ kind: ErrorKind.BadRequest, retryable: false, message: expect.stringMatching(TOO_DEEP) });
      }
      expect(latencies.length).toBeGreaterThan(50);
      // The bound is 50 ms on a quiet machine (the printed figure); the assertion leaves room for a loaded
      // CI box and still fails on the old parse-everything path (p99 996–2064 ms).
      expect(p99).toBeLessThanOrEqual(250);
      expect(errorLines(log.text())).toEqual([]);
    } finally {
      await relay.stop();
    }
  }, 120_000);

  it('refuses a nested body inside a socket publish with a typed bad_request; that connection and the relay keep serving', async () => {
    const relay = await relayWithLog();
    // A version-2 client: its own publishes come back live too.
    const bob = await connectClient(relay.url, await tokenFor('bob', ['party:*']), { protocol: 2 });
    const live = collectMessages(bob);
    expectOk(await request(bob, 'room:join', { room: 'party:deep' }));
    expectOk(await publish(bob, 'party:deep', [{ id: 'bob-1' }]));
    const raw = await rawConnection(relay.url, await tokenFor('ana', ['party:*']));
    try {
      raw.send(publishFrame(1, 'deep-1', DEEP));
      expect(await raw.ack(1)).toMatchObject({ ok: false, error: { kind: ErrorKind.BadRequest, retryable: false, message: expect.stringMatching(TOO_DEEP) } });
      // Without an ack id the refusal comes as relay:error.
      raw.send(publishFrame('', 'deep-2', DEEP));
      const event = await waitFor(() => raw.frames.find((f) => f.startsWith(`42["${ServerEvent.Error}"`)), 'relay:error');
      expect((JSON.parse(event.slice(2)) as [string, WireError])[1]).toMatchObject({ kind: ErrorKind.BadRequest, message: expect.stringMatching(TOO_DEEP) });
      // The same connection publishes next, and another member gets it; bob is served as before.
      raw.send(publishFrame(2, 'ana-1', JSON.stringify(JSON.stringify({ text: 'still here' }))));
      expect(await raw.ack(2)).toMatchObject({ ok: true, results: [{ seq: 2 }] });
      expectOk(await publish(bob, 'party:deep', [{ id: 'bob-2' }]));
      await waitFor(() => live.length === 3, 'bob to get every message');
      expect(live.map((m) => m.id)).toEqual(['bob-1', 'ana-1', 'bob-2']);
      expect(relay.errorLines()).toEqual([]);
    } finally {
      raw.socket.close();
      bob.close();
    }
  });

  it('charges HTTP publishes before parsing their bodies, and HTTP reads like socket reads: 429 with Retry-After', async () => {
    // A budget of 100 (no less than a batch) that hardly refills during the test.
    const relay = await relayWithLog({ rateLimit: { perSecond: 1, burst: 100 } });
    // Each 1.1 MB body costs 17 (what the 64 KiB bodies it could carry would): past 5, refused unparsed.
    const floods = [];
    for (let i = 0; i < 10; i++) floods.push(await answerOf(await postMessages(relay.url, DEEP)));
    expect(floods.map((a) => a.status)).toEqual([400, 400, 400, 400, 400, 429, 429, 429, 429, 429]);
    for (const answer of floods.slice(5)) {
      expect(answer.error).toMatchObject({ kind: ErrorKind.RateLimited, retryable: true });
      expect(answer.error!.retryAfterMs).toBeGreaterThan(0);
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    }

    const ana = await tokenFor('ana', ['party:*']);
    const read = (path: string, token = ana) => fetch(`${relay.url}/v1/rooms/party:deep/${path}`, { headers: { authorization: `Bearer ${token}` } }).then(answerOf);
    const pages = await Promise.all(Array.from({ length: 150 }, () => read('messages?last=10')));
    const served = pages.filter((a) => a.status === 200).length;
    const limited = pages.filter((a) => a.status === 429);
    console.log(`[HTTP reads] 150 pages at once: ${served} served, ${limited.length} refused with 429`);
    expect(served).toBeGreaterThanOrEqual(100);
    expect(limited.length).toBeGreaterThanOrEqual(40);
    expect(limited[0]!.error).toMatchObject({ kind: ErrorKind.RateLimited, retryable: true });
    expect(Number(limited[0]!.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await read('presence')).status).toBe(429);
    // Another caller from the same address has its own budget.
    expect((await read('messages?last=10', await tokenFor('bob', ['party:*']))).status).toBe(200);
    expect(relay.errorLines()).toEqual([]);
  });

  it('logs no error for a request cut off mid-body or an unparsable target, and keeps serving', async () => {
    const relay = await relayWithLog();
    const port = Number(new URL(relay.url).port);
    const serverSides: Socket[] = [];
    relay.relay.httpServer.on('connection', (tcp: Socket) => serverSides.push(tcp));
    /** Sends raw bytes; resolves with what came back once the relay closed the connection. */
    const sendRaw = (text: string) =>
      new Promise<string>((resolve) => {
        const tcp = connect(port, '127.0.0.1', () => tcp.write(text));
        let answer = '';
        tcp.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        tcp.on('close', () => resolve(answer));
        tcp.on('error', () => undefined);
      });
    // Declares 100 kB, sends a few bytes, goes away.
    const cut = connect(port, '127.0.0.1');
    cut.write(`POST /v1/rooms/party:deep/messages HTTP/1.1\r\nhost: relay\r\nauthorization: Bearer ${API_KEY}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"type":"c`);
    await waitFor(() => serverSides.length === 1, 'the relay to accept the connection');
    await waitFor(() => relay.relay.httpServer.listenerCount('request') > 0 && serverSides[0]!.bytesRead > 0, 'the relay to read the partial request');
    cut.destroy();
    await waitFor(() => serverSides[0]!.destroyed, 'the relay to see the connection closed');
    expect((await postMessages(relay.url, JSON.stringify({ type: 'chat', body: { text: 'after the cut' } }))).status).toBe(201);
    expect(relay.errorLines()).toEqual([]);
    const unparsable = await sendRaw('GET http://[/v1/rooms/x/messages HTTP/1.1\r\nhost: relay\r\nconnection: close\r\n\r\n');
    expect(unparsable).toMatch(/^HTTP\/1\.1 404/);
    expect((await postMessages(relay.url, JSON.stringify({ type: 'chat', body: { text: 'fine' } }))).status).toBe(201);
    expect(relay.errorLines()).toEqual([]);
  });
});
