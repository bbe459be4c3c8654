/**
 * The room feed on standalone Redis: the append step publishes each append's new messages (never a
 * duplicate's), in seq order, for other relays; a relay drops feed messages it cannot read and
 * keeps delivering.
 */
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { RoomMessagesEvent } from '@partyline/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RelayOptions } from '../src/index.js';
import { parseFeedBatch, type FeedBatch } from '../src/room-feed.js';
import { collectMessages, connectClient, expectOk, publish, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
const sockets: ClientSocket[] = [];
const relays: RunningRelay[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(relays.splice(0).map((running) => running.relay.close()));
});

/** Two relays on the test Redis (the second with `optionsB` too), closed after the test. */
async function twoRelays(keyPrefix: string, optionsB: Partial<RelayOptions> = {}): Promise<[RunningRelay, RunningRelay]> {
  const pair = await Promise.all([startRelay({ redisUrl: redis.url, redisKeyPrefix: keyPrefix }), startRelay({ redisUrl: redis.url, redisKeyPrefix: keyPrefix, ...optionsB })]);
  relays.push(...pair);
  return pair;
}

/** A member of room `r` on `relay`: its socket, and every message it receives. */
async function member(relay: RunningRelay, sub: string): Promise<{ socket: ClientSocket; received: ReturnType<typeof collectMessages> }> {
  const socket = await connectClient(relay.url, await tokenFor(sub, ['r']));
  sockets.push(socket);
  const received = collectMessages(socket);
  expectOk(await request(socket, 'room:join', { room: 'r' }));
  return { socket, received };
}

describe('room feed', () => {
  it('carries every append’s new messages once, in seq order, with the id before them', async () => {
    const store = createRedisStore({ url: redis.url, keyPrefix: 'feed1:', feed: { channel: 'feed1:feed', origin: 'relay-a' } });
    const subscriber = new Redis(redis.url);
    const batches: FeedBatch[] = [];
    subscriber.on('message', (_channel: string, text: string) => batches.push(parseFeedBatch(text)!));
    await subscriber.subscribe('feed1:feed');
    try {
      const message = (id: string, body = `{"n":"${id}"}`) => ({ id, type: 'chat', body, sender: 'ana' });
      await store.append('room', [message('a'), message('b')]);
      await store.append('room', [message('b'), message('c', 'quote " backslash \\ ünïcode 🎉')]); // b is a duplicate
      await store.append('room', [message('a')]); // only a duplicate: nothing to publish
      await waitFor(() => batches.length >= 2, 'two feed messages');
      expect(batches).toHaveLength(2);
      expect(batches.map((batch) => batch.messages.map((m) => [m.seq, m.id]))).toEqual([[[1, 'a'], [2, 'b']], [[3, 'c']]]);
      expect(batches[0]).toMatchObject({ origin: 'relay-a', room: 'room', previousId: undefined });
      expect(batches[1]).toMatchObject({ origin: 'relay-a', room: 'room', previousId: 'b', epoch: batches[0]!.epoch });
      expect(batches[1]!.messages[0]).toMatchObject({ body: 'quote " backslash \\ ünïcode 🎉', sender: 'ana', type: 'chat' });
      // What the feed carries is what the log holds.
      const page = await store.read('room', 0, 10);
      expect(page.messages).toEqual(batches.flatMap((batch) => batch.messages));
    } finally {
      subscriber.disconnect();
      await store.close();
    }
  });

  it('reads nothing but a well-formed batch', () => {
    const good = '{"e":"e","p":"","m":[[1,"a","t","b","s",1]]}';
    expect(parseFeedBatch(`x\nroom\n${good}`)).toMatchObject({ origin: 'x', room: 'room', epoch: 'e', messages: [{ seq: 1, id: 'a' }] });
    for (const text of ['', 'null', good, `x\n${good}`, `\nroom\n${good}`, `x\n\n${good}`, 'x\nroom\n[]', 'x\nroom\n{"e":"e","p":"","m":[]}', 'x\nroom\n{"e":"e","p":"","m":[[1,"a","t","b","s"]]}', 'x\nroom\n{"e":1}', 'x\nroom\n{"e":"e","p":"","m":[["1","a","t","b","s",1]]}']) {
      expect(parseFeedBatch(text)).toBeUndefined();
    }
  });

  it('a relay drops feed messages it cannot read and keeps delivering the room', async () => {
    const warnings: string[] = [];
    const [relayA, relayB] = await twoRelays('pl:', { logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }) });
    const raw = new Redis(redis.url);
    try {
      const { received } = await member(relayB, 'watcher');
      for (const junk of ['not json', 'x\nr\nnot json', 'x\nr\n{"e":"e","p":"","m":[[1]]}', `x\nr\n${JSON.stringify({ e: 'e', p: '', m: 'x'.repeat(10_000) })}`]) await raw.publish('pl:feed', junk);
      // A member of the publishing relay gets each message once: from the append's reply, not again from the feed.
      const { received: receivedLocally } = await member(relayA, 'local');
      const { socket: sender } = await member(relayA, 'ana');
      expectOk(await publish(sender, 'r', [{ id: 'after-junk' }]));
      expectOk(await publish(sender, 'r', [{ id: 'second' }]));
      await waitFor(() => received.length === 2 && receivedLocally.length >= 2, 'both messages on both relays');
      expectOk(await publish(sender, 'r', [{ id: 'third' }]));
      await waitFor(() => received.length === 3 && receivedLocally.length >= 3, 'the third message on both relays');
      expect(received.map((m) => [m.seq, m.id])).toEqual([[1, 'after-junk'], [2, 'second'], [3, 'third']]);
      expect(receivedLocally.map((m) => [m.seq, m.id])).toEqual([[1, 'after-junk'], [2, 'second'], [3, 'third']]);
      expect(warnings.filter((line) => line.includes('dropped a malformed room feed message'))).toHaveLength(4);
    } finally {
      raw.disconnect();
    }
  });

  it('after its feed subscription was cut, a relay sends its rooms their newest message again, so a member that missed the tail catches up', async () => {
    const [relayA, relayB] = await twoRelays('cut:');
    const raw = new Redis(redis.url);
    try {
      const { socket: watcher, received } = await member(relayB, 'watcher');
      const events: RoomMessagesEvent[] = [];
      watcher.on('room:messages', (event: RoomMessagesEvent) => events.push(event));
      const { socket: sender } = await member(relayA, 'ana');
      expectOk(await publish(sender, 'r', [{ id: 'before-cut' }]));
      await waitFor(() => received.length === 1, 'the first message on relay B');
      // Every pub/sub connection is dropped; they reconnect after their backoff (≥ 100 ms). Published
      // meanwhile, the last message of the room reaches relay B through nothing live.
      await raw.client('KILL', 'TYPE', 'pubsub');
      expectOk(await publish(sender, 'r', [{ id: 'during-cut' }]));
      await waitFor(() => received.length === 2, 'the missed message on relay B, sent again once its feed is back');
      expect(received.map((m) => [m.seq, m.id])).toEqual([[1, 'before-cut'], [2, 'during-cut']]);
      // Linked to the message before it, so a member whose history no longer matches the log can tell.
      expect(events.at(-1)?.links).toEqual([{ seq: 1, id: 'before-cut' }]);
    } finally {
      raw.disconnect();
    }
  });

  it('after Redis itself restarted, a relay sends its rooms their newest message again once its store answers', async () => {
    const [relayA, relayB] = await twoRelays('restart:');
    const { received } = await member(relayB, 'watcher');
    const { socket: sender } = await member(relayA, 'ana');
    expectOk(await publish(sender, 'r', [{ id: 'before-restart' }]));
    await waitFor(() => received.length === 1, 'the message on relay B');
    // Both the feed subscription and the store reconnect, each on its own backoff; the re-send waits for the store.
    await redis.restart();
    await waitFor(() => received.length === 2, 'the newest message again after the restart', 15_000);
    expect(received.map((m) => [m.seq, m.id])).toEqual([[1, 'before-restart'], [1, 'before-restart']]);
  });
});
