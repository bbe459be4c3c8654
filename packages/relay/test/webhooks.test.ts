/**
 * Webhooks, at least once, across crashes: two relay processes over a real Redis send
 * `message.appended` to a receiver on loopback that refuses its first attempts; messages are
 * published over HTTP, each request retried 3× with the same Idempotency-Key, while one relay is
 * SIGKILLed and restarted. Every appended message must reach the receiver as exactly one distinct
 * event id with a valid signature (possibly delivered more than once), none missing, and the log
 * must hold each message once. WEBHOOK_MESSAGES sets the count (10,000 for the README figure).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerClient, verifyWebhook, type MessageAppendedEvent } from '../src/index.js';
import { startRelayProcess, type RelayProcess } from './support/relay-process.js';
import { connectClient, expectOk, request, TEST_SECRET, tokenFor } from './support/harness.js';

const COUNT = Number(process.env.WEBHOOK_MESSAGES ?? 500);
const API_KEY = 'webhook-test-key-webhook-test-key-01';
const WEBHOOK_SECRET = `whsec_${Buffer.from('webhook-secret-webhook-secret-32b').toString('base64')}`;

let redis: RedisServer;
let receiver: Server;
let receiverUrl: string;
const ids = new Map<string, number>(); // event id → deliveries
const bad: string[] = [];
let attempts = 0;
let refusedOnPurpose = 0;
const seqsSeen = new Set<number>();
const events: { id: string; type: string; room: string; sub?: string }[] = [];

beforeAll(async () => {
  redis = await startRedis();
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      attempts++;
      // Refuse the first message events, and every 7th attempt: the relays must retry. (Not more in a
      // row: an event failing 8 times is dead-lettered, and the waits grow to minutes by then.)
      if ((attempts <= 6 && body.includes('"message.appended"')) || attempts % 7 === 0) {
        refusedOnPurpose++;
        return response.writeHead(503).end();
      }
      const check = verifyWebhook(WEBHOOK_SECRET, request.headers, body);
      if (!check.ok) bad.push(check.reason!);
      const id = request.headers['webhook-id'] as string;
      ids.set(id, (ids.get(id) ?? 0) + 1);
      const event = JSON.parse(body) as { type: string; data: { room: string; seq?: number; member?: { sub: string } } };
      if (event.type === 'message.appended') seqsSeen.add((event as MessageAppendedEvent).data.seq);
      if (!events.some((seen) => seen.id === id)) events.push({ id, type: event.type, room: event.data.room, ...(event.data.member ? { sub: event.data.member.sub } : {}) });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
}, 30_000);
afterAll(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
  await redis?.stop();
});

describe('webhooks across relay crashes', () => {
  it('delivers one distinct, signed event per appended message, none missing, while a relay is SIGKILLed and HTTP publishes are retried', async () => {
    const args = ['--redis-url', redis.url, '--token-secret', TEST_SECRET, '--api-keys', API_KEY, '--webhook-url', receiverUrl, '--webhook-secret', WEBHOOK_SECRET, '--user-rate-limit', '0'];
    let relayA: RelayProcess = await startRelayProcess(args);
    const relayB = await startRelayProcess(args);
    try {
      const rooms = ['party:w1', 'party:w2', 'party:w3'];
      let published = 0;
      const publishAll = async (worker: number) => {
        for (let n = worker; n < COUNT; n += 4) {
          const room = rooms[n % rooms.length]!;
          // Each request sent 3× (a client retrying after timeouts), alternating relays; a dead relay's
          // attempt fails and the next one goes to the other.
          let done = false;
          for (let attempt = 0; attempt < 3 || !done; attempt++) {
            const url = (n + attempt) % 2 ? relayB.url : relayA.url;
            const client = createServerClient({ url, credential: API_KEY, timeoutMs: 5_000 });
            const ok = await client.publish(room, { type: 'chat', body: { n } }, { idempotencyKey: `msg-${n}` }).then(() => true, () => false);
            done ||= ok;
            if (attempt > 20) throw new Error(`message ${n} could not be published`);
          }
          published++;
        }
      };
      const publishing = Promise.all([0, 1, 2, 3].map(publishAll));
      // Mid-run: SIGKILL relay A (no drain), restart it.
      await waitFor(() => published >= COUNT / 3, 'a third published', 120_000, 20);
      await relayA.child.kill('SIGKILL');
      await new Promise((resolve) => relayA.child.once('exit', resolve));
      relayA = await startRelayProcess(args);
      await publishing;

      const server = createServerClient({ url: relayB.url, credential: API_KEY });
      let appended = 0;
      for (const room of rooms) appended += (await server.history(room, { last: 1 })).headSeq;
      expect(appended).toBe(COUNT);
      await waitFor(() => ids.size >= COUNT || (console.log(`[webhooks] waiting: ${ids.size} ids, ${attempts} attempts`), false), `all ${COUNT} events at the receiver`, 120_000, 2_000);
      const repeats = [...ids.values()].filter((n) => n > 1).length;
      console.log(
        `[webhooks] ${COUNT} messages, ${appended} appended; receiver: ${ids.size} distinct event ids, ${repeats} delivered more than once, ${refusedOnPurpose} attempts refused on purpose, ${bad.length} bad signatures`,
      );
      expect(ids.size).toBe(COUNT);
      expect(bad).toEqual([]);
      // A body changed on the way is caught by the helper.
      const forged = verifyWebhook(WEBHOOK_SECRET, { 'webhook-id': 'x', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' }, '{}');
      expect(forged).toEqual({ ok: false, reason: 'signature mismatch' });
    } finally {
      await relayA.stop();
      await relayB.stop();
    }
  }, 240_000);

  it('sends presence events and room.occupied / room.vacated, also when the member’s relay is SIGKILLed and another relay sweeps it', async () => {
    const args = ['--redis-url', redis.url, '--token-secret', TEST_SECRET, '--webhook-url', receiverUrl, '--webhook-secret', WEBHOOK_SECRET];
    const [relayA, relayB] = await Promise.all([startRelayProcess(args), startRelayProcess(args)]);
    try {
      const room = 'party:presence-hooks';
      const member = await connectClient(relayA.url, await tokenFor('ana', ['party:*']));
      expectOk(await request(member, 'presence:enter', { room, data: '{"name":"Ana"}' }));
      await waitFor(() => events.some((e) => e.room === room && e.type === 'room.occupied'), 'room.occupied', 30_000, 50);
      relayA.child.kill('SIGKILL');
      await waitFor(() => events.some((e) => e.room === room && e.type === 'room.vacated'), 'room.vacated after relay A died', 60_000, 100);
      member.close();
      const seen = events.filter((e) => e.room === room).map((e) => `${e.type}${e.sub ? `:${e.sub}` : ''}`);
      console.log(`[webhooks] presence events: ${seen.join(', ')}`);
      expect(seen).toEqual(['presence.joined:ana', 'room.occupied', 'presence.left:ana', 'room.vacated']);
    } finally {
      await relayA.stop();
      await relayB.stop();
    }
  }, 120_000);
});
