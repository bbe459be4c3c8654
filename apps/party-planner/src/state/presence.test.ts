import { describe, expect, it } from 'vitest';
import { applySignal, emptyPresence, parseSignal, presentPeers, typingLine, typingPeers, PRESENCE_TTL_MS, TYPING_MS } from './presence.js';

describe('presence', () => {
  it('a friend is here while their pings are fresh, gone after a goodbye or when the lease lapses', () => {
    let state = emptyPresence();
    state = applySignal(state, parseSignal('bo', 'presence', { name: 'Bo' })!, 1000);
    state = applySignal(state, parseSignal('ana', 'presence', { name: 'Ana' })!, 2000);
    expect(presentPeers(state, 3000).map((p) => p.name)).toEqual(['Ana', 'Bo']);
    expect(presentPeers(state, 1000 + PRESENCE_TTL_MS).map((p) => p.name)).toEqual(['Ana']);
    state = applySignal(state, parseSignal('ana', 'presence', { name: 'Ana', here: false })!, 4000);
    expect(presentPeers(state, 4000).map((p) => p.name)).toEqual(['Bo']);
  });

  it('typing fades on its own and reads naturally', () => {
    let state = emptyPresence();
    state = applySignal(state, parseSignal('bo', 'typing', { name: 'Bo' })!, 0);
    state = applySignal(state, parseSignal('cy', 'typing', { name: 'Cy' })!, 1000);
    expect(typingLine(typingPeers(state, 2000))).toBe('Bo and Cy are typing…');
    expect(typingLine(typingPeers(state, TYPING_MS + 500))).toBe('Cy is typing…');
    expect(typingLine(typingPeers(state, TYPING_MS + 2000))).toBe('');
    expect(typingLine(['a', 'b', 'c'])).toBe('3 friends are typing…');
    expect(parseSignal('x', 'other', {})).toBeUndefined();
  });
});
