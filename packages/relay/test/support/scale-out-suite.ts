import type { LogMessage } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RelayOptions } from '../../src/index.js';
import {
  collectMessages,
  connectClient,
  expectOk,
  publish,
  request,
  startRelay,
  tokenFor,
  type ClientSocket,
  type RunningRelay,
} from './harness.js';

/** A Redis deployment for the suite: the relay options that point at it, and how to stop it. */
export interface RedisBackend {
  relayOptions: Partial<RelayOptions>;
  stop(): Promise<void>;
}

/** The scale-out suite: two relays in one process sharing one Redis deployment (standalone or Cluster). */
export function describeScaleOut(name: string, startBackend: () => Promise<RedisBackend>): void {
  let backend: RedisBackend;
  let relayA: RunningRelay;
  let relayB: RunningRelay;
  const sockets: ClientSocket[] = [];

  async function client(relay: RunningRelay, room: string, sub = 'user'): Promise<ClientSocket> {
    const socket = await connectClient(relay.url, await tokenFor(sub, [room]));
    sockets.push(socket);
    return socket;
  }

  async function subscriber(relay: RunningRelay, room: string): Promise<{ socket: ClientSocket; received: LogMessage[] }> {
    const socket = await client(relay, room, 'watcher');
    const received = collectMessages(socket);
    expectOk(await request(socket, 'room:join', { room }));
    return { socket, received };
  }

  beforeAll(async () => {
    backend = await startBackend();
    relayA = await startRelay(backend.relayOptions);
    relayB = await startRelay(backend.relayOptions);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await relayA?.relay.close();
    await relayB?.relay.close();
    await backend?.stop();
  });

  describe(`two relays sharing one ${name}`, () => {
    it('delivers a message published on relay A to a subscriber of relay B with the same seq', async () => {
      const { received } = await subscriber(relayB, 'cross');
      const sender = await client(relayA, 'cross', 'ana');
      const ack = expectOk(await publish(sender, 'cross', [{ id: 'hello-1', body: '{"text":"hi"}' }]));
      expect(ack.results).toEqual([{ id: 'hello-1', seq: 1 }]);
      await waitFor(() => received.length === 1, 'message on relay B');
      expect(received[0]).toMatchObject({ seq: 1, id: 'hello-1', body: '{"text":"hi"}', sender: 'ana', type: 'chat' });
    });

    it('appends an id sent 3× concurrently through both relays once, and acks each with the same seq', async () => {
      const room = 'dedup';
      const { received } = await subscriber(relayB, room);
      const senders = await Promise.all([client(relayA, room), client(relayB, room), client(relayA, room)]);
      const acks = await Promise.all(senders.map((socket) => publish(socket, room, [{ id: 'same-id' }])));
      const seqs = acks.map((ack) => {
        const result = expectOk(ack).results[0];
        return result && 'seq' in result ? result.seq : undefined;
      });
      expect(new Set(seqs)).toEqual(new Set([1]));
      expect(acks.filter((ack) => ack.ok && ack.results[0] && 'duplicate' in ack.results[0])).toHaveLength(2);

      // A later message proves the subscriber saw everything sent before it: the duplicate came once.
      expectOk(await publish(senders[0]!, room, [{ id: 'after' }]));
      await waitFor(() => received.some((m) => m.id === 'after'), 'sentinel message');
      expect(received.map((m) => m.id)).toEqual(['same-id', 'after']);
      const log = expectOk(await request<{ messages: LogMessage[] }>(senders[1]!, 'room:read', { room, since: 0 }));
      expect(log.messages.map((m) => [m.seq, m.id])).toEqual([[1, 'same-id'], [2, 'after']]);
    });

    it('gives 50 concurrent publishers × 20 messages over two relays seq 1..1000 with no gap, the same on every subscriber', async () => {
      const room = 'crowd';
      const subscribers = await Promise.all([subscriber(relayA, room), subscriber(relayA, room), subscriber(relayB, room), subscriber(relayB, room)]);
      const publishers = await Promise.all(Array.from({ length: 50 }, (_, i) => client(i % 2 ? relayA : relayB, room, `p${i}`)));
      const acked = new Map<string, number>();
      await Promise.all(
        publishers.map(async (socket, p) => {
          for (let n = 0; n < 20; n++) {
            const id = `p${p}-m${n}`;
            const result = expectOk(await publish(socket, room, [{ id }])).results[0]!;
            if (!('seq' in result)) throw new Error(`publish ${id} failed: ${result.error.kind}`);
            acked.set(id, result.seq);
          }
        }),
      );
      expect([...acked.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));

      for (const { received } of subscribers) await waitFor(() => received.length >= 1000, '1000 messages at every subscriber');
      const views = subscribers.map(({ received }) => received.map((m) => `${m.seq}:${m.id}`).sort());
      for (const view of views) {
        expect(view).toHaveLength(1000);
        expect(view).toEqual(views[0]);
      }
      for (const message of subscribers[0]!.received) expect(acked.get(message.id)).toBe(message.seq);
    });

    it('catches a subscriber up from the log after a disconnect, page by page, on the other relay', async () => {
      const room = 'catch-up';
      const sender = await client(relayA, room);
      expectOk(await publish(sender, room, [{ id: 'before-1' }, { id: 'before-2' }]));

      const first = await subscriber(relayB, room);
      const joined = expectOk(await request<{ headSeq: number; epoch: string }>(first.socket, 'room:join', { room, since: 0 }));
      const lastSeq = joined.headSeq;
      first.socket.close();

      const missed = Array.from({ length: 30 }, (_, i) => ({ id: `missed-${i}` }));
      expectOk(await publish(sender, room, missed));

      const back = await client(relayA, room, 'watcher');
      const live = collectMessages(back);
      const page = expectOk(await request<{ messages: LogMessage[]; hasMore: boolean; epoch: string }>(back, 'room:join', { room, since: lastSeq, limit: 10 }));
      expect(page.epoch).toBe(joined.epoch);
      const caughtUp = [...page.messages];
      let more = page.hasMore;
      while (more) {
        const next = expectOk(await request<{ messages: LogMessage[]; hasMore: boolean }>(back, 'room:read', { room, since: caughtUp.at(-1)!.seq, limit: 10 }));
        caughtUp.push(...next.messages);
        more = next.hasMore;
      }
      expect(caughtUp.map((m) => m.id)).toEqual(missed.map((m) => m.id));
      expect(caughtUp.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => lastSeq + 1 + i));

      // And after catching up, live messages flow to the rejoined socket.
      expectOk(await publish(sender, room, [{ id: 'live-after' }]));
      await waitFor(() => live.some((m) => m.id === 'live-after'), 'live message after catch-up');
    });
  });
}
