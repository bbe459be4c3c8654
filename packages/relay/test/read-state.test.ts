/**
 * Read state over sockets, on the memory store and on two relays over one real Redis: join acks carry the caller, its read
 * position and unread count, and the room's receipts only when the token grants `receipts`;
 * `pl:read` and posting move positions; `user:unread` counts per room the user read or wrote in
 * (those its token may read); `room:reads` reaches the reader's other connection on another relay
 * (over Redis and over a Redis Cluster) and receipt watchers, never a member without `receipts`.
 */
import { ErrorKind, type JoinAck, type RoomReadsEvent, type UnreadAck, type WireError } from '@partyline/protocol';
import { signAccessToken } from '@partyline/server';
import { startRedisCluster, waitFor, type RedisCluster } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, expectOk, MEMORY_OR_TWO_REDIS_RELAYS, publish, request, startRelay, TEST_SECRET, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';

type Result = { id: string; seq: number; duplicate?: boolean; noop?: boolean } | { id: string; error: WireError };

const sockets: ClientSocket[] = [];
afterAll(() => {
  for (const socket of sockets) socket.close();
});


/** A member without `receipts` (and without `moderate`). */
const viewerToken = (sub: string) => signAccessToken({ sub, grants: [{ room: 'party:*', can: ['read', 'publish', 'signal'] }] }, TEST_SECRET);

async function markRead(socket: ClientSocket, room: string, id: string, seq: number): Promise<Result> {
  return expectOk(await request<{ results: Result[] }>(socket, 'room:publish', { room, messages: [{ id, type: 'pl:read', body: JSON.stringify({ seq }) }] })).results[0]!;
}

function collectReads(socket: ClientSocket): RoomReadsEvent[] {
  const received: RoomReadsEvent[] = [];
  socket.on('room:reads', (event) => received.push(event));
  return received;
}

describe.each(MEMORY_OR_TWO_REDIS_RELAYS)('read state (%s)', (_name, setup) => {
  let relays: RunningRelay[];
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ relays, stop } = await setup());
  });
  afterAll(() => stop?.());

  async function connect(relay: number, token: string | Promise<string>): Promise<ClientSocket> {
    const socket = await connectClient(relays[relay]!.url, await token);
    sockets.push(socket);
    return socket;
  }

  it('answers a join with the caller, its read position and unread count, and receipts only with the capability', async () => {
    const room = 'party:join-reads';
    const ana = await connect(0, tokenFor('ana', ['party:*']));
    expectOk(await publish(ana, room, [{ id: 'a1' }, { id: 'a2' }, { id: 'a3' }]));
    const bob = await connect(1, tokenFor('bob', ['party:*']));
    const joined = expectOk(await request<JoinAck>(bob, 'room:join', { room, since: 0 }));
    expect(joined).toMatchObject({ caller: 'bob', read: { seq: 0, unread: 3 } });
    // Posting moved ana's position to her last message.
    expect(joined.reads).toEqual([{ sub: 'ana', seq: 3 }]);
    // pl:read moves it (never past the head), acked as noop; the next join says so.
    expect(await markRead(bob, room, 'read-1', 2)).toMatchObject({ id: 'read-1', noop: true });
    const again = expectOk(await request<JoinAck>(bob, 'room:join', { room, last: 10 }));
    expect(again).toMatchObject({ caller: 'bob', read: { seq: 2, unread: 1 } });
    expect(again.reads).toEqual([
      { sub: 'ana', seq: 3 },
      { sub: 'bob', seq: 2 },
    ]);
    const viewer = await connect(0, viewerToken('vic'));
    const viewed = expectOk(await request<JoinAck>(viewer, 'room:join', { room }));
    expect(viewed).toMatchObject({ caller: 'vic', read: { seq: 0, unread: 3 } });
    expect(viewed.reads).toBeUndefined();
  });

  it('counts unread messages per room the user read or wrote in, of those its token may read', async () => {
    const writer = await connect(0, tokenFor('wes', ['party:*', 'team:*']));
    for (const room of ['party:u1', 'party:u2', 'team:u3']) expectOk(await publish(writer, room, [{ id: 'w1' }, { id: 'w2' }]));
    const uma = await connect(1, tokenFor('uma', ['party:*', 'team:*']));
    expect(expectOk(await request<UnreadAck>(uma, 'user:unread', {})).rooms).toEqual({});
    await markRead(uma, 'party:u1', 'r1', 1);
    await markRead(uma, 'party:u2', 'r2', 2);
    await markRead(uma, 'team:u3', 'r3', 1);
    expectOk(await publish(writer, 'team:u3', [{ id: 'w3' }]));
    expect(expectOk(await request<UnreadAck>(uma, 'user:unread', {})).rooms).toEqual({ 'party:u1': 1, 'party:u2': 0, 'team:u3': 2 });
    // Posting counts as reading: the post is read, the room is the user's.
    expectOk(await publish(uma, 'party:u4', [{ id: 'own' }]));
    expect(expectOk(await request<UnreadAck>(uma, 'user:unread', {})).rooms).toMatchObject({ 'party:u4': 0 });
    // Another connection of the same user whose token may read only party:* sees only those rooms.
    const narrow = await connect(0, tokenFor('uma', ['party:*']));
    expect(Object.keys(expectOk(await request<UnreadAck>(narrow, 'user:unread', {})).rooms).sort()).toEqual(['party:u1', 'party:u2', 'party:u4']);
    expect(await request(narrow, 'user:unread', { rooms: ['x'] })).toMatchObject({ ok: false, error: { kind: ErrorKind.BadRequest } });
  });
});

/** Two relays over one Redis, or over a 3-master Redis Cluster (sharded pub/sub); `channels` lists the shard channels subscribed. */
const crossRelaySetups: [string, () => Promise<{ relays: RunningRelay[]; channels(): Promise<string[]>; stop(): Promise<void> }>][] = [
  [
    'Redis',
    async () => {
      const { relays, stop } = await MEMORY_OR_TWO_REDIS_RELAYS[1]![1]();
      return { relays, channels: async () => [], stop };
    },
  ],
  [
    'Redis Cluster',
    async () => {
      const cluster: RedisCluster = await startRedisCluster({ masters: 3 });
      const relays = [await startRelay({ redisCluster: cluster.addresses }), await startRelay({ redisCluster: cluster.addresses })];
      return {
        relays,
        async channels() {
          const lists = await Promise.all(
            cluster.nodes.map(async (node) => {
              const client = new Redis(node.url);
              const channels = (await client.call('PUBSUB', 'SHARDCHANNELS')) as string[];
              client.disconnect();
              return channels;
            }),
          );
          return lists.flat();
        },
        async stop() {
          for (const { relay } of relays) await relay.close();
          await cluster.stop();
        },
      };
    },
  ],
];

describe.each(crossRelaySetups)('room:reads across relays (%s)', (_name, setup) => {
  let relays: RunningRelay[];
  let channels: () => Promise<string[]>;
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ relays, channels, stop } = await setup());
  }, 60_000);
  afterAll(() => stop?.());

  async function connect(relay: number, token: string | Promise<string>): Promise<ClientSocket> {
    const socket = await connectClient(relays[relay]!.url, await token);
    sockets.push(socket);
    return socket;
  }

  it('sends room:reads to the reader’s other connection on another relay and to receipt watchers, not to members without receipts', async () => {
    const room = 'party:live-reads';
    const ana = await connect(0, tokenFor('ana', ['party:*']));
    expectOk(await publish(ana, room, [{ id: 'a1' }, { id: 'a2' }]));
    // bob may not see receipts: his other connection hears of his own reads only.
    const bobHere = await connect(0, viewerToken('bob'));
    const bobThere = await connect(1, viewerToken('bob'));
    const carl = await connect(1, tokenFor('carl', ['party:*']));
    const vic = await connect(1, viewerToken('vic'));
    for (const socket of [bobHere, bobThere, carl, vic]) expectOk(await request(socket, 'room:join', { room }));
    const [toBobThere, toCarl, toVic] = [collectReads(bobThere), collectReads(carl), collectReads(vic)];
    const signals: string[] = [];
    for (const socket of [vic, bobThere]) socket.on('room:signal', (event) => signals.push(event.type));

    await markRead(bobHere, room, 'read-a', 2);
    const moved = { room, reads: [{ sub: 'bob', seq: 2 }] };
    await waitFor(() => toBobThere.length === 1 && toCarl.length === 1, 'bob’s other connection and carl to hear of the read');
    expect(toBobThere).toEqual([moved]);
    expect(toCarl).toEqual([moved]);
    // A posting member's read position moves too, unannounced: the message itself says so to every member.
    expectOk(await publish(ana, room, [{ id: 'a3' }]));
    // A signal sent after both, through the same adapter channel, arrives after anything else they would have got.
    expectOk(await request(bobHere, 'room:signal', { room, type: 'barrier', body: '{}' }));
    await waitFor(() => signals.length === 2, 'vic and bob’s other connection to get the barrier signal');
    expect(toVic).toEqual([]);
    expect(toBobThere).toEqual([moved]);
    expect(toCarl).toEqual([moved]);
    const rejoined = expectOk(await request<JoinAck>(carl, 'room:join', { room }));
    expect(rejoined.reads).toContainEqual({ sub: 'ana', seq: 3 });
    // Reads rooms are only emitted to together, over the namespace's channel: no shard channel of their own.
    expect((await channels()).filter((channel) => channel.includes('#receipts') || channel.includes('#u:'))).toEqual([]);
  });
});
