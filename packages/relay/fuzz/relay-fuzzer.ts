import { ErrorKind, PROTOCOL_VERSION, WireErrorSchema, type LogMessage } from '@partyline/protocol';
import { startRedis } from '@partyline/test-support';
import { setPriority } from 'node:os';
import fc from 'fast-check';
import * as v from 'valibot';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { signAccessToken } from '@partyline/server';
import { startRelayProcess, type RelayProcess } from '../test/support/relay-process.js';
import { monitorRelays, type RelayVitals } from './relay-monitor.js';

export const FUZZ_SECRET = 'fuzz-secret-fuzz-secret-fuzz-secret!';
const ROOMS = ['fuzz-0', 'fuzz-1', 'fuzz-2'];
const KNOWN_KINDS = new Set<string>(Object.values(ErrorKind));
const CONNECTION_WAVE = 100;
const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

export interface FuzzOptions {
  /** Inputs to try in all (split over the categories). */
  inputs: number;
  seed: number;
  onProgress?: (stats: FuzzStats) => void;
}

export interface FuzzStats {
  tried: number;
  byCategory: Record<'event' | 'raw-frame' | 'deep-json' | 'token' | 'flood' | 'connection-flood', number>;
  accepted: number;
  typedRejections: number;
  /** Answers that were neither a success nor a typed error: must stay 0. */
  untypedRejections: number;
  /** Connections the relay closed (malformed frames, oversized packets): allowed. */
  closedConnections: number;
  /** Relay processes that died or stopped answering /healthz: must stay 0. */
  crashes: number;
  logsChecked: number;
  /** Room logs with a gap, a duplicate id, a malformed entry or a lost acked message: must stay 0. */
  corruptLogs: number;
  /** The relays' longest event-loop stall and their memory over the run. */
  vitals?: RelayVitals;
}

type AnySocket = Socket & { timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> } };

const deep = fc.integer({ min: 50, max: 3000 }).map((depth) => {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { nested: value };
  return value;
});
const huge = fc.integer({ min: 60_000, max: 200_000 }).map((n) => 'x'.repeat(n));
const room = fc.oneof(fc.constantFrom(...ROOMS), fc.string({ maxLength: 140 }), fc.constantFrom('', '{tag}', 'a*', '   ', 'x'.repeat(200)));
const body = fc.oneof(fc.string({ maxLength: 200 }), fc.json(), fc.anything(), huge, deep);
const message = fc.record(
  { id: fc.oneof(fc.uuid(), fc.constantFrom('dup-1', 'dup-2'), fc.string({ maxLength: 200 }), fc.anything()), type: fc.oneof(fc.constant('chat'), fc.string({ maxLength: 80 })), body },
  { requiredKeys: [] },
);
const payload = fc.oneof(
  fc.record({ room, messages: fc.oneof(fc.array(message, { maxLength: 120 }), fc.anything()) }, { requiredKeys: [] }),
  fc.record({ room, since: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.nat()), limit: fc.anything() }, { requiredKeys: [] }),
  fc.record({ room, type: fc.string(), body }, { requiredKeys: [] }),
  fc.anything(),
  deep,
);
const eventName = fc.oneof(
  fc.constantFrom('room:join', 'room:read', 'room:publish', 'room:leave', 'room:signal'),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'relay:error', 'room:messages'),
);
const event = fc.record({ name: eventName, payload });
const rawFrame = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.constantFrom('1', '2', '3', '4', '40', '41', '42', '43', '44', '45', '46', '6', '42[', '42["room:publish"', '451-["room:publish",{"_placeholder":true,"num":0}]'),
  fc.tuple(fc.constantFrom('42', '421', '4299999', '43', '4/', '2', '0'), fc.json()).map(([prefix, json]) => prefix + json),
  fc.tuple(eventName, payload).map(([name, data]) => `42${JSON.stringify([name, data])}`),
  fc.uint8Array({ maxLength: 2000 }),
);
/**
 * JSON nested up to 150,000 deep (under 1 MB, so it fits a frame after auth), as a whole HTTP body,
 * as a message body (in a socket frame or an HTTP body), or hidden in a string (then it is just text).
 */
const nestedJson = fc
  .record({ depth: fc.oneof(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 150_000 })), shape: fc.constantFrom('[', '{"a":', '[{"k":'), where: fc.constantFrom('whole', 'body', 'string') })
  .map(({ depth, shape, where }) => {
    const closing = shape === '[' ? ']' : shape === '{"a":' ? '}' : '}]';
    const text = shape.repeat(depth) + (shape === '[' ? '' : '0') + closing.repeat(depth);
    return { where, text: where === 'string' ? JSON.stringify(text) : text };
  });
const claims = fc.record({ sub: fc.anything(), rooms: fc.oneof(fc.array(fc.string()), fc.anything()), exp: fc.oneof(fc.integer(), fc.anything()) }, { requiredKeys: [] });

function isTyped(answer: unknown): 'ok' | 'typed' | 'untyped' {
  if (typeof answer !== 'object' || answer === null) return 'untyped';
  const ack = answer as { ok?: unknown; error?: unknown };
  if (ack.ok === true) return 'ok';
  return ack.ok === false && v.is(WireErrorSchema, ack.error) && KNOWN_KINDS.has((ack.error as { kind: string }).kind) ? 'typed' : 'untyped';
}

/**
 * A bare WebSocket speaking Socket.IO past its CONNECT (so frames up to the post-auth limit are read):
 * each request resolves with its ack, or undefined once the connection is closed.
 */
async function rawRequester(url: string, auth: object): Promise<{ request(frame: (id: number) => string): Promise<unknown>; close(): void }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const waiting = new Map<number, (answer: unknown) => void>();
  let nextId = 0;
  const closed = Symbol('closed');
  const opened = new Promise<boolean>((resolve) => {
    ws.on('error', () => {});
    ws.on('close', () => {
      resolve(false);
      for (const settle of waiting.values()) settle(closed);
    });
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text === '2') ws.send('3');
      else if (text.startsWith('0{')) ws.send(`40${JSON.stringify(auth)}`);
      else if (text.startsWith('40{')) resolve(true);
      const ack = /^43(\d+)/.exec(text);
      if (ack) waiting.get(Number(ack[1]))?.((JSON.parse(text.slice(ack[0].length)) as unknown[])[0]);
    });
  });
  await opened;
  return {
    request(frame) {
      if (ws.readyState !== WebSocket.OPEN) return Promise.resolve(undefined);
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, (answer) => {
          waiting.delete(id);
          resolve(answer === closed ? undefined : answer);
        });
        ws.send(frame(id));
      });
    },
    close: () => ws.close(),
  };
}

function connect(url: string, auth: object): Promise<{ socket?: AnySocket; refusal?: unknown; closedAtTransport?: true }> {
  const socket = io(url, { transports: ['websocket'], auth, reconnection: false, forceNew: true }) as AnySocket;
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (error) => {
      socket.close();
      const data = (error as Error & { data?: unknown }).data;
      // Refused before any Socket.IO exchange (the per-address session limit answers at the HTTP
      // upgrade): a closed door, not an untyped answer.
      resolve(data === undefined && /websocket error|xhr poll error/.test((error as Error).message) ? { closedAtTransport: true } : { refusal: data });
    });
  });
}

/** Starts Redis and two relay processes (lenient and default limits), fuzzes them, checks them. */
export async function runFuzz({ inputs, seed, onProgress }: FuzzOptions): Promise<FuzzStats> {
  const stats: FuzzStats = {
    tried: 0,
    byCategory: { event: 0, 'raw-frame': 0, 'deep-json': 0, token: 0, flood: 0, 'connection-flood': 0 },
    accepted: 0,
    typedRejections: 0,
    untypedRejections: 0,
    closedConnections: 0,
    crashes: 0,
    logsChecked: 0,
    corruptLogs: 0,
  };
  const count = (category: keyof FuzzStats['byCategory'], answer: 'ok' | 'typed' | 'untyped' | 'closed' | 'none') => {
    stats.tried++;
    stats.byCategory[category]++;
    if (answer === 'ok') stats.accepted++;
    else if (answer === 'typed') stats.typedRejections++;
    else if (answer === 'untyped') stats.untypedRejections++;
    else if (answer === 'closed') stats.closedConnections++;
    if (stats.tried % 500 === 0) onProgress?.(stats);
  };

  const redis = await startRedis();
  const relays: RelayProcess[] = [];
  const acked = new Map<string, Map<string, number>>(ROOMS.map((name) => [name, new Map()]));
  try {
    const common = ['--redis-url', redis.url, '--token-secret', FUZZ_SECRET, '--metrics-public'];
    const lenient = await startRelayProcess([...common, '--rate-limit', '1000000', '--rate-burst', '1000000', '--user-rate-limit', '0', '--connect-rate', '100000']);
    const strict = await startRelayProcess([...common, '--connect-rate', '50']);
    relays.push(lenient, strict);
    const monitor = monitorRelays(relays);
    // The relays and Redis run at normal priority, the fuzzer below them: on a small machine its own
    // CPU use (encoding and masking thousands of frames) would otherwise count as the relays' stall.
    setPriority(19);
    const token = await signAccessToken({ sub: 'fuzzer', rooms: ['*'] }, FUZZ_SECRET);
    const auth = { token, protocol: PROTOCOL_VERSION };
    const alive = async () => {
      for (const relay of relays) {
        const healthy = relay.child.exitCode === null && (await fetch(`${relay.url}/healthz`).then((r) => r.ok, () => false));
        if (!healthy) stats.crashes++;
      }
    };

    // Each category in two passes: a small warm-up, after which the relays' memory is taken as the
    // start (a relay's working set after its first connections: JIT code, pools, heap spaces), then
    // the rest. A leak grows with the inputs, so it shows over the main pass.
    const pass = async (label: string, share: number, passSeed: number) => {
      monitor.phase(label + 'events');
      // 1. Arbitrary events and payloads over Socket.IO, with acks.
      const eventInputs = fc.sample(event, { numRuns: Math.ceil(share * 0.5), seed: passSeed });
      let socket = (await connect(lenient.url, auth)).socket!;
      for (let i = 0; i < eventInputs.length; i += 32) {
        const chunk = eventInputs.slice(i, i + 32).filter((input) => !RESERVED.has(input.name));
        if (!socket.connected) socket = (await connect(lenient.url, auth)).socket!;
        const current = socket;
        await Promise.all(
          chunk.map(async ({ name, payload: data }) => {
            let answer: unknown;
            try {
              answer = await current.timeout(5000).emitWithAck(name, data);
            } catch {
              return count('event', current.connected ? 'untyped' : 'closed');
            }
            const verdict = isTyped(answer);
            count('event', verdict);
            const results = (answer as { results?: { id: string; seq?: number }[] }).results;
            const target = (data as { room?: string } | undefined)?.room;
            if (verdict === 'ok' && name === 'room:publish' && results && typeof target === 'string' && acked.has(target)) {
              for (const result of results) if (result.seq !== undefined) acked.get(target)!.set(result.id, result.seq);
            }
          }),
        );
      }
      socket.close();
      await alive();

      monitor.phase(label + 'raw frames');
      // 2. Raw Engine.IO / Socket.IO frames on a bare WebSocket.
      const frames = fc.sample(rawFrame, { numRuns: Math.ceil(share * 0.3), seed: passSeed + 1 });
      const wsUrl = `${lenient.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
      for (let i = 0; i < frames.length; i += 25) {
        const ws = new WebSocket(wsUrl);
        const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
        ws.on('error', () => {});
        await new Promise<void>((resolve) => {
          ws.once('open', () => resolve());
          ws.once('close', () => resolve());
        });
        if (ws.readyState === WebSocket.OPEN) ws.send(`40${JSON.stringify(auth)}`);
        for (const frame of frames.slice(i, i + 25)) {
          if (ws.readyState !== WebSocket.OPEN) count('raw-frame', 'closed');
          else {
            ws.send(frame);
            count('raw-frame', 'none');
            // Let the relay answer (or close on a malformed frame) before the next one.
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
        ws.close();
        await closed;
      }
      await alive();

      monitor.phase(label + 'deep json');
      // 3. Nested JSON from an authenticated caller, over the socket (each request must get a typed
      // ack) and over the HTTP API (each a typed error or a success), up to the frame limit in size.
      const nested = fc.sample(nestedJson, { numRuns: Math.ceil(share * 0.01), seed: passSeed + 3 });
      const requester = await rawRequester(lenient.url, auth);
      for (const [i, { where, text }] of nested.entries()) {
        const message = `{"id":"deep-${i}","type":"chat","body":${text}}`;
        const answer = await requester.request((id) => `42${id}["room:publish",{"room":"fuzz-deep","messages":[${message}]}]`);
        count('deep-json', answer === undefined ? 'closed' : isTyped(answer));
        const response = await fetch(`${lenient.url}/v1/rooms/fuzz-deep/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `deep-${i}` },
          body: where === 'whole' ? text : message.replace(`"id":"deep-${i}",`, ''),
        });
        const reply = (await response.json().catch(() => undefined)) as { error?: unknown } | undefined;
        const typed = response.status < 500 && (response.ok || (v.is(WireErrorSchema, reply?.error) && KNOWN_KINDS.has((reply!.error as { kind: string }).kind)));
        count('deep-json', response.ok ? 'ok' : typed ? 'typed' : 'untyped');
      }
      requester.close();
      await alive();

      monitor.phase(label + 'tokens');
      // 4. Tokens: random claims signed right, forged, alg none, garbage.
      const tokenInputs = fc.sample(fc.tuple(claims, fc.constantFrom('signed', 'forged', 'none', 'garbage'), fc.string()), { numRuns: Math.ceil(share * 0.05), seed: passSeed + 2 });
      for (const [claimSet, how, garbage] of tokenInputs) {
        let candidate: unknown = garbage;
        const header = (alg: string) => Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
        const body = Buffer.from(JSON.stringify(claimSet ?? null) ?? 'null').toString('base64url');
        if (how === 'none') candidate = `${header('none')}.${body}.`;
        if (how === 'signed' || how === 'forged') {
          const { createHmac } = await import('node:crypto');
          const secret = how === 'signed' ? FUZZ_SECRET : 'wrong-secret-wrong-secret-wrong-secret';
          const signature = createHmac('sha256', secret).update(`${header('HS256')}.${body}`).digest('base64url');
          candidate = `${header('HS256')}.${body}.${signature}`;
        }
        const outcome = await connect(lenient.url, { token: candidate, protocol: PROTOCOL_VERSION });
        if (outcome.socket) {
          outcome.socket.close();
          count('token', 'ok');
        } else if (outcome.closedAtTransport) count('token', 'closed');
        else count('token', v.is(WireErrorSchema, outcome.refusal) ? 'typed' : 'untyped');
      }
      await alive();

      monitor.phase(label + 'publish flood');
      // 5. A publish flood past the default rate limit.
      const flood = (await connect(strict.url, auth)).socket!;
      const floodRuns = Math.ceil(share * 0.05);
      const batch = Array.from({ length: 100 }, (_, i) => ({ id: `flood-${i}`, type: 'chat', body: '"x"' }));
      const floodAnswers = await Promise.all(
        Array.from({ length: floodRuns }, (_, i) => flood.timeout(10_000).emitWithAck('room:publish', { room: `flood${label}`, messages: batch.map((m) => ({ ...m, id: `${m.id}-${i}` })) }).catch(() => undefined)),
      );
      for (const answer of floodAnswers) count('flood', answer === undefined ? 'closed' : isTyped(answer));
      flood.close();

      monitor.phase(label + 'connection flood');
      // 6. A connection flood past the connection rate, from one address, 100 opening at a time (the
      // stall measured is then the relay's cost per burst, not this process starving it of CPU).
      const attempts = [];
      for (let left = Math.ceil(share * 0.1); left > 0; left -= CONNECTION_WAVE) {
        attempts.push(...(await Promise.all(Array.from({ length: Math.min(left, CONNECTION_WAVE) }, () => connect(strict.url, auth)))));
      }
      for (const attempt of attempts) {
        if (attempt.socket) {
          attempt.socket.close();
          count('connection-flood', 'ok');
        } else if (attempt.closedAtTransport) count('connection-flood', 'closed');
        else count('connection-flood', v.is(WireErrorSchema, attempt.refusal) ? 'typed' : 'untyped');
      }
      await alive();

    };
    const warmUp = Math.min(Math.round(inputs / 2), Math.max(6000, Math.round(inputs * 0.1)));
    await pass('warm-up ', warmUp, seed + 100);
    monitor.startMemory();
    await pass('', inputs - warmUp, seed);
    monitor.phase('log check');
    // Room logs: gap-free, well-formed, no duplicate id, every acked publish at its seq.
    const reader = (await connect(lenient.url, auth)).socket!;
    for (const name of ROOMS) {
      const log: LogMessage[] = [];
      for (let since = 0; ; ) {
        const page = (await reader.timeout(5000).emitWithAck('room:read', { room: name, since })) as { messages: LogMessage[]; hasMore: boolean };
        log.push(...page.messages);
        if (!page.hasMore) break;
        since = page.messages.at(-1)!.seq;
      }
      stats.logsChecked++;
      const bySeq = new Map(log.map((m) => [m.seq, m.id]));
      const wellFormed = log.every((m, i) => m.seq === i + 1 && typeof m.id === 'string' && typeof m.type === 'string' && typeof m.body === 'string');
      const unique = new Set(log.map((m) => m.id)).size === log.length;
      const keptAcks = [...acked.get(name)!].every(([id, seq]) => bySeq.get(seq) === id);
      if (!wellFormed || !unique || !keptAcks) stats.corruptLogs++;
    }
    reader.close();
    stats.vitals = await monitor.stop();
  } finally {
    for (const relay of relays) await relay.stop();
    await redis.stop();
  }
  onProgress?.(stats);
  return stats;
}
