import { describe, expect, it } from 'vitest';
import type { PresenceStore } from '../../src/store/presence-store.js';

const lease = (connection: string, sub: string) => ({ key: `${connection}|${sub}`, sub });
const kinds = (result: { changes: { kind: string; member: { sub: string } }[] }) => result.changes.map((c) => `${c.kind}:${c.member.sub}`);

/** One behaviour for every presence store: members per identity, numbered changes, leases that run out. */
export function describePresenceStore(name: string, open: () => Promise<PresenceStore>): void {
  describe(`presence store contract: ${name}`, () => {
    let room = 0;
    const fresh = () => `presence-${name}-${Date.now()}-${room++}`;

    it('makes one member of an identity’s many leases, numbers every change, and leaves with the last lease', async () => {
      const store = await open();
      const r = fresh();
      const later = Date.now() + 60_000;
      const first = await store.enter(r, lease('tab1', 'ana'), '{"name":"Ana"}', later);
      expect(kinds(first)).toEqual(['joined:ana']);
      expect(first.changes[0]).toMatchObject({ version: 1, member: { sub: 'ana', data: '{"name":"Ana"}' } });
      expect(first.epoch).not.toBe('');
      expect(kinds(await store.enter(r, lease('tab2', 'ana'), undefined, later))).toEqual([]);
      expect(kinds(await store.enter(r, lease('tab1', 'bob'), undefined, later))).toEqual(['joined:bob']);
      const updated = await store.enter(r, lease('tab2', 'ana'), '{"name":"Ana B."}', later);
      expect(updated.changes).toMatchObject([{ version: 3, kind: 'updated', member: { sub: 'ana', data: '{"name":"Ana B."}' } }]);
      expect(kinds(await store.enter(r, lease('tab2', 'ana'), '{"name":"Ana B."}', later))).toEqual([]); // same data: no change
      expect(kinds(await store.leave(r, lease('tab1', 'ana')))).toEqual([]);
      const snapshot = await store.snapshot(r);
      expect(snapshot).toMatchObject({ epoch: first.epoch, version: 3 });
      expect(snapshot.members.map((m) => m.sub).sort()).toEqual(['ana', 'bob']);
      const left = await store.leave(r, lease('tab2', 'ana'));
      expect(left.changes).toMatchObject([{ version: 4, kind: 'left', member: { sub: 'ana' } }]);
      expect(kinds(await store.leave(r, lease('tab2', 'ana')))).toEqual([]); // twice: nothing more
      expect((await store.snapshot(r)).members.map((m) => m.sub)).toEqual(['bob']);
      await store.close();
    });

    it('sweeps expired leases only, and a member leaves only when all its leases ran out', async () => {
      const store = await open();
      const r = fresh();
      const now = Date.now();
      await store.enter(r, lease('a', 'ana'), undefined, now + 60_000);
      await store.enter(r, lease('b', 'ana'), undefined, now + 60_000);
      await store.enter(r, lease('c', 'cid'), undefined, now + 60_000);
      expect(await store.extend(r, ['a|ana', 'gone|zed'], now - 1)).toEqual(['gone|zed']);
      await store.extend(r, ['c|cid'], now - 1);
      const swept = await store.sweep(now, 1000);
      expect(kinds(swept.get(r)!)).toEqual(['left:cid']);
      expect((await store.snapshot(r)).members.map((m) => m.sub)).toEqual(['ana']);
      await store.extend(r, ['b|ana'], now - 1);
      expect(kinds((await store.sweep(now, 1000)).get(r)!)).toEqual(['left:ana']);
      expect((await store.sweep(now, 1000)).get(r)).toBeUndefined();
      await store.close();
    });

    it('sweeps by the earliest lease however the leases came and went: entered behind others, ahead of them, or left', async () => {
      const store = await open();
      const r = fresh();
      const now = Date.now();
      await store.enter(r, lease('a', 'ana'), undefined, now + 10_000);
      await store.enter(r, lease('b', 'bob'), undefined, now + 30_000); // behind ana's
      await store.enter(r, lease('c', 'cid'), undefined, now + 5_000); // ahead of both
      expect(kinds((await store.sweep(now + 6_000, 1000)).get(r)!)).toEqual(['left:cid']);
      await store.leave(r, lease('a', 'ana'));
      expect((await store.sweep(now + 20_000, 1000)).get(r)).toBeUndefined();
      expect(kinds((await store.sweep(now + 31_000, 1000)).get(r)!)).toEqual(['left:bob']);
      await store.close();
    });

    it('serves many rooms at once: enters, renewals, sweeps and leaves of 30 rooms issued in one turn all succeed', async () => {
      // On a Cluster the rooms live on different masters, and commands of one turn are batched per node.
      const store = await open();
      const rooms = Array.from({ length: 30 }, () => fresh());
      const later = Date.now() + 60_000;
      const entered = await Promise.all(rooms.map((r) => store.enter(r, lease('tab', 'ana'), undefined, later)));
      expect(entered.map(kinds)).toEqual(rooms.map(() => ['joined:ana']));
      const renewed = await Promise.all(rooms.map((r) => store.extend(r, ['tab|ana'], later + 1_000)));
      expect(renewed).toEqual(rooms.map(() => []));
      const swept = await store.sweep(later + 500, 100);
      expect(rooms.filter((r) => swept.has(r))).toEqual([]); // renewed: none of them expired
      const left = await Promise.all(rooms.map((r) => store.leave(r, lease('tab', 'ana'))));
      expect(left.map(kinds)).toEqual(rooms.map(() => ['left:ana']));
      await store.close();
    });

    it('answers an unknown room with no members, and numbers concurrent changes without gaps', async () => {
      const store = await open();
      expect(await store.snapshot(fresh())).toEqual({ epoch: '', version: 0, members: [] });
      const r = fresh();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.enter(r, lease(`c${i}`, `user${i}`), undefined, Date.now() + 60_000)));
      const versions = results.flatMap((result) => result.changes.map((change) => change.version)).sort((a, b) => a - b);
      expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect((await store.snapshot(r)).version).toBe(20);
      await store.close();
    });
  });
}
