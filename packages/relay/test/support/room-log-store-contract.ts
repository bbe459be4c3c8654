import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppendInput, RoomLogStore, RoomLogStoreOptions } from '../../src/index.js';
import { describeAnnotationStore } from './annotation-store-contract.js';

/** Builds a fresh, empty store; `restart` simulates losing the store's data (new process, flushed Redis). */
export interface StoreFactory {
  create(options?: RoomLogStoreOptions): Promise<RoomLogStore>;
  loseData(): Promise<void>;
  cleanup(): Promise<void>;
}

const message = (id: string, body = `body-${id}`): AppendInput => ({ id, type: 'chat', body, sender: 'ana' });

/** The one contract every room log store keeps; run against each implementation. */
export function describeRoomLogStore(name: string, factory: () => Promise<StoreFactory>): void {
  describe(`room log store contract: ${name}`, () => {
    let stores: StoreFactory;
    let store: RoomLogStore;
    let clock = Date.now();
    const now = () => clock;

    beforeEach(async () => {
      clock = Date.now();
      stores = await factory();
      store = await stores.create({ now });
    });
    afterEach(async () => {
      await store.close();
      await stores.cleanup();
    });

    it('assigns gap-free sequence numbers from 1 in append order', async () => {
      const first = await store.append('r', [message('a'), message('b')]);
      const second = await store.append('r', [message('c')]);
      expect(first.outcomes.map((o) => o.status === 'appended' && o.message.seq)).toEqual([1, 2]);
      expect(second.outcomes.map((o) => o.status === 'appended' && o.message.seq)).toEqual([3]);
      expect(second.epoch).toBe(first.epoch);
      const page = await store.read('r', 0, 10);
      expect(page.messages.map((m) => [m.seq, m.id, m.body, m.sender, m.ts])).toEqual([
        [1, 'a', 'body-a', 'ana', clock],
        [2, 'b', 'body-b', 'ana', clock],
        [3, 'c', 'body-c', 'ana', clock],
      ]);
      expect(page).toMatchObject({ room: 'r', epoch: first.epoch, firstSeq: 1, headSeq: 3, hasMore: false });
    });

    it('serves many rooms at once: appends and reads of 30 rooms issued in one turn all succeed', async () => {
      // On a Cluster the rooms live on different masters, and commands of one turn are batched per node.
      const rooms = Array.from({ length: 30 }, (_, i) => `many-${i}`);
      const appended = await Promise.all(rooms.map((room, i) => store.append(room, [message(`m${i}`)])));
      expect(appended.map((result) => result.outcomes[0]?.status)).toEqual(rooms.map(() => 'appended'));
      const pages = await Promise.all(rooms.flatMap((room) => [store.read(room, 0, 10), store.readBefore(room, Number.MAX_SAFE_INTEGER, 10)]));
      expect(pages.map((page) => page.messages.map((m) => m.id))).toEqual(rooms.flatMap((_, i) => [[`m${i}`], [`m${i}`]]));
    });

    it('appends an id once and answers repeats with the first sequence', async () => {
      await store.append('r', [message('a')]);
      const again = await store.append('r', [message('b'), message('a'), message('b')]);
      expect(again.outcomes).toEqual([
        expect.objectContaining({ status: 'appended', message: expect.objectContaining({ id: 'b', seq: 2 }) }),
        { status: 'duplicate', id: 'a', seq: 1 },
        { status: 'duplicate', id: 'b', seq: 2 },
      ]);
      expect((await store.read('r', 0, 10)).headSeq).toBe(2);
    });

    it('keys dedup by sender too: another member reusing an id gets its own message, never the first one’s seq', async () => {
      const ana = await store.append('r', [message('shared-id', 'from ana')]);
      const mallory = await store.append('r', [{ id: 'shared-id', type: 'chat', body: 'from mallory', sender: 'mallory' }]);
      expect(ana.outcomes[0]).toMatchObject({ status: 'appended', message: { seq: 1, sender: 'ana' } });
      expect(mallory.outcomes[0]).toMatchObject({ status: 'appended', message: { seq: 2, sender: 'mallory' } });
      // Each sender's resend still lands on its own first result.
      expect((await store.append('r', [message('shared-id', 'from ana')])).outcomes).toEqual([{ status: 'duplicate', id: 'shared-id', seq: 1 }]);
    });

    it('reports a reused id with a different body as a conflict and appends nothing', async () => {
      await store.append('r', [message('a', 'original')]);
      const reused = await store.append('r', [message('a', 'tampered')]);
      expect(reused.outcomes).toEqual([{ status: 'conflict', id: 'a', seq: 1 }]);
      expect((await store.read('r', 0, 10)).messages.map((m) => m.body)).toEqual(['original']);
    });

    it('keeps rooms apart: own sequence, own dedup, own epoch', async () => {
      await store.append('r1', [message('a')]);
      const other = await store.append('r2', [message('a')]);
      expect(other.outcomes[0]).toMatchObject({ status: 'appended', message: { seq: 1 } });
      expect((await store.read('r1', 0, 1)).epoch).not.toBe(other.epoch);
    });

    it('pages after `since` with hasMore', async () => {
      await store.append('r', Array.from({ length: 7 }, (_, i) => message(`m${i + 1}`)));
      const first = await store.read('r', 2, 3);
      expect(first.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
      expect(first.hasMore).toBe(true);
      const last = await store.read('r', 5, 3);
      expect(last.messages.map((m) => m.seq)).toEqual([6, 7]);
      expect(last.hasMore).toBe(false);
      expect((await store.read('r', 7, 3)).messages).toEqual([]);
    });

    it('names the message at `since` (for positioned recovery) and the head before each appended batch (live links)', async () => {
      const first = await store.append('r', [message('a'), message('b')]);
      expect(first.previousId).toBeUndefined();
      const second = await store.append('r', [message('b'), message('c')]);
      expect(second.previousId).toBe('b');
      expect((await store.read('r', 2, 10)).sinceId).toBe('b');
      expect((await store.read('r', 3, 10)).sinceId).toBe('c');
      expect((await store.read('r', 0, 10)).sinceId).toBeUndefined();
      expect((await store.read('r', 9, 10)).sinceId).toBeUndefined();
    });

    it('answers a room never written to with epoch "" and empty bounds, and reading it creates nothing', async () => {
      const empty = await store.read('fresh', 0, 10);
      expect(empty).toMatchObject({ epoch: '', firstSeq: 1, headSeq: 0, messages: [], hasMore: false });
      expect((await store.append('fresh', [])).epoch).toBe('');
      expect((await store.read('fresh', 0, 10)).epoch).toBe('');
      const appended = await store.append('fresh', [message('a')]);
      expect(appended.epoch).not.toBe('');
      expect((await store.read('fresh', 0, 10)).epoch).toBe(appended.epoch);
    });

    it('accepts an empty batch and still names the epoch of a room that exists', async () => {
      const first = await store.append('r', [message('a')]);
      const result = await store.append('r', []);
      expect(result.outcomes).toEqual([]);
      expect(result.epoch).toBe(first.epoch);
    });

    it('starts a new epoch when the data is lost', async () => {
      const before = await store.append('r', [message('a')]);
      await store.close();
      await stores.loseData();
      store = await stores.create({ now });
      const after = await store.append('r', [message('b')]);
      expect(after.epoch).not.toBe(before.epoch);
      expect(after.outcomes[0]).toMatchObject({ status: 'appended', message: { seq: 1 } });
    });

    it('trims by count and reports the oldest retained sequence', async () => {
      await store.close();
      store = await stores.create({ now, retention: { maxMessages: 10 } });
      for (let i = 0; i < 30; i++) await store.append('r', [message(`m${i}`)]);
      const page = await store.read('r', 0, 100);
      expect(page.headSeq).toBe(30);
      // Redis trims approximately (whole stream nodes): at least the newest 10 stay, and firstSeq names the oldest kept.
      expect(page.firstSeq).toBeGreaterThan(1);
      expect(page.firstSeq).toBeLessThanOrEqual(21);
      expect(page.messages[0]?.seq).toBe(page.firstSeq);
      expect(page.messages.at(-1)?.seq).toBe(30);
    });

    it('reads the newest messages and pages backwards to seq 1, in ascending pages, with hasOlder', async () => {
      for (let i = 1; i <= 25; i++) await store.append('r', [message(`m${i}`)]);
      const newest = await store.readBefore('r', Number.MAX_SAFE_INTEGER, 10);
      expect(newest.messages.map((m) => m.seq)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
      expect(newest).toMatchObject({ firstSeq: 1, headSeq: 25, hasMore: false, hasOlder: true, headId: 'm25' });
      const seen = [...newest.messages.map((m) => m.seq)];
      for (let before = newest.messages[0]!.seq, more = true; more; ) {
        const page = await store.readBefore('r', before, 7);
        seen.unshift(...page.messages.map((m) => m.seq));
        more = page.hasOlder === true;
        before = page.messages[0]?.seq ?? before;
        if (page.messages.length === 0) break;
      }
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(await store.readBefore('r', 1, 10)).toMatchObject({ messages: [], hasOlder: false });
      expect(await store.readBefore('never-written', Number.MAX_SAFE_INTEGER, 10)).toMatchObject({ epoch: '', messages: [], hasOlder: false });
    });

    it('bounds every page by bytes as well as count, forwards and backwards, and always returns at least one message', async () => {
      await store.close();
      store = await stores.create({ now, maxPageBytes: 10_000 });
      // 3 KB bodies of characters JSON escapes (a quote is two bytes on the wire, a control character six).
      const awkward = (i: number) => `${'"'.repeat(1_000)}${String.fromCharCode(1).repeat(150)}${'é'.repeat(200)}-${i}`;
      for (let i = 1; i <= 20; i++) await store.append('r', [message(`b${i}`, awkward(i))]);
      const wire = (messages: { id: string; type: string; body: string; sender: string }[]) => Buffer.byteLength(JSON.stringify(messages));
      const forward = await store.read('r', 0, 100);
      const backward = await store.readBefore('r', Number.MAX_SAFE_INTEGER, 100);
      for (const page of [forward, backward]) {
        expect(page.messages.length).toBeGreaterThan(0);
        expect(page.messages.length).toBeLessThan(20);
        expect(wire(page.messages)).toBeLessThanOrEqual(10_000);
      }
      expect(forward.messages[0]!.seq).toBe(1);
      expect(forward.hasMore).toBe(true);
      expect(backward.messages.at(-1)!.seq).toBe(20);
      expect(backward.hasOlder).toBe(true);
      // One message bigger than the bound still comes (alone): a page never stalls on it.
      await store.append('big', [message('huge', 'x'.repeat(20_000))]);
      expect((await store.read('big', 0, 10)).messages.map((m) => m.id)).toEqual(['huge']);
    });

    it('says where a trimmed log starts when a window reaches before it', async () => {
      await store.close();
      store = await stores.create({ now, retention: { maxMessages: 10 } });
      for (let i = 0; i < 30; i++) await store.append('r', [message(`m${i}`)]);
      const window = await store.readBefore('r', Number.MAX_SAFE_INTEGER, 100);
      expect(window.messages[0]?.seq).toBe(window.firstSeq);
      expect(window.firstSeq).toBeGreaterThan(1);
      expect(window.hasOlder).toBe(false);
      expect(window.messages.at(-1)?.seq).toBe(30);
    });

    it('trims by bytes like by count: oldest first, the newest kept within the bound, firstSeq names the oldest', async () => {
      await store.close();
      store = await stores.create({ now, retention: { maxBytes: 50_000 } });
      const weight = (m: { id: string; type: string; body: string; sender: string }) => Buffer.byteLength(m.id + m.type + m.body + m.sender);
      // 5 KB bodies one at a time, then a batch of ten that alone passes the bound.
      for (let i = 1; i <= 20; i++) await store.append('r', [message(`m${i}`, 'é'.repeat(2_500))]);
      await store.append('r', Array.from({ length: 10 }, (_, i) => message(`m${21 + i}`, 'é'.repeat(2_500))));
      const page = await store.read('r', 0, 100);
      // Each weighs 3 + 4 + 5,000 + 3 bytes: the newest nine fit in 50,000, ten would not.
      expect(page.messages.map((m) => m.seq)).toEqual([22, 23, 24, 25, 26, 27, 28, 29, 30]);
      expect(page).toMatchObject({ firstSeq: 22, headSeq: 30, hasMore: false });
      expect(page.messages.reduce((sum, m) => sum + weight(m), 0)).toBeLessThanOrEqual(50_000);
      expect(await store.readBefore('r', Number.MAX_SAFE_INTEGER, 100)).toMatchObject({ firstSeq: 22, hasOlder: false });
      // A message alone larger than the bound is kept (the newest always is), alone.
      await store.append('r', [message('huge', 'x'.repeat(60_000))]);
      expect((await store.read('r', 0, 100)).messages.map((m) => m.id)).toEqual(['huge']);
    });

    it('counts out of the byte total what count and age trim, so the byte bound never trims more than it must', async () => {
      await store.close();
      store = await stores.create({ now, retention: { maxMessages: 5, maxBytes: 30_000, maxAgeMs: 60_000 } });
      for (let i = 1; i <= 30; i++) await store.append('r', [message(`c${i}`, 'x'.repeat(5_000))]);
      // Five messages of ~5 KB are within 30,000: the count decides, not a total still holding the 25 trimmed.
      expect((await store.read('r', 0, 100)).messages.map((m) => m.id)).toEqual(['c26', 'c27', 'c28', 'c29', 'c30']);
      clock += 120_000;
      for (let i = 1; i <= 5; i++) await store.append('r', [message(`d${i}`, 'y'.repeat(5_000))]);
      expect((await store.read('r', 0, 100)).messages.map((m) => m.id)).toEqual(['d1', 'd2', 'd3', 'd4', 'd5']);
    });

    it('trims by age', async () => {
      await store.close();
      store = await stores.create({ now, retention: { maxAgeMs: 1000 } });
      await store.append('r', [message('old1'), message('old2')]);
      clock += 5000;
      await store.append('r', [message('new')]);
      const page = await store.read('r', 0, 100);
      expect(page.messages.map((m) => m.id)).toEqual(['new']);
      expect(page.firstSeq).toBe(3);
    });

    it('forgets ids after the dedup retention, never before', async () => {
      await store.close();
      store = await stores.create({ now, dedupRetentionMs: 10_000 });
      await store.append('r', [message('a')]);
      clock += 9_000;
      expect((await store.append('r', [message('a')])).outcomes[0]).toMatchObject({ status: 'duplicate', seq: 1 });
      clock += 30_000;
      expect((await store.append('r', [message('a')])).outcomes[0]).toMatchObject({ status: 'appended', message: { seq: 2 } });
    });
  });
  describeAnnotationStore(name, factory);
}
