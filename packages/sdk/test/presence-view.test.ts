import type { PresenceChange } from '@partyline/protocol';
import { describe, expect, it } from 'vitest';
import { PresenceView } from '../src/presence-view.js';

const m = (sub: string, data?: string) => ({ sub, since: 1, ...(data !== undefined ? { data } : {}) });
const c = (version: number, kind: PresenceChange['kind'], sub: string, data?: string): PresenceChange => ({ version, kind, member: m(sub, data) });
const subs = (view: PresenceView) => [...view.members.keys()].sort();

describe('PresenceView', () => {
  it('applies changes in version order: early ones wait, repeats and older ones are dropped', () => {
    const view = new PresenceView();
    view.reset({ epoch: 'e', version: 2, members: [m('ana')] });
    expect(view.apply('e', [c(4, 'joined', 'cid')])).toMatchObject({ stale: true, diff: { joined: [] } });
    const filled = view.apply('e', [c(2, 'joined', 'ana'), c(3, 'joined', 'bob')]);
    expect(filled.stale).toBe(false);
    expect(filled.diff.joined.map((x) => x.sub)).toEqual(['bob', 'cid']);
    expect(view.apply('e', [c(3, 'joined', 'bob')]).diff.joined).toEqual([]);
    expect(view.apply('e', [c(5, 'left', 'ana'), c(6, 'updated', 'bob', '"x"')]).diff).toMatchObject({ left: [{ sub: 'ana' }], updated: [{ sub: 'bob', data: '"x"' }] });
    expect(subs(view)).toEqual(['bob', 'cid']);
    expect(view.version).toBe(6);
  });

  it('asks for a snapshot on another epoch, and a snapshot tells only what differs from what the app saw', () => {
    const view = new PresenceView();
    view.reset({ epoch: 'e1', version: 3, members: [m('ana', '"a"'), m('bob')] });
    expect(view.apply('e2', [c(1, 'joined', 'cid')]).stale).toBe(true);
    const diff = view.reset({ epoch: 'e2', version: 1, members: [m('ana', '"A"'), m('cid')] });
    expect(diff).toEqual({ joined: [m('cid')], left: [m('bob')], updated: [m('ana', '"A"')] });
    // A reconnect that finds the same members shows nothing.
    expect(view.reset({ epoch: 'e2', version: 1, members: [m('cid'), m('ana', '"A"')] })).toEqual({ joined: [], left: [], updated: [] });
  });

  it('continues an empty room whose presence began after its snapshot, and holds changes that continue a later snapshot', () => {
    const view = new PresenceView();
    view.reset({ epoch: '', version: 0, members: [] });
    expect(view.apply('e', [c(1, 'joined', 'ana')])).toMatchObject({ stale: false, diff: { joined: [{ sub: 'ana' }] } });
    expect(view.apply('e', [c(4, 'joined', 'dan')]).stale).toBe(true);
    // The snapshot taken meanwhile is at version 3; the held change 4 continues it.
    const diff = view.reset({ epoch: 'e', version: 3, members: [m('ana'), m('bob'), m('cid')] });
    expect(diff.joined.map((x) => x.sub)).toEqual(['bob', 'cid', 'dan']);
    expect(view.version).toBe(4);
  });
});
