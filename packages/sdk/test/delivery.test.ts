import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@partyline/test-support';
import { closeAllClients, newDevice, range, record, testClient } from './support/sdk-client.js';
import { startRelay, tokenFor, type InProcessRelay } from './support/relays.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let relay: InProcessRelay;
let roomCounter = 0;
const nextRoom = () => `delivery-${++roomCounter}-${Date.now()}`;

beforeAll(async () => {
  relay = await startRelay();
});
afterEach(closeAllClients);
afterAll(async () => {
  await relay.close();
});

describe('publish and receive', () => {
  it('delivers every message once, in seq order, to members and the sender, with JSON bodies', async () => {
    const name = nextRoom();
    const alice = testClient({ relays: [relay.url], token: await tokenFor('alice') });
    const bob = testClient({ relays: [relay.url], token: await tokenFor('bob') });
    const aliceRoom = alice.room(name);
    const bobRoom = bob.room(name);
    const atAlice = record(aliceRoom);
    const atBob = record(bobRoom);

    const handles = [];
    for (let i = 1; i <= 30; i++) handles.push(await (i % 2 ? aliceRoom : bobRoom).publish('chat', { n: i, text: `message ${i}` }));
    const seqs = await Promise.all(handles.map((handle) => handle.sent.then(({ seq }) => seq)));

    await waitFor(() => atAlice.messages.length >= 30 && atBob.messages.length >= 30, '30 messages at both');
    expect(atAlice.seqs()).toEqual(range(1, 30));
    expect(atBob.seqs()).toEqual(range(1, 30));
    expect(new Set(seqs).size).toBe(30);
    for (const message of atBob.messages) {
      const index = handles.findIndex((handle) => handle.id === message.id);
      expect(seqs[index]).toBe(message.seq);
      expect(message.body).toEqual({ n: index + 1, text: `message ${index + 1}` });
      expect(message.sender).toBe((index + 1) % 2 ? 'alice' : 'bob');
    }
    expect(handles.every((handle) => handle.status === 'sent')).toBe(true);
    expect(atAlice.statuses.filter((status) => status.status === 'pending')).toHaveLength(15);
    expect(atAlice.statuses.filter((status) => status.status === 'sent')).toHaveLength(15);
    expect(await aliceRoom.pending()).toEqual([]);
  });

  it('holds its own messages from the publish acks exactly as the other members get them live (protocol 3: no echo), also when publishes interleave', async () => {
    const name = nextRoom();
    const alice = testClient({ relays: [relay.url], token: await tokenFor('alice') });
    const bob = testClient({ relays: [relay.url], token: await tokenFor('bob') });
    const [aliceRoom, bobRoom] = [alice.room(name), bob.room(name)];
    const [atAlice, atBob] = [record(aliceRoom), record(bobRoom)];
    // Both publish at once: each one's messages reach it by ack and the other's live, in one seq order.
    const handles = await Promise.all(range(1, 40).map((n) => (n % 2 ? aliceRoom : bobRoom).publish('chat', { n })));
    // The last one alone: no later message of bob's would show alice a gap to read.
    handles.push(await aliceRoom.publish('chat', { n: 41 }));
    await Promise.all(handles.map((handle) => handle.sent));
    await waitFor(() => atAlice.messages.length >= 41 && atBob.messages.length >= 41, '41 messages at both');
    expect(atAlice.seqs()).toEqual(range(1, 41));
    expect(atAlice.messages).toEqual(atBob.messages);
    expect(atAlice.messages.every((message) => message.ts > 0)).toBe(true);
    expect(await aliceRoom.history()).toEqual(await bobRoom.history());
  });

  it('refuses invalid input before queuing anything', async () => {
    const client = testClient({ relays: [relay.url], token: await tokenFor('alice') });
    const room = client.room(nextRoom());
    await expect(room.publish('bad type!', {})).rejects.toMatchObject({ kind: 'bad_request' });
    await expect(room.publish('chat', undefined)).rejects.toMatchObject({ kind: 'bad_request' });
    await expect(room.publish('chat', 'x'.repeat(70_000))).rejects.toMatchObject({ kind: 'payload_too_large' });
    expect(() => client.room('no spaces allowed')).toThrow(/invalid room name/);
    expect(await room.pending()).toEqual([]);
  });

  it('reports a permanent refusal as failed with the typed error and drops it from the outbox', async () => {
    const client = testClient({ relays: [relay.url], token: await tokenFor('alice', ['allowed:*']) });
    const room = client.room('forbidden-room');
    const seen = record(room);
    const handle = await room.publish('chat', { text: 'let me in' });
    await expect(handle.sent).rejects.toMatchObject({ name: 'PartylineError', kind: 'forbidden', retryable: false });
    expect(handle.status).toBe('failed');
    expect(seen.statuses.map((status) => status.status)).toEqual(['pending', 'failed']);
    expect(seen.statuses[1]?.error?.kind).toBe('forbidden');
    expect(await room.pending()).toEqual([]);
  });

  it('fails over to the next relay when the first cannot be reached', async () => {
    const dead = await startRelay();
    const deadUrl = dead.url;
    await dead.close();
    const client = testClient({ relays: [deadUrl, relay.url], token: await tokenFor('alice') });
    const room = client.room(nextRoom());
    const handle = await room.publish('chat', { text: 'via the second relay' });
    expect(await handle.sent).toEqual({ seq: 1 });
    expect(client.state).toBe('online');
  });

  it('relays ephemeral signals to other members without touching the log', async () => {
    const name = nextRoom();
    const alice = testClient({ relays: [relay.url], token: await tokenFor('alice') });
    const bob = testClient({ relays: [relay.url], token: await tokenFor('bob') });
    const bobRoom = bob.room(name);
    const signals: unknown[] = [];
    bobRoom.on('signal', (signal) => signals.push(signal));
    const aliceRoom = alice.room(name);
    await waitFor(() => alice.state === 'online' && bob.state === 'online', 'both online');
    await waitFor(async () => {
      await aliceRoom.signal('typing', { on: true });
      return signals.length > 0;
    }, 'a signal at bob', 10_000, 200);
    expect(signals[0]).toEqual({ room: name, sender: 'alice', type: 'typing', body: { on: true } });
    expect((await relay.relay.store.read(name, 0, 10)).headSeq).toBe(0);
  });
});

describe('outbox', () => {
  it('stores the message in IndexedDB before publish resolves, and keeps it across a reload while offline', async () => {
    const dead = await startRelay();
    const unreachable = dead.url;
    await dead.close();
    const device = newDevice();
    const name = nextRoom();
    const first = testClient({ relays: [unreachable], token: await tokenFor('alice'), indexedDB: device });
    const handle = await first.room(name).publish('chat', { text: 'queued offline' });
    // Read the outbox straight from IndexedDB, not through the SDK.
    const stored = await new Promise<unknown[]>((resolve, reject) => {
      const request = device.open('partyline');
      request.onsuccess = () => {
        const db = request.result;
        const get = db.transaction('outbox').objectStore('outbox').getAll();
        get.onsuccess = () => {
          db.close();
          resolve(get.result);
        };
        get.onerror = () => reject(get.error);
      };
    });
    expect(stored).toEqual([{ room: name, id: handle.id, entries: [expect.objectContaining({ id: handle.id, room: name, type: 'chat', body: '{"text":"queued offline"}', attempts: 0 })] }]);
    expect(handle.status).toBe('pending');
    await first.close();
    await expect(handle.sent).rejects.toMatchObject({ kind: 'closed' });

    // "Reload": a new client on the same IndexedDB, now with a reachable relay.
    const second = testClient({ relays: [relay.url], token: await tokenFor('alice'), indexedDB: device });
    const room = second.room(name);
    expect((await room.pending()).map((entry) => entry.id)).toEqual([handle.id]);
    const seen = record(room);
    await waitFor(() => seen.messages.length === 1, 'the queued message delivered');
    expect(seen.messages[0]).toMatchObject({ id: handle.id, seq: 1, body: { text: 'queued offline' } });
    await waitFor(async () => (await room.pending()).length === 0, 'outbox emptied');
    expect(seen.statuses.map((status) => status.status)).toEqual(['sent']);
  });

  it('expires a message the relay never acknowledged within the retention, and says so', async () => {
    const dead = await startRelay();
    const unreachable = dead.url;
    await dead.close();
    const client = testClient({ relays: [unreachable], token: await tokenFor('alice'), outboxRetentionMs: 200 });
    const room = client.room(nextRoom());
    const seen = record(room);
    const handle = await room.publish('chat', { text: 'too late' });
    await expect(handle.sent).rejects.toMatchObject({ kind: 'expired', retryable: false });
    expect(seen.statuses.map((status) => status.status)).toEqual(['pending', 'expired']);
    expect(await room.pending()).toEqual([]);
  });
});

describe('two flushers on one outbox', () => {
  it('cannot duplicate: both send the same entries, the relay appends each once', async () => {
    const name = nextRoom();
    const shared = newDevice();
    const dead = await startRelay();
    const unreachable = dead.url;
    await dead.close();
    // Queue while unreachable, then open two clients ("tabs" without Web Locks) on the same outbox.
    const queueing = testClient({ relays: [unreachable], token: await tokenFor('alice'), indexedDB: shared });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await queueing.room(name).publish('chat', { i })).id);
    await queueing.close();
    const member = testClient({ relays: [relay.url], token: await tokenFor('bob') });
    const seen = record(member.room(name));
    // Each "tab" opens the room: a client sends the rooms it opened.
    const tabs = [0, 1].map(async () => testClient({ relays: [relay.url], token: await tokenFor('alice'), indexedDB: shared, maxBatchMessages: 7 }).room(name));
    await Promise.all(tabs);
    await waitFor(() => seen.messages.length >= 50, 'all 50 at the member');
    await waitFor(async () => (await relay.relay.store.read(name, 0, 0)).headSeq >= 50, 'log complete');
    // A sentinel after the 50: once the member has it, any duplicate would have been handed before it.
    const sentinel = await testClient({ relays: [relay.url], token: await tokenFor('carol') }).room(name).publish('sentinel', {});
    await waitFor(() => seen.messages.some((message) => message.id === sentinel.id), 'the sentinel at the member');
    expect(seen.messages.map((message) => message.id)).toEqual([...ids, sentinel.id]);
    expect(seen.seqs()).toEqual(range(1, 51));
    expect((await relay.relay.store.read(name, 0, 0)).headSeq).toBe(51);
  });
});

describe('dedup, ordering, gaps and resets', () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await startTcpProxy(relay.port);
  });
  afterEach(() => {
    proxy.dropServerFrames(undefined);
    proxy.restore();
    proxy.setTarget(relay.port);
  });
  afterAll(async () => {
    await proxy.close();
  });

  it('sends again after a lost ack and the relay appends it only once', async () => {
    const name = nextRoom();
    const sender = testClient({ relays: [proxy.url], token: await tokenFor('alice'), ackTimeoutMs: 300 });
    const room = sender.room(name);
    const seen = record(room);
    await waitFor(() => sender.state === 'online', 'online');
    let dropped = 0;
    // Lose the first publish ack (an ack frame carries "results").
    proxy.dropServerFrames((text) => text.includes('"results"') && dropped++ === 0);
    const handles = [];
    for (let i = 0; i < 5; i++) handles.push(await room.publish('chat', { i }));
    const seqs = await Promise.all(handles.map((handle) => handle.sent.then(({ seq }) => seq)));
    expect(dropped).toBeGreaterThanOrEqual(2); // one lost, at least one more delivered after a resend
    expect(seqs).toEqual(range(1, 5));
    const log = await relay.relay.store.read(name, 0, 100);
    expect(log.headSeq).toBe(5);
    expect(log.messages.map((message) => message.id)).toEqual(handles.map((handle) => handle.id));
    await waitFor(() => seen.messages.length >= 5, 'own messages back');
    expect(seen.seqs()).toEqual(range(1, 5));
  });

  it('fills a gap left by a lost live message from the log, delivering in order', async () => {
    const name = nextRoom();
    const member = testClient({ relays: [proxy.url], token: await tokenFor('bob') });
    const seen = record(member.room(name));
    const sender = testClient({ relays: [relay.url], token: await tokenFor('alice') });
    const room = sender.room(name);
    await waitFor(() => member.state === 'online', 'member online');
    await (await room.publish('chat', { n: 1 })).sent;
    await waitFor(() => seen.messages.length === 1, 'first message');
    // Lose the live broadcast of seq 2 on the way to the member.
    let lost = 0;
    proxy.dropServerFrames((text) => lost === 0 && text.includes('"room:messages"') && text.includes('"seq":2,') && ++lost > 0);
    await (await room.publish('chat', { n: 2 })).sent;
    await (await room.publish('chat', { n: 3 })).sent;
    await waitFor(() => seen.messages.length === 3, 'gap filled');
    expect(lost).toBe(1);
    expect(seen.seqs()).toEqual([1, 2, 3]);
    expect(seen.messages.map((message) => message.body)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('catches up after being offline, paging through the log, each message once', async () => {
    const name = nextRoom();
    const member = testClient({ relays: [proxy.url], token: await tokenFor('bob'), pageSize: 50 });
    const seen = record(member.room(name));
    await waitFor(() => member.state === 'online', 'member online');
    proxy.sever();
    await waitFor(() => member.state !== 'online', 'member cut off');
    const sender = testClient({ relays: [relay.url], token: await tokenFor('alice') });
    const room = sender.room(name);
    const handles = [];
    for (let i = 1; i <= 220; i++) handles.push(await room.publish('chat', { i }));
    await Promise.all(handles.map((handle) => handle.sent));
    expect(seen.messages).toHaveLength(0);
    proxy.restore();
    await waitFor(() => seen.messages.length >= 220, '220 messages after reconnect');
    expect(seen.seqs()).toEqual(range(1, 220));
  });

  it('reports epoch_changed when the relay lost the log, clears the old cache, and delivers the new log', async () => {
    const name = nextRoom();
    const first = await startRelay();
    proxy.setTarget(first.port);
    const device = newDevice();
    const member = testClient({ relays: [proxy.url], token: await tokenFor('bob'), indexedDB: device });
    const room = member.room(name);
    const seen = record(room);
    const resets: unknown[] = [];
    room.on('reset', (reset) => resets.push(reset));
    const sender = testClient({ relays: [first.url], token: await tokenFor('alice') });
    for (let i = 1; i <= 3; i++) await (await sender.room(name).publish('chat', { old: i })).sent;
    await waitFor(() => seen.messages.length === 3, 'old log');
    const oldEpoch = (await first.relay.store.read(name, 0, 0)).epoch;

    // The memory relay "restarts": a new store, a new epoch, a new history.
    // The new log has its messages before the member gets there: otherwise it would find no room yet
    // (rooms begin with their first append) and its reset would name no epoch.
    const second = await startRelay();
    const sender2 = testClient({ relays: [second.url], token: await tokenFor('alice') });
    for (let i = 1; i <= 2; i++) await (await sender2.room(name).publish('chat', { fresh: i })).sent;
    proxy.setTarget(second.port);
    await first.close();
    await waitFor(() => seen.messages.length === 5, 'new log delivered');
    const newEpoch = (await second.relay.store.read(name, 0, 0)).epoch;
    expect(resets).toEqual([{ room: name, reason: 'epoch_changed', epoch: newEpoch, previousEpoch: oldEpoch }]);
    expect(seen.seqs()).toEqual([1, 2, 3, 1, 2]);
    expect(seen.messages.slice(3).map((message) => message.body)).toEqual([{ fresh: 1 }, { fresh: 2 }]);
    expect((await room.history()).map((message) => message.body)).toEqual([{ fresh: 1 }, { fresh: 2 }]);
    await second.close();
  });

  it('reports trimmed when messages left the log before this member read them, then continues', async () => {
    const name = nextRoom();
    const trimming = await startRelay({ retention: { maxMessages: 5 } });
    proxy.setTarget(trimming.port);
    const member = testClient({ relays: [proxy.url], token: await tokenFor('bob') });
    const room = member.room(name);
    const seen = record(room);
    const resets: unknown[] = [];
    room.on('reset', (reset) => resets.push(reset));
    const sender = testClient({ relays: [trimming.url], token: await tokenFor('alice') });
    const senderRoom = sender.room(name);
    await (await senderRoom.publish('chat', { i: 1 })).sent;
    await waitFor(() => seen.messages.length === 1, 'first message');
    proxy.sever();
    await waitFor(() => member.state !== 'online', 'member cut off');
    for (let i = 2; i <= 20; i++) await (await senderRoom.publish('chat', { i })).sent;
    proxy.restore();
    await waitFor(() => seen.messages.length === 6, 'the retained tail');
    expect(resets).toEqual([{ room: name, reason: 'trimmed', epoch: expect.any(String), fromSeq: 2, toSeq: 15 }]);
    expect(seen.seqs()).toEqual([1, 16, 17, 18, 19, 20]);
    await trimming.close();
  });
});

describe('local inbox cache', () => {
  it('shows a bounded history and pending messages after a reload with no relay reachable', async () => {
    const name = nextRoom();
    const device = newDevice();
    const online = testClient({ relays: [relay.url], token: await tokenFor('alice'), indexedDB: device, inboxLimit: 10 });
    const room = online.room(name);
    const seen = record(room);
    for (let i = 1; i <= 25; i++) await room.publish('chat', { i });
    await waitFor(() => seen.messages.length === 25, 'all delivered');
    await waitFor(async () => (await room.pending()).length === 0, 'outbox empty');
    await online.close();

    const dead = await startRelay();
    const unreachable = dead.url;
    await dead.close();
    const offline = testClient({ relays: [unreachable], token: await tokenFor('alice'), indexedDB: device, inboxLimit: 10 });
    const reloaded = offline.room(name);
    await reloaded.publish('chat', { i: 'offline' });
    expect((await reloaded.history()).map((message) => message.seq)).toEqual(range(16, 25));
    expect((await reloaded.pending()).map((entry) => entry.body)).toEqual([{ i: 'offline' }]);
  });

  it('a room opened with from: now skips the existing log and continues from its cursor later', async () => {
    const name = nextRoom();
    const sender = testClient({ relays: [relay.url], token: await tokenFor('alice') });
    for (let i = 1; i <= 3; i++) await (await sender.room(name).publish('chat', { i })).sent;
    const late = testClient({ relays: [relay.url], token: await tokenFor('bob') });
    const seen = record(late.room(name, { from: 'now' }));
    await waitFor(() => late.state === 'online', 'online');
    await waitFor(async () => {
      await (await sender.room(name).publish('chat', { i: 'new' })).sent;
      return seen.messages.length > 0;
    }, 'a new message');
    expect(seen.messages[0]!.seq).toBeGreaterThan(3);
    expect(seen.seqs()).toEqual(range(seen.messages[0]!.seq, seen.messages[0]!.seq + seen.messages.length - 1));
  });
});

describe('a position the app owns', () => {
  it('starts the view right after it, whatever the cache holds, and says diverged when the log holds another message there', async () => {
    const name = nextRoom();
    const sender = testClient({ relays: [relay.url], token: await tokenFor('alice') });
    const handles = [];
    for (let i = 1; i <= 5; i++) handles.push(await sender.room(name).publish('chat', { i }));
    await Promise.all(handles.map((handle) => handle.sent));
    const { epoch } = await relay.relay.store.read(name, 0, 0);

    // The app stored (epoch, 3, id of 3) with its side effects: the view continues at 4.
    const resumed = testClient({ relays: [relay.url], token: await tokenFor('bob') });
    const room = resumed.room(name, { from: { epoch, seq: 3, id: handles[2]!.id } });
    const seen = record(room);
    expect(await room.history()).toEqual([]);
    await waitFor(() => seen.messages.length === 2, 'seq 4 and 5');
    expect(seen.seqs()).toEqual([4, 5]);

    // A stored position naming another message at seq 3 is a history the log does not hold.
    const stale = testClient({ relays: [relay.url], token: await tokenFor('bob') });
    const staleRoom = stale.room(name, { from: { epoch, seq: 3, id: 'not-what-the-log-has' } });
    const staleSeen = record(staleRoom);
    const resets: unknown[] = [];
    staleRoom.on('reset', (reset) => resets.push(reset));
    await waitFor(() => staleSeen.messages.length === 5, 'the whole log after the reset');
    expect(resets).toEqual([expect.objectContaining({ reason: 'diverged', toSeq: 3 })]);
    expect(staleSeen.seqs()).toEqual([1, 2, 3, 4, 5]);
    expect(() => resumed.room(nextRoom(), { from: { epoch, seq: -1 } })).toThrow(/app position/);
  });
});

describe('rooms this client did not open', () => {
  it('leaves another session’s queued messages for a room it cannot enter alone: neither sent nor failed', async () => {
    const device = newDevice();
    const dead = await startRelay();
    const unreachable = dead.url;
    await dead.close();
    const x = nextRoom();
    const y = nextRoom();
    // Queued offline in room x by a session whose token granted x.
    const first = testClient({ relays: [unreachable], token: await tokenFor('ana', [x]), indexedDB: device });
    const { id } = await first.room(x).publish('chat', { text: 'for x' });
    await first.close();
    // A later session on the same device holds a token for y only, and opens y.
    const second = testClient({ relays: [relay.url], token: await tokenFor('ana', [y]), indexedDB: device });
    const statuses = record(second.room(y)).statuses;
    await second.room(y).publish('chat', { text: 'for y' });
    await waitFor(async () => (await relay.relay.store.read(y, 0, 0)).headSeq === 1, 'the y message sent');
    expect((await relay.relay.store.read(x, 0, 0)).headSeq).toBe(0);
    expect(statuses.filter((s) => s.status === 'failed')).toEqual([]);
    await second.close();
    // The x message is still queued, and goes out once a session with an x token opens x.
    const third = testClient({ relays: [relay.url], token: await tokenFor('ana', [x]), indexedDB: device });
    expect((await third.room(x).pending()).map((entry) => entry.id)).toEqual([id]);
    await waitFor(async () => (await relay.relay.store.read(x, 0, 0)).headSeq === 1, 'the x message sent by a session that may');
  });
});

describe('a relay that allows smaller batches', () => {
  it('sends the queue in smaller batches instead of failing valid messages', async () => {
    const small = await startRelay({ limits: { maxBatchMessages: 5 } });
    try {
      const name = nextRoom();
      const client = testClient({ relays: [small.url], token: await tokenFor('ana'), indexedDB: newDevice() });
      const room = client.room(name);
      const seen = record(room);
      await Promise.all(Array.from({ length: 12 }, (_, i) => room.publish('chat', { i })));
      await waitFor(() => seen.statuses.filter((s) => s.status === 'sent').length === 12, 'all 12 sent');
      expect(seen.statuses.filter((s) => s.status === 'failed')).toEqual([]);
      expect((await small.relay.store.read(name, 0, 0)).headSeq).toBe(12);
    } finally {
      await small.close();
    }
  });
});
