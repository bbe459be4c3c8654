import { describe, expect, it } from 'vitest';
import { applyTyping, expireTyping, nextTypingExpiry, NO_ONE_TYPING, parseTypingSignal, typingLine, typingNames, TYPING_MS } from './typing.js';

describe('typing', () => {
  it('fades on its own and reads naturally', () => {
    let state = NO_ONE_TYPING;
    state = applyTyping(state, parseTypingSignal('bo', 'typing', { name: 'Bo' })!, 0);
    state = applyTyping(state, parseTypingSignal('cy', 'typing', { name: 'Cy' })!, 1000);
    expect(typingLine(typingNames(state, 2000))).toBe('Bo and Cy are typing…');
    expect(typingLine(typingNames(state, TYPING_MS + 500))).toBe('Cy is typing…');
    expect(typingLine(typingNames(state, TYPING_MS + 2000))).toBe('');
    expect(typingLine(['a', 'b', 'c'])).toBe('3 friends are typing…');
  });

  it('a new signal keeps a friend typing for another TYPING_MS', () => {
    let state = applyTyping(NO_ONE_TYPING, { sender: 'bo', name: 'Bo' }, 0);
    state = applyTyping(state, { sender: 'bo', name: 'Bo' }, 3000);
    expect(typingNames(state, TYPING_MS + 1000)).toEqual(['Bo']);
  });

  it('says when the next typing fades, and drops what has', () => {
    expect(nextTypingExpiry(NO_ONE_TYPING)).toBeUndefined();
    let state = applyTyping(NO_ONE_TYPING, { sender: 'bo', name: 'Bo' }, 0);
    state = applyTyping(state, { sender: 'cy', name: 'Cy' }, 1000);
    expect(nextTypingExpiry(state)).toBe(TYPING_MS);
    expect(expireTyping(state, TYPING_MS - 1)).toBe(state);
    const later = expireTyping(state, TYPING_MS);
    expect([...later.keys()]).toEqual(['cy']);
    expect(nextTypingExpiry(later)).toBe(1000 + TYPING_MS);
    expect(expireTyping(later, 1000 + TYPING_MS)).toEqual(new Map());
  });

  it('reads only typing signals; a missing name is a guest', () => {
    expect(parseTypingSignal('x', 'presence', { name: 'X' })).toBeUndefined();
    expect(parseTypingSignal('x', 'other', {})).toBeUndefined();
    expect(parseTypingSignal('x', 'typing', { name: '  ' })).toEqual({ sender: 'x', name: 'Guest' });
    expect(parseTypingSignal('x', 'typing', 'not an object')).toEqual({ sender: 'x', name: 'Guest' });
  });
});
