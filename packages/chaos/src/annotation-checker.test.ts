import type { LogMessage, MessageSummary } from '@partyline/protocol';
import { foldMessages, type FoldedMessage } from '@partyline/sdk';
import { describe, expect, it } from 'vitest';
import { checkAnnotations, type MemberLook, type RelayLook } from './annotation-checker.js';
import { checkHistories, type MemberHistory, type QueuedAnnotation, type RoomLog } from './checker.js';

const entry = (seq: number, id: string, sender: string, type: string, body: unknown): LogMessage => ({ seq, id, sender, type, body: JSON.stringify(body), ts: 1000 + seq });
// alice posts m1, bob m2; bob reacts 👍 to m1, alice edits m1 and reacts 🎉 to m2 (found by id and sender), bob posts m3.
const entries: LogMessage[] = [
  entry(1, 'm1', 'alice', 'chat', { t: 1 }),
  entry(2, 'm2', 'bob', 'chat', { t: 'b' }),
  entry(3, 'a1', 'bob', 'pl:react', { id: 'm1', from: 'alice', seq: 1, key: '👍' }),
  entry(4, 'a2', 'alice', 'pl:edit', { id: 'm1', seq: 1, body: JSON.stringify({ t: 2 }) }),
  entry(5, 'a3', 'alice', 'pl:react', { id: 'm2', from: 'bob', key: '🎉' }),
  entry(6, 'm3', 'bob', 'chat', { t: 'c' }),
];
const logOf = (messages: LogMessage[]): RoomLog => ({ room: 'r', epoch: 'e1', firstSeq: 1, headSeq: messages.at(-1)?.seq ?? 0, messages });
const log = logOf(entries);

const annotation = (id: string, type: QueuedAnnotation['type'], target: [id: string, seq: number, from: string], key?: string): QueuedAnnotation => ({
  id,
  type,
  target: { id: target[0], seq: target[1], from: target[2] },
  ...(key ? { key } : {}),
});
const history = (member: string, overrides: Partial<MemberHistory> = {}): MemberHistory => ({ member, room: 'r', user: member, queued: [], failed: [], acks: [], sessions: [], ...overrides });
const alice = (overrides: Partial<MemberHistory> = {}) =>
  history('alice', { queued: ['m1'], annotations: [annotation('a2', 'pl:edit', ['m1', 1, 'alice']), annotation('a3', 'pl:react', ['m2', 2, 'bob'], '🎉')], marks: [3], ...overrides });
const bob = (overrides: Partial<MemberHistory> = {}) => history('bob', { queued: ['m2', 'm3'], annotations: [annotation('a1', 'pl:react', ['m1', 1, 'alice'], '👍')], ...overrides });

/** A member's view as the fold of the log shows it to `user`, with its read state; `change` alters one message. */
function lookOf(user: string, read: { readSeq: number; unread: number }, change?: (message: FoldedMessage) => FoldedMessage): MemberLook {
  const messages = foldMessages(entries, { caller: user }).map((message) => (change ? change(message) : message));
  return { member: user, room: 'r', user, messages, ...read };
}
const READ = { alice: { seq: 3, unread: 1 }, bob: { seq: 6, unread: 0 } };
const looks = (): MemberLook[] => [lookOf('alice', { readSeq: 3, unread: 1 }), lookOf('bob', { readSeq: 6, unread: 0 })];

function summariesFor(user: 'alice' | 'bob'): Record<string, MessageSummary> {
  return {
    '1': { body: JSON.stringify({ t: 2 }), editedAt: 1004, reactions: { '👍': { count: 1, ...(user === 'bob' ? { mine: true as const } : {}) } } },
    '2': { reactions: { '🎉': { count: 1, ...(user === 'alice' ? { mine: true as const } : {}) } } },
  };
}
const relayLook = (user: 'alice' | 'bob', overrides: Partial<RelayLook> = {}): RelayLook => ({ relay: '1', room: 'r', user, summaries: summariesFor(user), read: READ[user], unread: READ[user].unread, ...overrides });
const relayLooks = () => [relayLook('alice'), relayLook('bob')];

const check = (overrides: { histories?: MemberHistory[]; logs?: RoomLog[]; looks?: MemberLook[]; relayLooks?: RelayLook[] } = {}) =>
  checkAnnotations({ histories: [alice(), bob()], logs: [log], looks: looks(), relayLooks: relayLooks(), ...overrides });
const CLEAN = { noopsUnexplained: 0, refusalsUnexplained: 0, ruleViolations: 0, memberMismatches: 0, relayMismatches: 0, readMismatches: { relays: 0, members: 0 }, relayLookFailures: 0 };

describe('checkAnnotations', () => {
  it('passes views and summaries that are the fold of the log', () => {
    const result = check();
    expect(result).toMatchObject({ ...CLEAN, published: 3, appended: 3, noop: 0, refused: 0 });
    expect(result.examples).toEqual([]);
  });

  describe("members' folded views", () => {
    it('fails a member that applied a reaction twice', () => {
      const doubled = lookOf('alice', { readSeq: 3, unread: 1 }, (message) => (message.id === 'm1' ? { ...message, reactions: { '👍': { count: 2, mine: false } } } : message));
      const result = check({ looks: [doubled, looks()[1]!] });
      expect(result.memberMismatches).toBe(1);
      expect(result.examples[0]).toContain('seq 1 (m1)');
    });

    it('fails a member that missed an edit', () => {
      const stale = lookOf('bob', { readSeq: 6, unread: 0 }, (message) => (message.id === 'm1' ? { ...message, body: { t: 1 }, edited: false } : message));
      expect(check({ looks: [looks()[0]!, stale] }).memberMismatches).toBe(1);
    });

    it("fails a member that shows another user's reaction as its own", () => {
      const mine = lookOf('bob', { readSeq: 6, unread: 0 }, (message) => (message.id === 'm2' ? { ...message, reactions: { '🎉': { count: 1, mine: true } } } : message));
      expect(check({ looks: [looks()[0]!, mine] }).memberMismatches).toBe(1);
    });

    it('fails a member whose message(id) answers otherwise than messages()', () => {
      expect(check({ looks: [{ ...looks()[0]!, byIdDiffers: [1] }, looks()[1]!] }).memberMismatches).toBe(1);
    });

    it("fails a member whose read state is not its user's furthest mark or post", () => {
      const behind = lookOf('alice', { readSeq: 1, unread: 2 });
      expect(check({ looks: [behind, looks()[1]!] }).readMismatches).toEqual({ members: 1, relays: 0 });
    });
  });

  describe("relays' summaries", () => {
    it('fails a relay whose summary diverges from the fold', () => {
      const wrong = relayLook('alice', { summaries: { ...summariesFor('alice'), '2': { reactions: { '🎉': { count: 2, mine: true } } } } });
      const result = check({ relayLooks: [wrong, relayLook('bob')] });
      expect(result.relayMismatches).toBe(1);
      expect(result.examples[0]).toContain('relay summary mismatch');
    });

    it('fails a relay that misses a summary, keeps one of a plain message, or loses an edit', () => {
      const { '2': _dropped, ...missing } = summariesFor('bob');
      expect(check({ relayLooks: [relayLook('alice'), relayLook('bob', { summaries: missing })] }).relayMismatches).toBe(1);
      expect(check({ relayLooks: [relayLook('alice', { summaries: { ...summariesFor('alice'), '6': { reactions: { '👍': { count: 1 } } } } })] }).relayMismatches).toBe(1);
      expect(check({ relayLooks: [relayLook('alice', { summaries: { ...summariesFor('alice'), '1': { reactions: { '👍': { count: 1 } } } } })] }).relayMismatches).toBe(1);
    });

    it('fails a read position or unread count the relays keep otherwise than marks and posts say', () => {
      expect(check({ relayLooks: [relayLook('alice', { read: { seq: 1, unread: 2 } }), relayLook('bob')] }).readMismatches).toEqual({ members: 0, relays: 1 });
      expect(check({ relayLooks: [relayLook('alice', { unread: 3 }), relayLook('bob')] }).readMismatches.relays).toBe(1);
    });

    it('counts a relay that did not answer a user', () => {
      const failed: RelayLook = { relay: '1', room: 'r', user: 'alice', summaries: {}, failed: 'user:unread {}: unavailable' };
      expect(check({ relayLooks: [failed, relayLook('bob')] })).toMatchObject({ relayLookFailures: 1, relayMismatches: 0 });
    });
  });

  describe('outcomes', () => {
    it('explains a noop reaction only when the log holds that reaction of the user', () => {
      const again = annotation('a9', 'pl:react', ['m1', 1, 'alice'], '👍');
      const acks = [{ id: 'a9', seq: 1, at: 1 }];
      expect(check({ histories: [alice(), bob({ annotations: [again], acks })] })).toMatchObject({ noop: 1, noopsUnexplained: 0 });
      const never = { ...again, key: '🎉' };
      expect(check({ histories: [alice(), bob({ annotations: [never], acks })] })).toMatchObject({ noop: 1, noopsUnexplained: 1 });
    });

    it('explains message_deleted only for a message the log deleted', () => {
      const deleted = [...entries, entry(7, 'a4', 'alice', 'pl:delete', { id: 'm1', seq: 1 })];
      const edit = annotation('a9', 'pl:edit', ['m1', 1, 'alice']);
      const refused = alice({ annotations: [edit], failed: ['a9'], refusals: { a9: 'message_deleted' } });
      expect(check({ histories: [refused], logs: [logOf(deleted)], looks: [], relayLooks: [] })).toMatchObject({ refused: 1, refusedByKind: { message_deleted: 1 }, refusalsUnexplained: 0 });
      expect(check({ histories: [refused], looks: [], relayLooks: [] })).toMatchObject({ refused: 1, refusalsUnexplained: 1 });
    });

    it('counts appended annotations that break the relay rules', () => {
      const twice = [...entries, entry(7, 'a5', 'bob', 'pl:react', { id: 'm1', from: 'alice', seq: 1, key: '👍' })];
      const afterDelete = [...entries, entry(7, 'a4', 'alice', 'pl:delete', { id: 'm1', seq: 1 }), entry(8, 'a5', 'alice', 'pl:edit', { id: 'm1', seq: 1, body: '{}' })];
      const byOther = [...entries, entry(7, 'a5', 'bob', 'pl:edit', { id: 'm1', from: 'alice', seq: 1, body: '{}' })];
      for (const messages of [twice, afterDelete, byOther]) expect(check({ logs: [logOf(messages)], looks: [], relayLooks: [] }).ruleViolations).toBe(1);
    });
  });
});

describe('checkHistories with annotations', () => {
  const session = { start: 'first' as const, entries: [{ kind: 'history' as const, messages: entries.map(({ seq, id }) => ({ seq, id })) }] };
  const queued = (overrides: Partial<MemberHistory>) => checkHistories([history('alice', { sessions: [session], ...overrides })], [log]);

  it('counts a queued annotation missing from the log as lost, unless acked noop or refused', () => {
    const missing = annotation('a9', 'pl:react', ['m1', 1, 'alice'], '👍');
    expect(queued({ annotations: [missing] }).lost).toBe(1);
    expect(queued({ annotations: [missing], acks: [{ id: 'a9', seq: 1, at: 1 }] }).lost).toBe(0);
    expect(queued({ annotations: [missing], noops: ['a9'], acks: [{ id: 'a9', seq: 1, at: 1 }] }).lost).toBe(0);
    expect(queued({ annotations: [missing], failed: ['a9'] }).lost).toBe(0);
  });

  it('counts an annotation acked noop yet appended as duplicated, and counts only messages as published and appended', () => {
    const appended = annotation('a2', 'pl:edit', ['m1', 1, 'alice']);
    const result = queued({ queued: ['m1'], annotations: [appended], noops: ['a2'] });
    expect(result).toMatchObject({ duplicated: 1, published: 1, appended: 3 });
  });
});
