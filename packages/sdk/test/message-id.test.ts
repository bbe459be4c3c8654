import { describe, expect, it } from 'vitest';
import { createMessageId, observeMessageId } from '../src/message-id.js';

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

  it('continues after an observed id from a clock that was ahead (an earlier session)', () => {
    const ahead = createMessageId(Date.UTC(2030, 0, 1));
    const earlier = createMessageId(Date.UTC(2020, 0, 1));
    expect(earlier > ahead).toBe(true); // within a realm ids never go back
    const ms = Date.UTC(2031, 0, 1).toString(16).padStart(12, '0');
    const observed = `${ms.slice(0, 8)}-${ms.slice(8)}-7fff-8000-000000000000`; // made elsewhere, counter at its top
    observeMessageId(observed);
    expect(createMessageId(Date.UTC(2020, 0, 1)) > observed).toBe(true);
  });
});
