import { MAX_REACTION_KEYS, type LogMessage } from '@partyline/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppendInput, AppendOutcome, RoomLogStore } from '../../src/index.js';
import type { StoreFactory } from './room-log-store-contract.js';

const say = (id: string, sender = 'ana', body = `body-${id}`): AppendInput => ({ id, type: 'chat', body, sender });
const annotation = (id: string, type: string, sender: string, fields: Record<string, unknown>): AppendInput => ({ id, type, body: JSON.stringify(fields), sender });
const edit = (id: string, sender: string, target: Record<string, unknown>, body: string) => annotation(id, 'pl:edit', sender, { ...target, body });
const remove = (id: string, sender: string, target: Record<string, unknown>) => annotation(id, 'pl:delete', sender, target);
const react = (id: string, sender: string, target: Record<string, unknown>, key: string) => annotation(id, 'pl:react', sender, { ...target, key });
const unreact = (id: string, sender: string, target: Record<string, unknown>, key: string) => annotation(id, 'pl:unreact', sender, { ...target, key });
const markRead = (id: string, sender: string, seq: number) => annotation(id, 'pl:read', sender, { seq });

/** What a one-entry append answered, without the entry's ts (the clock). */
async function one(store: RoomLogStore, room: string, input: AppendInput, moderate = false): Promise<AppendOutcome> {
  const { outcomes } = await store.append(room, [input], { moderate });
  return outcomes[0]!;
}

/** Reaction counts of one message by folding its annotations in log order (the checker's rule, reactions only). */
function foldReactions(entries: readonly LogMessage[], target: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of entries) {
    if (entry.type !== 'pl:react' && entry.type !== 'pl:unreact') continue;
    const { seq, key } = JSON.parse(entry.body) as { seq: number; key: string };
    if (seq !== target) continue;
    counts[key] = (counts[key] ?? 0) + (entry.type === 'pl:react' ? 1 : -1);
    if (counts[key] === 0) delete counts[key];
  }
  return counts;
}

/** Edits, deletes, reactions and read positions: the rules every room log store applies in its append step. */
export function describeAnnotationStore(name: string, factory: () => Promise<StoreFactory>): void {
  describe(`room log store annotations: ${name}`, () => {
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

    it('appends an edit by the sender and keeps the latest body in the summary of every page', async () => {
      await store.append('r', [say('m1'), say('m2')]);
      const first = await one(store, 'r', edit('e1', 'ana', { id: 'm1' }, 'v2'));
      expect(first).toMatchObject({ status: 'appended', message: { seq: 3, type: 'pl:edit', sender: 'ana' } });
      clock += 1000;
      expect(await one(store, 'r', edit('e2', 'ana', { id: 'm1', seq: 1 }, 'v3'))).toMatchObject({ status: 'appended', message: { seq: 4 } });
      const forward = await store.read('r', 0, 10);
      const backward = await store.readBefore('r', Number.MAX_SAFE_INTEGER, 10);
      for (const page of [forward, backward]) {
        expect(page.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
        expect(page.summaries).toEqual({ '1': { body: 'v3', editedAt: clock } });
      }
      // A page without the annotated message carries no summaries.
      expect((await store.read('r', 1, 10)).summaries).toBeUndefined();
    });

    it("refuses an edit or delete of another member's message unless the batch may moderate", async () => {
      await store.append('r', [say('m1')]);
      expect(await one(store, 'r', edit('e1', 'bob', { id: 'm1', from: 'ana' }, 'hacked'))).toMatchObject({ status: 'refused', kind: 'forbidden' });
      expect(await one(store, 'r', remove('d1', 'bob', { id: 'm1', from: 'ana' }))).toMatchObject({ status: 'refused', kind: 'forbidden' });
      expect((await store.read('r', 0, 10)).headSeq).toBe(1);
      expect(await one(store, 'r', edit('e2', 'mod', { id: 'm1', from: 'ana' }, 'tidied'), true)).toMatchObject({ status: 'appended', message: { seq: 2 } });
      expect(await one(store, 'r', remove('d2', 'mod', { id: 'm1', from: 'ana' }), true)).toMatchObject({ status: 'appended', message: { seq: 3 } });
      expect((await store.read('r', 0, 10)).summaries?.['1']).toMatchObject({ deleted: true });
    });

    it('resolves the target by seq (which must name that very message) or by id and sender', async () => {
      await store.append('r', [say('m1')]);
      await store.append('r', [say('m1', 'bob', 'bob says')]);
      // By id|from: bob's m1 is seq 2.
      expect(await one(store, 'r', react('x1', 'ana', { id: 'm1', from: 'bob' }, '👍'))).toMatchObject({ status: 'appended' });
      // The same id without from is ana's own.
      expect(await one(store, 'r', react('x2', 'ana', { id: 'm1' }, '🎉'))).toMatchObject({ status: 'appended' });
      const page = await store.read('r', 0, 10, 'ana');
      expect(page.summaries).toEqual({ '1': { reactions: { '🎉': { count: 1, mine: true } } }, '2': { reactions: { '👍': { count: 1, mine: true } } } });
      const notFound = { status: 'refused', kind: 'not_found' };
      // A seq that names another message, an annotation, or nothing.
      expect(await one(store, 'r', react('x3', 'ana', { id: 'm1', seq: 2 }, '👍'))).toMatchObject(notFound);
      expect(await one(store, 'r', react('x4', 'ana', { id: 'x1', seq: 3 }, '👍'))).toMatchObject(notFound);
      expect(await one(store, 'r', react('x5', 'ana', { id: 'm1', seq: 99 }, '👍'))).toMatchObject(notFound);
      // An id nobody sent, and an annotation's own id.
      expect(await one(store, 'r', react('x6', 'ana', { id: 'nope' }, '👍'))).toMatchObject(notFound);
      expect(await one(store, 'r', react('x7', 'ana', { id: 'x1' }, '👍'))).toMatchObject(notFound);
      expect((await store.read('r', 0, 10)).headSeq).toBe(4);
      // A refusal is not remembered: once the target exists, the same id goes through.
      await store.append('r', [say('nope')]);
      expect(await one(store, 'r', react('x6', 'ana', { id: 'nope' }, '👍'))).toMatchObject({ status: 'appended' });
    });

    it('targets a message appended earlier in the same batch', async () => {
      const { outcomes } = await store.append('r', [say('m1'), react('x1', 'ana', { id: 'm1' }, '👍'), edit('e1', 'ana', { id: 'm1', seq: 1 }, 'v2')]);
      expect(outcomes.map((o) => o.status)).toEqual(['appended', 'appended', 'appended']);
      expect((await store.read('r', 0, 10)).summaries).toEqual({ '1': { body: 'v2', editedAt: clock, reactions: { '👍': { count: 1 } } } });
    });

    it('counts reactions per key and user: a held reaction and an unheld unreaction are noops', async () => {
      await store.append('r', [say('m1')]);
      expect(await one(store, 'r', react('a1', 'ana', { id: 'm1' }, '👍'))).toMatchObject({ status: 'appended', message: { seq: 2 } });
      expect(await one(store, 'r', react('b1', 'bob', { id: 'm1', from: 'ana' }, '👍'))).toMatchObject({ status: 'appended', message: { seq: 3 } });
      expect(await one(store, 'r', react('b2', 'bob', { id: 'm1', from: 'ana' }, '👍'))).toEqual({ status: 'noop', id: 'b2', seq: 1 });
      expect(await one(store, 'r', unreact('c1', 'cy', { id: 'm1', from: 'ana' }, '👍'))).toEqual({ status: 'noop', id: 'c1', seq: 1 });
      expect((await store.read('r', 0, 10, 'bob')).summaries).toEqual({ '1': { reactions: { '👍': { count: 2, mine: true } } } });
      expect((await store.read('r', 0, 10, 'cy')).summaries).toEqual({ '1': { reactions: { '👍': { count: 2 } } } });
      expect(await one(store, 'r', unreact('a2', 'ana', { id: 'm1' }, '👍'))).toMatchObject({ status: 'appended', message: { seq: 4 } });
      expect(await one(store, 'r', unreact('b3', 'bob', { id: 'm1', from: 'ana' }, '👍'))).toMatchObject({ status: 'appended', message: { seq: 5 } });
      // No key left: the summary says nothing (an empty summary: the message was annotated).
      expect((await store.read('r', 0, 10, 'bob')).summaries).toEqual({ '1': {} });
      // A key such as __proto__ is a key like any other.
      await store.append('r', [react('a3', 'ana', { id: 'm1' }, '__proto__')]);
      expect(Object.entries((await store.read('r', 0, 10, 'ana')).summaries?.['1']?.reactions ?? {})).toEqual([['__proto__', { count: 1, mine: true }]]);
    });

    it(`refuses a ${MAX_REACTION_KEYS + 1}th distinct reaction key, and still counts the ${MAX_REACTION_KEYS} it holds`, async () => {
      await store.append('r', [say('m1')]);
      const keys = Array.from({ length: MAX_REACTION_KEYS }, (_, i) => `k${i}`);
      const { outcomes } = await store.append('r', keys.map((key, i) => react(`a${i}`, 'ana', { id: 'm1' }, key)));
      expect(outcomes.every((o) => o.status === 'appended')).toBe(true);
      expect(await one(store, 'r', react('b1', 'bob', { id: 'm1', from: 'ana' }, 'one-too-many'))).toMatchObject({ status: 'refused', kind: 'bad_request' });
      expect(await one(store, 'r', react('b2', 'bob', { id: 'm1', from: 'ana' }, 'k0'))).toMatchObject({ status: 'appended' });
      expect((await store.read('r', 0, 1)).summaries?.['1']?.reactions?.['k0']).toEqual({ count: 2 });
    });

    it('deletes: clears body and reactions; later edits and reactions are refused, a second delete is a noop', async () => {
      await store.append('r', [say('m1'), edit('e1', 'ana', { id: 'm1' }, 'v2')]);
      await store.append('r', [react('b1', 'bob', { id: 'm1', from: 'ana' }, '👍')]);
      expect(await one(store, 'r', remove('d1', 'ana', { id: 'm1' }))).toMatchObject({ status: 'appended', message: { seq: 4 } });
      expect((await store.read('r', 0, 10, 'bob')).summaries).toEqual({ '1': { editedAt: clock, deleted: true } });
      const deleted = { status: 'refused', kind: 'message_deleted' };
      expect(await one(store, 'r', edit('e2', 'ana', { id: 'm1' }, 'v3'))).toMatchObject(deleted);
      expect(await one(store, 'r', react('b2', 'bob', { id: 'm1', from: 'ana' }, '👍'))).toMatchObject(deleted);
      expect(await one(store, 'r', unreact('b3', 'bob', { id: 'm1', from: 'ana' }, '👍'))).toMatchObject(deleted);
      expect(await one(store, 'r', remove('d2', 'ana', { id: 'm1' }))).toEqual({ status: 'noop', id: 'd2', seq: 1 });
      expect((await store.read('r', 0, 10)).headSeq).toBe(4);
    });

    it('answers the resend of a noop as a duplicate noop with the same seq, and a reused id with other content as a conflict', async () => {
      await store.append('r', [say('m1'), react('a1', 'ana', { id: 'm1' }, '👍')]);
      const noop = react('a2', 'ana', { id: 'm1' }, '👍');
      expect(await one(store, 'r', noop)).toEqual({ status: 'noop', id: 'a2', seq: 1 });
      // Even after the reaction went (the resend answers what the first send did).
      await store.append('r', [unreact('a3', 'ana', { id: 'm1' }, '👍')]);
      expect(await one(store, 'r', noop)).toEqual({ status: 'duplicate', id: 'a2', seq: 1, noop: true });
      expect(await one(store, 'r', react('a2', 'ana', { id: 'm1' }, '🎉'))).toEqual({ status: 'conflict', id: 'a2', seq: 1 });
      expect((await store.read('r', 0, 10)).headSeq).toBe(3);
      // An appended annotation resent is a plain duplicate.
      expect(await one(store, 'r', react('a1', 'ana', { id: 'm1' }, '👍'))).toEqual({ status: 'duplicate', id: 'a1', seq: 2 });
    });

    it('moves read positions: forward only, capped at the head, by pl:read (never appended) and by posting', async () => {
      const posted = await store.append('r', [say('m1'), say('m2'), say('m3')]);
      expect(posted.reads).toEqual([{ sub: 'ana', seq: 3 }]);
      expect(await store.readState('r', 'ana')).toEqual({ seq: 3, unread: 0 });
      expect(await store.readState('r', 'bob')).toEqual({ seq: 0, unread: 3 });
      const read = await store.append('r', [markRead('r1', 'bob', 2)]);
      expect(read.outcomes).toEqual([{ status: 'noop', id: 'r1', seq: 2 }]);
      expect(read.reads).toEqual([{ sub: 'bob', seq: 2 }]);
      // Backwards: no move, the noop names the stored position.
      const back = await store.append('r', [markRead('r2', 'bob', 1)]);
      expect(back.outcomes).toEqual([{ status: 'noop', id: 'r2', seq: 2 }]);
      expect(back.reads).toBeUndefined();
      // Past the head: capped.
      expect((await store.append('r', [markRead('r3', 'bob', 1_000)])).outcomes).toEqual([{ status: 'noop', id: 'r3', seq: 3 }]);
      expect((await store.read('r', 0, 10)).headSeq).toBe(3);
      expect(await store.readState('r', 'bob')).toEqual({ seq: 3, unread: 0 });
      // Annotations do not move their sender's position, and do not count as unread.
      await store.append('r', [say('m4', 'cy'), react('x1', 'cy', { id: 'm1', from: 'ana' }, '👍'), edit('x2', 'cy', { id: 'm4' }, 'v2')]);
      expect(await store.readState('r', 'cy')).toEqual({ seq: 4, unread: 0 });
      expect(await store.readState('r', 'bob')).toEqual({ seq: 3, unread: 1 });
      expect(await store.readState('r', 'ana')).toEqual({ seq: 3, unread: 1 });
      expect(await store.readState('never-written', 'ana')).toEqual({ seq: 0, unread: 0 });
      // A read and a post in one batch: one move, to the furthest.
      expect((await store.append('r', [markRead('r4', 'bob', 6), say('m5', 'bob')])).reads).toEqual([{ sub: 'bob', seq: 7 }]);
      expect(await store.receipts('r', 10)).toEqual([
        { sub: 'bob', seq: 7 },
        { sub: 'cy', seq: 4 },
        { sub: 'ana', seq: 3 },
      ]);
      expect(await store.receipts('r', 2)).toHaveLength(2);
      expect(await store.receipts('never-written', 10)).toEqual([]);
    });

    it('counts `limit` backwards in messages: the page runs back to the n-th newest message with every annotation between', async () => {
      await store.append('r', [say('m1'), say('m2'), say('m3')]);
      await store.append('r', [react('a1', 'ana', { id: 'm2' }, '👍'), react('a2', 'ana', { id: 'm3' }, '👍'), say('m4'), edit('a3', 'ana', { id: 'm4' }, 'v2')]);
      // Log: 1 m1, 2 m2, 3 m3, 4 react m2, 5 react m3, 6 m4, 7 edit m4.
      const last2 = await store.readBefore('r', Number.MAX_SAFE_INTEGER, 2, 'ana');
      expect(last2.messages.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
      expect(last2.hasOlder).toBe(true);
      expect(last2.summaries).toEqual({ '3': { reactions: { '👍': { count: 1, mine: true } } }, '6': { body: 'v2', editedAt: clock } });
      const older = await store.readBefore('r', 3, 1);
      expect(older.messages.map((m) => m.seq)).toEqual([2]);
      // The summary is as of the head, although the page ends before the annotation.
      expect(older.summaries).toEqual({ '2': { reactions: { '👍': { count: 1 } } } });
      expect((await store.readBefore('r', 6, 10)).messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      // Forward pages count entries.
      expect((await store.read('r', 2, 3)).messages.map((m) => m.seq)).toEqual([3, 4, 5]);
    });

    it('keeps the byte bound on backward pages that count messages', async () => {
      await store.close();
      store = await stores.create({ now, maxPageBytes: 5_000 });
      await store.append('r', [say('m1')]);
      await store.append('r', Array.from({ length: 10 }, (_, i) => edit(`e${i}`, 'ana', { id: 'm1' }, 'x'.repeat(1_000))));
      const page = await store.readBefore('r', Number.MAX_SAFE_INTEGER, 1);
      expect(page.messages.length).toBeGreaterThan(0);
      expect(page.messages.length).toBeLessThan(11);
      expect(page.messages.at(-1)?.seq).toBe(11);
      expect(page.hasOlder).toBe(true);
    });

    it('trims summaries, reactions and the annotation index with the log: a trimmed target is not_found, kept ones keep theirs', async () => {
      await store.close();
      store = await stores.create({ now, retention: { maxMessages: 10 } });
      await store.append('r', [say('m1'), say('m2')]);
      await store.append('r', [react('a1', 'bob', { id: 'm1', from: 'ana' }, '👍'), react('a2', 'bob', { id: 'm2', from: 'ana' }, '👍')]);
      for (let i = 3; i <= 20; i++) await store.append('r', [say(`m${i}`)]);
      await store.append('r', [react('a3', 'bob', { id: 'm20', from: 'ana' }, '👍')]);
      const page = await store.read('r', 0, 100, 'bob');
      expect(page.firstSeq).toBeGreaterThan(4);
      expect(page.summaries).toEqual({ '22': { reactions: { '👍': { count: 1, mine: true } } } });
      // Trimmed, then reacted to again: gone for good.
      expect(await one(store, 'r', react('a4', 'cy', { id: 'm1', from: 'ana', seq: 1 }, '👍'))).toMatchObject({ status: 'refused', kind: 'not_found' });
      expect(await one(store, 'r', react('a5', 'cy', { id: 'm1', from: 'ana' }, '👍'))).toMatchObject({ status: 'refused', kind: 'not_found' });
      expect(await store.readState('r', 'ana')).toEqual({ seq: 22, unread: 0 });
    });

    it('forgets a room idle past the retention age with its summaries and read positions', async () => {
      await store.close();
      store = await stores.create({ now, retention: { maxAgeMs: 60_000 }, dedupRetentionMs: 60_000 });
      await store.append('r', [say('m1'), react('a1', 'ana', { id: 'm1' }, '👍')]);
      // Memory evicts on a sweep; Redis expires its keys (checked in redis-store.test.ts).
      clock += 60 * 60_000;
      if (store.kind === 'memory') {
        expect(await store.readState('r', 'ana')).toEqual({ seq: 0, unread: 0 });
        expect(await store.receipts('r', 10)).toEqual([]);
      }
      const again = await store.append('r', [say('m1')]);
      expect(again.outcomes[0]).toMatchObject({ status: 'appended' });
    });

    it('stays exact under concurrent reactions from several store instances: the counts equal the fold of the log', async () => {
      // Several instances on one backend where the store is shared (Redis); one instance in memory.
      const instances = store.kind === 'memory' ? [store, store, store, store] : await Promise.all([0, 1, 2, 3].map(() => stores.create({ now })));
      await store.append('r', [say('m1')]);
      const users = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
      const keys = ['👍', '🎉', '❤️'];
      let n = 0;
      const rounds = Array.from({ length: 40 }, (_, round) =>
        Promise.all(
          instances.flatMap((instance, i) =>
            users.map((user, u) => {
              const key = keys[(round + i + u) % keys.length]!;
              const entry = (round + u) % 2 === 0 ? react(`x${n++}`, user, { id: 'm1', from: 'ana', seq: 1 }, key) : unreact(`x${n++}`, user, { id: 'm1', from: 'ana', seq: 1 }, key);
              return instance.append('r', [entry]);
            }),
          ),
        ),
      );
      const results = (await Promise.all(rounds)).flat();
      expect(results.every((r) => r.outcomes[0]!.status === 'appended' || r.outcomes[0]!.status === 'noop')).toBe(true);
      const entries: LogMessage[] = [];
      for (let since = 0, more = true; more; ) {
        const page = await store.read('r', since, 500);
        entries.push(...page.messages);
        since = page.messages.at(-1)?.seq ?? since;
        more = page.hasMore;
      }
      const appended = results.filter((r) => r.outcomes[0]!.status === 'appended').length;
      expect(entries).toHaveLength(1 + appended);
      const folded = foldReactions(entries, 1);
      const summary = (await store.read('r', 0, 1)).summaries?.['1']?.reactions ?? {};
      expect(Object.fromEntries(Object.entries(summary).map(([key, value]) => [key, value.count]))).toEqual(folded);
      expect(Object.keys(folded).length).toBeGreaterThan(0);
      if (store.kind !== 'memory') await Promise.all(instances.map((instance) => instance.close()));
    });

    it("keeps each user's rooms newest first, at most 1000, for 30 days", async () => {
      await store.noteUserRoom('ana', 'a');
      clock += 1;
      await store.noteUserRoom('ana', 'b');
      clock += 1;
      await store.noteUserRoom('ana', 'a');
      expect(await store.userRooms('ana')).toEqual(['a', 'b']);
      expect(await store.userRooms('bob')).toEqual([]);
      for (let i = 0; i < 1000; i++) {
        clock += 1;
        await store.noteUserRoom('bob', `r${i}`);
      }
      clock += 1;
      await store.noteUserRoom('bob', 'last');
      const rooms = await store.userRooms('bob');
      expect(rooms).toHaveLength(1000);
      expect(rooms.slice(0, 2)).toEqual(['last', 'r999']);
      expect(rooms).not.toContain('r0');
      clock += 30 * 24 * 60 * 60 * 1000 + 1;
      expect(await store.userRooms('ana')).toEqual([]);
    });
  });
}
