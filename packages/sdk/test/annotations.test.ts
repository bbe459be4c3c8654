import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, waitFor, type RedisServer } from '@partyline/test-support';
import type { FoldedMessage, UpdateContext } from '../src/index.js';
import { closeAllClients, newDevice, record, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';

let roomCounter = 0;
const nextRoom = () => `annotations-${++roomCounter}-${Date.now()}`;

// The same behaviour over the memory store and over Redis (the store's Lua scripts).
describe.each(['memory', 'redis'] as const)('over the %s store', (store) => {
  let redis: RedisServer | undefined;
  let relay: InProcessRelay;

  beforeAll(async () => {
    if (store === 'redis') redis = await startRedis();
    relay = await startRelay(redis ? { redisUrl: redis.url } : {});
  });
  afterEach(closeAllClients);
  afterAll(async () => {
    await relay.close();
    await redis?.stop();
  });

  async function member(sub: string, options: { indexedDB?: IDBFactory } = {}) {
    return testClient({
      relays: [relay.url],
      token: await tokenFor(sub),
      ...options,
    });
  }

  describe('edits, deletes and reactions', () => {
    it('two members edit, react and delete; both fold the same and see update events', async () => {
      const name = nextRoom();
      const aliceRoom = (await member('alice')).room(name);
      const bobRoom = (await member('bob')).room(name);
      const atBob = record(bobRoom);
      const updates: UpdateContext[] = [];
      bobRoom.on('update', (update) => updates.push(update));

      const { id } = await aliceRoom.publish('chat', { text: 'cake?' });
      await waitFor(() => bobRoom.message(id) !== undefined, 'bob holds the message');
      await (
        await bobRoom.react(id, '👍')
      ).sent;
      await (
        await aliceRoom.react(id, '👍')
      ).sent;
      await (
        await aliceRoom.react(id, '🎉')
      ).sent;
      await (
        await aliceRoom.edit(id, { text: 'cake!' })
      ).sent;

      const expected = {
        id,
        sender: 'alice',
        body: { text: 'cake!' },
        edited: true,
        deleted: false,
      };
      await waitFor(() => bobRoom.message(id)?.edited === true, 'bob sees the edit');
      expect(bobRoom.message(id)).toMatchObject({
        ...expected,
        reactions: {
          '👍': { count: 2, mine: true },
          '🎉': { count: 1, mine: false },
        },
      });
      await waitFor(() => aliceRoom.message(id)?.edited === true, 'alice sees her edit');
      expect(aliceRoom.message(id)).toMatchObject({
        ...expected,
        reactions: {
          '👍': { count: 2, mine: true },
          '🎉': { count: 1, mine: true },
        },
      });
      expect(updates.map((update) => update.id)).toEqual([id, id, id, id]);
      // Annotations are log entries too: every one came as a message event, once, in order.
      expect(atBob.messages.map((message) => message.type)).toEqual(['chat', 'pl:react', 'pl:react', 'pl:react', 'pl:edit']);
      expect(atBob.seqs()).toEqual([1, 2, 3, 4, 5]);

      // Reacting twice and unreacting what is not held change nothing: acked, not appended.
      expect(await (await bobRoom.react(id, '👍')).sent).toEqual({ seq: 1 });
      expect(await (await bobRoom.unreact(id, '🎉')).sent).toEqual({ seq: 1 });
      // Only the sender edits its message.
      await expect((await bobRoom.edit(id, { text: 'mine now' })).sent).rejects.toMatchObject({ kind: 'forbidden' });

      await (
        await aliceRoom.delete(id)
      ).sent;
      await waitFor(() => bobRoom.message(id)?.deleted === true, 'bob sees the delete');
      expect(bobRoom.message(id)).toMatchObject({
        body: null,
        deleted: true,
        reactions: {},
      });
      await expect((await bobRoom.react(id, '👍')).sent).rejects.toMatchObject({
        kind: 'message_deleted',
      });
      await expect((await aliceRoom.edit(id, 'again')).sent).rejects.toMatchObject({ kind: 'message_deleted' });
      // A delete of a deleted message changes nothing.
      await (
        await aliceRoom.delete(id)
      ).sent;
      expect(bobRoom.messages().map((message) => message.id)).toEqual([id]);
    });

    it('refuses before queuing: reserved types through publish, bad reaction keys, bad ids', async () => {
      const room = (await member('alice')).room(nextRoom());
      await expect(room.publish('pl:edit', { id: 'x' })).rejects.toMatchObject({
        kind: 'bad_request',
      });
      await expect(room.publish('pl:anything', {})).rejects.toMatchObject({
        kind: 'bad_request',
      });
      await expect(room.react('m1', '')).rejects.toMatchObject({
        kind: 'bad_request',
      });
      await expect(room.react('m1', 'x'.repeat(65))).rejects.toMatchObject({
        kind: 'bad_request',
      });
      await expect(room.unreact('m1', 'a\nb')).rejects.toMatchObject({
        kind: 'bad_request',
      });
      await expect(room.delete('not an id')).rejects.toMatchObject({
        kind: 'bad_request',
      });
      expect(await room.pending()).toEqual([]);
    });

    it('an annotation of a message that is not in the log fails with not_found', async () => {
      const room = (await member('alice')).room(nextRoom());
      await expect((await room.react('never-sent', '👍')).sent).rejects.toMatchObject({ kind: 'not_found' });
    });

    it('edits a message still pending offline; once online both land, in order', async () => {
      const dead = await startRelay();
      const unreachable = dead.url;
      await dead.close();
      const device = newDevice();
      const name = nextRoom();
      const offline = testClient({
        relays: [unreachable],
        token: await tokenFor('alice'),
        indexedDB: device,
      });
      const offlineRoom = offline.room(name);
      const { id } = await offlineRoom.publish('chat', { text: 'draft' });
      await offlineRoom.edit(id, { text: 'final' });
      await offlineRoom.react(id, '✅');
      const queued = await offlineRoom.pending();
      expect(queued.map((entry) => entry.type)).toEqual(['chat', 'pl:edit', 'pl:react']);
      // Not held by the view yet: the target is named by id alone (the relay takes it as the sender's own).
      expect(queued[1]?.body).toEqual({ id, body: '{"text":"final"}' });
      await offline.close();

      const online = await member('alice', { indexedDB: device });
      const room = online.room(name);
      const bobRoom = (await member('bob')).room(name);
      await waitFor(() => bobRoom.message(id)?.reactions['✅'] !== undefined, 'bob sees the edited, reacted message');
      expect(bobRoom.message(id)).toMatchObject({
        seq: 1,
        body: { text: 'final' },
        edited: true,
        reactions: { '✅': { count: 1, mine: false } },
      });
      await waitFor(async () => (await room.pending()).length === 0, 'alice’s outbox emptied');
      await waitFor(() => room.message(id)?.reactions['✅']?.mine === true, 'alice folds her own');
    });

    it('a member joining with a window after many reactions gets the counts from the summaries', async () => {
      const name = nextRoom();
      const subs = ['ann', 'ben', 'cat', 'dan'];
      const rooms = await Promise.all(subs.map(async (sub) => (await member(sub)).room(name)));
      const ann = rooms[0]!;
      const first = await ann.publish('chat', { n: 1 });
      const target = await ann.publish('chat', { n: 2 });
      await target.sent;
      // Every member reacts with three keys, then half take one back: many annotations after the target.
      for (const room of rooms) for (const key of ['a', 'b', 'c']) await (await room.react(target.id, key)).sent;
      for (const room of rooms.slice(0, 2)) await (await room.unreact(target.id, 'c')).sent;
      await (
        await ann.edit(target.id, { n: 2, edited: true })
      ).sent;
      await (
        await ann.publish('chat', { n: 3 })
      ).sent;

      // Another device of ben's: its reactions are `mine` through the summary.
      const late = (await member('ben')).room(name, { from: { last: 2 } });
      const seen = record(late);
      await waitFor(() => late.message(target.id) !== undefined && seen.messages.length > 0, 'the window arrived');
      expect(late.message(first.id)).toBeUndefined();
      expect(late.message(target.id)).toMatchObject({
        body: { n: 2, edited: true },
        edited: true,
        reactions: {
          a: { count: 4, mine: true },
          b: { count: 4, mine: true },
          c: { count: 2, mine: false },
        },
      });
      // The window counts messages: the annotations between them came along (no protocol_violation).
      expect(seen.messages.filter((message) => !message.type.startsWith('pl:')).map((message) => message.body)).toEqual([{ n: 2 }, { n: 3 }]);
      // Live annotations after the summary's head apply on top of it.
      await (
        await rooms[2]!.unreact(target.id, 'a')
      ).sent;
      await waitFor(() => late.message(target.id)?.reactions['a']?.count === 3, 'the unreact applied on the summary');

      // Scrolling back reaches the first message (older pages count messages too).
      const older = await late.loadOlder(1);
      expect(older.messages.map((message) => message.id)).toEqual([first.id]);
      expect(late.messages().map((message: FoldedMessage) => message.id)).toEqual([first.id, target.id, expect.any(String)]);
    });

    it('a reload folds the same from the cache, summaries included', async () => {
      const name = nextRoom();
      const ann = (await member('ann')).room(name);
      const { id, sent } = await ann.publish('chat', { text: 'hi' });
      await sent;
      await (
        await ann.react(id, '👋')
      ).sent;
      await (
        await ann.publish('chat', { text: 'later' })
      ).sent;

      const device = newDevice();
      const bob = await member('bob', { indexedDB: device });
      const window = bob.room(name, { from: { last: 1 } });
      const seen = record(window);
      await waitFor(() => seen.messages.length > 0, 'the window');
      await window.loadOlder(5);
      await waitFor(() => window.message(id)?.reactions['👋']?.count === 1, 'the older message folded from its summary');
      await bob.close();

      const reloaded = (await member('bob', { indexedDB: device })).room(name);
      expect((await reloaded.history()).map((message) => message.type)).toEqual(['chat', 'pl:react', 'chat']);
      expect(reloaded.message(id)).toMatchObject({
        body: { text: 'hi' },
        reactions: { '👋': { count: 1, mine: false } },
      });
      await closeAllClients();

      // Offline, a window over the cache counts messages, and scrolling back is served by the cache.
      const dead = await startRelay();
      await dead.close();
      const offline = testClient({
        relays: [dead.url],
        token: await tokenFor('bob'),
        indexedDB: device,
      }).room(name, { from: { last: 1 } });
      expect((await offline.history()).map((message) => message.body)).toEqual([{ text: 'later' }]);
      const older = await offline.loadOlder(1);
      expect(older).toEqual({
        messages: [expect.objectContaining({ id }), expect.objectContaining({ type: 'pl:react' })],
        hasMore: false,
      });
      expect(offline.message(id)?.reactions['👋']?.count).toBe(1);
    });
  });

  describe('read state', () => {
    it('counts unread, moves on markRead and own posts, and two devices of one user agree', async () => {
      const name = nextRoom();
      const aliceRoom = (await member('alice')).room(name);
      const bobPhone = await member('bob');
      const bobLaptop = await member('bob');
      const phone = bobPhone.room(name);
      const laptop = bobLaptop.room(name);
      const receipts: { sub: string; seq: number }[] = [];
      aliceRoom.on('read', ({ sub, seq }) => receipts.push({ sub, seq }));
      await Promise.all([phone.history(), laptop.history()]);

      for (let n = 1; n <= 3; n++) await (await aliceRoom.publish('chat', { n })).sent;
      await waitFor(() => phone.readState().unread === 3 && laptop.readState().unread === 3, 'three unread at bob');
      expect(aliceRoom.readState()).toEqual({ readSeq: 3, unread: 0 }); // posting reads the room
      // bob has not read or written in the room yet.
      expect((await bobPhone.unread())[name]).toBeUndefined();

      await phone.markRead(2);
      expect(phone.readState()).toEqual({ readSeq: 2, unread: 1 }); // at once, before the relay has it
      await waitFor(() => laptop.readState().readSeq === 2, 'the laptop sees the phone’s markRead');
      expect(laptop.readState()).toEqual({ readSeq: 2, unread: 1 });
      await waitFor(async () => (await bobLaptop.unread())[name] === 1, 'the relay counts one unread');

      await phone.markRead(1); // never backwards
      expect(phone.readState().readSeq).toBe(2);
      await laptop.markRead();
      await waitFor(() => phone.readState().readSeq === 3, 'the phone sees the laptop’s markRead');
      expect(phone.readState().unread).toBe(0);
      await waitFor(() => receipts.some((read) => read.sub === 'bob' && read.seq === 3), 'alice sees bob’s receipt');
      expect(aliceRoom.receipts()).toEqual(expect.arrayContaining([{ sub: 'bob', seq: 3 }]));
      await waitFor(async () => (await bobPhone.unread())[name] === 0, 'nothing unread at the relay');

      // A join later starts from the relay's read state.
      const fresh = (await member('bob')).room(name);
      await waitFor(() => fresh.readState().readSeq === 3, 'a new session starts at the stored position');
      expect(fresh.readState().unread).toBe(0);
    });

    it('client.unread() rejects with a typed error when offline', async () => {
      const dead = await startRelay();
      const unreachable = dead.url;
      await dead.close();
      const client = testClient({
        relays: [unreachable],
        token: await tokenFor('alice'),
      });
      await expect(client.unread()).rejects.toMatchObject({
        kind: 'disconnected',
      });
    });
  });
});
