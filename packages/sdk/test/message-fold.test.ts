import type { LogMessage } from '@partyline/protocol';
import { describe, expect, it } from 'vitest';
import { foldMessages, MessageFold } from '../src/message-fold.js';

function message(seq: number, id: string, sender: string, body: unknown = { text: id }): LogMessage {
  return { seq, id, type: 'chat', body: JSON.stringify(body), sender, ts: 1000 + seq };
}

function annotation(seq: number, sender: string, type: string, fields: Record<string, unknown>): LogMessage {
  return { seq, id: `a${seq}`, type, body: JSON.stringify(fields), sender, ts: 1000 + seq };
}

describe('MessageFold', () => {
  it('folds an edit into the body, with editedAt from the edit', () => {
    const [folded] = foldMessages([message(1, 'm1', 'ann'), annotation(2, 'ann', 'pl:edit', { id: 'm1', seq: 1, body: '{"text":"fixed"}' })]);
    expect(folded).toMatchObject({ id: 'm1', seq: 1, sender: 'ann', body: { text: 'fixed' }, ts: 1001, edited: true, editedAt: 1002, deleted: false });
  });

  it('applies annotations in seq order: the last edit wins', () => {
    const [folded] = foldMessages([
      message(1, 'm1', 'ann'),
      annotation(2, 'ann', 'pl:edit', { id: 'm1', body: '"one"' }),
      annotation(3, 'ann', 'pl:edit', { id: 'm1', body: '"two"' }),
    ]);
    expect(folded?.body).toBe('two');
  });

  it('finds a target without seq by id and sender (from, else the annotation sender)', () => {
    const folded = foldMessages([
      message(1, 'same', 'ann'),
      message(2, 'same', 'bob'),
      annotation(3, 'mod', 'pl:edit', { id: 'same', from: 'bob', body: '"by mod"' }),
      annotation(4, 'ann', 'pl:edit', { id: 'same', body: '"by ann"' }),
    ]);
    expect(folded.map((m) => m.body)).toEqual(['by ann', 'by mod']);
  });

  it('ignores an annotation whose seq names another message', () => {
    const [folded] = foldMessages([message(1, 'm1', 'ann'), annotation(2, 'ann', 'pl:edit', { id: 'other', seq: 1, body: '"x"' })]);
    expect(folded?.edited).toBe(false);
  });

  it('delete clears the body and the reactions; later changes are ignored', () => {
    const [folded] = foldMessages([
      message(1, 'm1', 'ann'),
      annotation(2, 'bob', 'pl:react', { id: 'm1', from: 'ann', key: '👍' }),
      annotation(3, 'ann', 'pl:delete', { id: 'm1' }),
      annotation(4, 'bob', 'pl:react', { id: 'm1', from: 'ann', key: '🎉' }),
      annotation(5, 'ann', 'pl:edit', { id: 'm1', body: '"back"' }),
    ]);
    expect(folded).toMatchObject({ body: null, deleted: true, reactions: {} });
  });

  it('counts reactions per key and marks the caller’s own as mine', () => {
    const entries = [
      message(1, 'm1', 'ann'),
      annotation(2, 'bob', 'pl:react', { id: 'm1', from: 'ann', key: '👍' }),
      annotation(3, 'ann', 'pl:react', { id: 'm1', key: '👍' }),
      annotation(4, 'cat', 'pl:react', { id: 'm1', from: 'ann', key: '🎉' }),
    ];
    expect(foldMessages(entries, { caller: 'ann' })[0]?.reactions).toEqual({ '👍': { count: 2, mine: true }, '🎉': { count: 1, mine: false } });
    expect(foldMessages(entries, { caller: 'bob' })[0]?.reactions['👍']).toEqual({ count: 2, mine: true });
  });

  it('unreact lowers the count, clears mine for the caller, and drops a key at zero', () => {
    const [folded] = foldMessages(
      [
        message(1, 'm1', 'ann'),
        annotation(2, 'bob', 'pl:react', { id: 'm1', from: 'ann', key: '👍' }),
        annotation(3, 'ann', 'pl:react', { id: 'm1', key: '👍' }),
        annotation(4, 'cat', 'pl:react', { id: 'm1', from: 'ann', key: '🎉' }),
        annotation(5, 'bob', 'pl:unreact', { id: 'm1', from: 'ann', key: '👍' }),
        annotation(6, 'cat', 'pl:unreact', { id: 'm1', from: 'ann', key: '🎉' }),
      ],
      { caller: 'bob' },
    );
    expect(folded?.reactions).toEqual({ '👍': { count: 1, mine: false } });
  });

  it('ignores an annotation of a message it does not hold, and never lists annotations as messages', () => {
    const folded = foldMessages([
      annotation(5, 'ann', 'pl:edit', { id: 'gone', body: '"x"' }),
      message(6, 'm6', 'ann'),
      annotation(7, 'bob', 'pl:react', { id: 'gone', from: 'ann', key: '👍' }),
    ]);
    expect(folded).toEqual([expect.objectContaining({ id: 'm6', edited: false, reactions: {} })]);
  });

  it('starts a message from its page summary and skips annotations at or before the summary’s at', () => {
    const page = {
      at: 4,
      summaries: { '1': { body: '"edited"', editedAt: 1003, reactions: { '👍': { count: 2, mine: true as const } } } },
    };
    const fold = new MessageFold({ caller: 'bob' });
    const entries = [
      message(1, 'm1', 'ann'),
      annotation(2, 'bob', 'pl:react', { id: 'm1', from: 'ann', key: '👍' }),
      annotation(3, 'ann', 'pl:edit', { id: 'm1', body: '"edited"' }),
      annotation(4, 'cat', 'pl:react', { id: 'm1', from: 'ann', key: '👍' }),
    ];
    for (const entry of entries) fold.apply(entry, page);
    expect(fold.byId('m1')).toMatchObject({ body: 'edited', edited: true, editedAt: 1003, reactions: { '👍': { count: 2, mine: true } } });
    // After `at`: applied on top.
    const changed = fold.apply(annotation(5, 'bob', 'pl:unreact', { id: 'm1', from: 'ann', key: '👍' }));
    expect(changed?.reactions).toEqual({ '👍': { count: 1, mine: false } });
  });

  it('a deleted summary holds no body and no reactions', () => {
    const [folded] = foldMessages([message(1, 'm1', 'ann')], { page: { at: 9, summaries: { '1': { deleted: true } } } });
    expect(folded).toMatchObject({ body: null, deleted: true, edited: false, reactions: {} });
  });

  it('a message without a summary in the page folds from its own seq', () => {
    const folded = foldMessages([message(3, 'm3', 'ann'), annotation(4, 'ann', 'pl:edit', { id: 'm3', body: '"new"' })], { page: { at: 2, summaries: {} } });
    expect(folded[0]?.body).toBe('new');
  });

  it('a held message is replaced only by a summary as of a later seq', () => {
    const fold = new MessageFold();
    fold.apply(message(1, 'm1', 'ann'));
    fold.apply(annotation(2, 'ann', 'pl:edit', { id: 'm1', body: '"live"' }));
    expect(fold.apply(message(1, 'm1', 'ann'), { at: 2, summaries: { '1': { body: '"old page"' } } })).toBeUndefined();
    expect(fold.byId('m1')?.body).toBe('live');
    expect(fold.apply(message(1, 'm1', 'ann'), { at: 3, summaries: { '1': { body: '"newer page"' } } })?.body).toBe('newer page');
    // The annotation already applied is in that summary: not applied twice.
    expect(fold.apply(annotation(3, 'ann', 'pl:edit', { id: 'm1', body: '"again"' }))).toBeUndefined();
  });

  it('hands out new values and never mutates one it handed', () => {
    const fold = new MessageFold();
    const first = fold.apply(message(1, 'm1', 'ann'));
    const second = fold.apply(annotation(2, 'bob', 'pl:react', { id: 'm1', from: 'ann', key: '👍' }));
    expect(first?.reactions).toEqual({});
    expect(second).not.toBe(first);
    expect(fold.bySeq(1)).toBe(second);
  });

  it('ignores pl:read and bodies that are not annotations', () => {
    const folded = foldMessages([
      message(1, 'm1', 'ann'),
      annotation(2, 'ann', 'pl:read', { seq: 1 }),
      { seq: 3, id: 'bad', type: 'pl:edit', body: 'not json', sender: 'ann', ts: 1 },
    ]);
    expect(folded).toHaveLength(1);
    expect(folded[0]?.edited).toBe(false);
  });

  it('holds at most maxMessages, letting the lowest seqs go', () => {
    const fold = new MessageFold({ maxMessages: 2 });
    for (let seq = 1; seq <= 3; seq++) fold.apply(message(seq, `m${seq}`, 'ann'));
    expect(fold.messages().map((m) => m.seq)).toEqual([2, 3]);
    expect(fold.apply(annotation(4, 'ann', 'pl:edit', { id: 'm1', body: '"x"' }))).toBeUndefined();
  });

  it('keeps a reaction key such as __proto__ as a reaction like any other', () => {
    const [folded] = foldMessages(
      [message(1, 'm1', 'ann'), annotation(2, 'bob', 'pl:react', { id: 'm1', from: 'ann', key: '__proto__' }), annotation(3, 'ann', 'pl:react', { id: 'm1', key: '__proto__' })],
      { caller: 'ann' },
    );
    expect(Object.entries(folded!.reactions)).toEqual([['__proto__', { count: 2, mine: true }]]);
    const [summarized] = foldMessages([message(1, 'm1', 'ann')], { page: { at: 5, summaries: { '1': JSON.parse('{"reactions":{"__proto__":{"count":3}}}') } } });
    expect(Object.entries(summarized!.reactions)).toEqual([['__proto__', { count: 3, mine: false }]]);
  });

  it('derives `mine` for a caller learnt after folding (cached messages folded before the join ack names it)', () => {
    const fold = new MessageFold();
    fold.apply(message(1, 'm1', 'bob'));
    fold.apply(annotation(2, 'ann', 'pl:react', { id: 'm1', from: 'bob', seq: 1, key: '🎉' }));
    fold.apply(annotation(3, 'cy', 'pl:react', { id: 'm1', from: 'bob', seq: 1, key: '👍' }));
    expect(fold.bySeq(1)?.reactions).toEqual({ '🎉': { count: 1, mine: false }, '👍': { count: 1, mine: false } });
    const changed = fold.setCaller('ann');
    expect(changed.map((m) => m.seq)).toEqual([1]);
    expect(fold.bySeq(1)?.reactions).toEqual({ '🎉': { count: 1, mine: true }, '👍': { count: 1, mine: false } });
    expect(fold.setCaller('ann')).toEqual([]);
  });

  it('keeps the summary’s `mine` until the caller’s own later annotation changes it', () => {
    const fold = new MessageFold({ caller: 'ann' });
    fold.apply(message(1, 'm1', 'bob'), { at: 5, summaries: { 1: { reactions: { '🎉': { count: 2, mine: true }, '👍': { count: 1 } } } } });
    expect(fold.bySeq(1)?.reactions).toEqual({ '🎉': { count: 2, mine: true }, '👍': { count: 1, mine: false } });
    fold.apply(annotation(6, 'ann', 'pl:unreact', { id: 'm1', from: 'bob', seq: 1, key: '🎉' }));
    fold.apply(annotation(7, 'ann', 'pl:react', { id: 'm1', from: 'bob', seq: 1, key: '👍' }));
    expect(fold.bySeq(1)?.reactions).toEqual({ '🎉': { count: 1, mine: false }, '👍': { count: 2, mine: true } });
  });
});
