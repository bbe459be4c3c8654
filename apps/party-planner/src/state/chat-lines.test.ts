import type { ViewMessage } from '@partyline/react';
import { PartylineError, PartylineErrorKind } from '@partyline/sdk';
import { describe, expect, it } from 'vitest';
import { chatLog, editedText, type OwnChange } from './chat-lines.js';
import { MAX_TEXT } from './party-state.js';

const message = (seq: number, sender: string, text: string, change: Partial<ViewMessage> = {}): ViewMessage =>
  ({ room: 'party:abcdef', id: `m${seq}`, seq, type: 'chat', body: { text }, sender, ts: seq, edited: false, deleted: false, reactions: {}, ...change }) as ViewMessage;
/** An own outbox entry; annotation bodies as the SDK queues them (JSON text), or parsed. */
const own = (id: string, type: string, body: unknown, status: OwnChange['status'] = 'pending', error?: PartylineError): OwnChange => ({ id, type, body, status, ...(error ? { error } : {}) });
const annotation = (target: string, fields: Record<string, unknown> = {}) => JSON.stringify({ id: target, from: 'me', seq: 1, ...fields });
const never = () => false;
const view = (lines: Iterable<{ id: string; text: string; edited: boolean; deleted: boolean; reactions: object; seq: number | undefined; change?: object | undefined }>) =>
  [...lines].map(({ id, text, edited, deleted, reactions, seq, change }) => ({ id, text, edited, deleted, reactions, seq, ...(change ? { change } : {}) }));

describe('chat lines', () => {
  it('are the chat messages of the view as the SDK folded them; other types and unreadable bodies are no lines', () => {
    const messages = [
      message(1, 'ana', 'Pizza?', { edited: true }),
      { ...message(2, 'ana', ''), type: 'item:add', body: { itemId: 'cake', label: 'Cake' } } as ViewMessage,
      message(3, 'bo', 'Tacos', { reactions: { '🎉': { count: 2, mine: true } } }),
      { ...message(4, 'bo', ''), deleted: true, body: null } as ViewMessage,
      message(5, 'bo', '   '),
    ];
    expect(view(chatLog(messages, [], 'me', never))).toEqual([
      { id: 'm1', seq: 1, text: 'Pizza?', edited: true, deleted: false, reactions: {} },
      { id: 'm3', seq: 3, text: 'Tacos', edited: false, deleted: false, reactions: { '🎉': { count: 2, mine: true } } },
      { id: 'm4', seq: 4, text: '', edited: false, deleted: true, reactions: {} },
    ]);
  });

  it('keep one line object per message object: a message the fold did not change keeps its line (and its row)', () => {
    const first = message(1, 'ana', 'one');
    const second = message(2, 'bo', 'two');
    const before = chatLog([first, second], [], 'me', never);
    const after = chatLog([first, { ...second, edited: true, body: { text: 'two!' } } as ViewMessage], [], 'me', never);
    expect(after.at(0)).toBe(before.at(0));
    expect(after.at(1)).not.toBe(before.at(1));
    expect(after.indexOfKey('m2')).toBe(1);
    expect(after.indexOfKey('nope')).toBe(-1);
  });

  it('add own new lines on their way after the log (also refused ones), not the ones the log holds already', () => {
    const refused = new PartylineError(PartylineErrorKind.Forbidden, 'not in this party', { retryable: false });
    const queue = [own('o1', 'chat', { text: 'logged already' }), own('o2', 'chat', { text: 'on my way' }), own('o3', 'chat', { text: 'let me in' }, 'failed', refused)];
    const lines = chatLog([message(1, 'ana', 'hi')], queue, 'me', (id) => id === 'o1');
    expect([...lines].map((line) => [line.id, line.text, line.seq, line.sender])).toEqual([
      ['m1', 'hi', 1, 'ana'],
      ['o2', 'on my way', undefined, 'me'],
      ['o3', 'let me in', undefined, 'me'],
    ]);
  });

  it('show own edits, deletions and reactions on their way as done, marked pending; once sent, unmarked', () => {
    const messages = [message(1, 'me', 'See you at 8pm'), message(2, 'me', 'Wrong chat'), message(3, 'ana', 'Cake?', { reactions: { '👍': { count: 1, mine: false }, '🎉': { count: 1, mine: true } } })];
    const queue = [
      own('a1', 'pl:edit', annotation('m1', { body: JSON.stringify({ text: 'See you at 9pm' }) })),
      own('a2', 'pl:delete', annotation('m2')),
      own('a3', 'pl:react', { id: 'm3', from: 'ana', key: '👍' }, 'sent'), // (a parsed body reads the same)
      own('a4', 'pl:unreact', annotation('m3', { from: 'ana', key: '🎉' })),
      own('a5', 'pl:read', JSON.stringify({ seq: 3 })), // a read position: nothing on screen
    ];
    expect(view(chatLog(messages, queue, 'me', never))).toEqual([
      { id: 'm1', seq: 1, text: 'See you at 9pm', edited: true, deleted: false, reactions: {}, change: { status: 'pending' } },
      { id: 'm2', seq: 2, text: '', edited: false, deleted: true, reactions: {}, change: { status: 'pending' } },
      { id: 'm3', seq: 3, text: 'Cake?', edited: false, deleted: false, reactions: { '👍': { count: 2, mine: true } }, change: { status: 'pending' } },
    ]);
  });

  it('do not count a reaction twice once the fold has it, and edit own lines only', () => {
    const messages = [message(1, 'ana', 'Cake?', { reactions: { '👍': { count: 1, mine: true } } })];
    const queue = [own('a1', 'pl:react', annotation('m1', { key: '👍' }), 'sent'), own('a2', 'pl:edit', annotation('m1', { body: JSON.stringify({ text: 'Pie?' }) }))];
    expect(view(chatLog(messages, queue, 'me', never))).toEqual([{ id: 'm1', seq: 1, text: 'Cake?', edited: false, deleted: false, reactions: { '👍': { count: 1, mine: true } } }]);
  });

  it('mark a line failed when an own change of it was refused, and do not show that change', () => {
    const deleted = new PartylineError(PartylineErrorKind.MessageDeleted, 'the message was deleted', { retryable: false });
    const messages = [{ ...message(1, 'me', ''), deleted: true, body: null } as ViewMessage, message(2, 'ana', 'Cake?')];
    const queue = [own('a1', 'pl:edit', annotation('m1', { body: JSON.stringify({ text: 'fixed' }) }), 'failed', deleted), own('a2', 'pl:react', annotation('m2', { key: '😂' }), 'expired')];
    expect(view(chatLog(messages, queue, 'me', never))).toEqual([
      { id: 'm1', seq: 1, text: '', edited: false, deleted: true, reactions: {}, change: { status: 'failed', reason: 'the message was deleted' } },
      { id: 'm2', seq: 2, text: 'Cake?', edited: false, deleted: false, reactions: {}, change: { status: 'failed', reason: 'it waited too long' } },
    ]);
  });

  it('apply own changes to own lines still on their way', () => {
    const queue = [own('o1', 'chat', { text: 'typo' }), own('a1', 'pl:edit', annotation('o1', { body: JSON.stringify({ text: 'fixed' }) }))];
    expect(view(chatLog([], queue, 'me', never))).toEqual([{ id: 'o1', seq: undefined, text: 'fixed', edited: true, deleted: false, reactions: {}, change: { status: 'pending' } }]);
  });

  it('take an edit like a new message: trimmed, not empty, not too long', () => {
    expect(editedText('  nine  ')).toBe('nine');
    expect(editedText('   ')).toBeUndefined();
    expect(editedText('a'.repeat(MAX_TEXT + 1))).toBeUndefined();
  });
});
