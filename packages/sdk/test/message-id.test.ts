import { describe, expect, it } from 'vitest';
import { createMessageId } from '../src/message-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('createMessageId', () => {
  it('makes distinct UUIDv7s that sort in creation order, also within one millisecond and across random-pool refills', () => {
    const at = Date.now() + 60_000; // one fixed millisecond for all of them
    const ids = Array.from({ length: 2000 }, () => createMessageId(at));
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('puts the millisecond in the first 48 bits', () => {
    const at = Date.UTC(2026, 10, 24, 12, 0, 0) + 7_200_000_000; // later than any id made so far in this file
    const id = createMessageId(at);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });
});
