import { describe, expect, it } from 'vitest';
import { checkHistories, type ClientHistory, type RoomLog } from './checker.js';

const log: RoomLog = { room: 'r', messages: [{ seq: 1, id: 'a' }, { seq: 2, id: 'b' }, { seq: 3, id: 'c' }] };
const clean = (overrides: Partial<ClientHistory> = {}): ClientHistory => ({
  client: 'c1',
  room: 'r',
  queued: ['a', 'c'],
  failed: [],
  deliveries: [[{ seq: 1, id: 'a' }, { seq: 2, id: 'b' }, { seq: 3, id: 'c' }]],
  resets: 0,
  ...overrides,
});

describe('checkHistories', () => {
  it('passes a clean history', () => {
    expect(checkHistories([clean()], [log])).toMatchObject({ published: 2, appended: 3, delivered: 3, lost: 0, duplicated: 0, reordered: 0 });
  });

  it('counts a queued message missing from the log as lost', () => {
    const result = checkHistories([clean({ queued: ['a', 'zzz'] })], [log]);
    expect(result.lost).toBe(1);
    expect(result.examples[0]).toContain('zzz');
  });

  it('does not count a permanently rejected message as lost', () => {
    expect(checkHistories([clean({ queued: ['a', 'zzz'], failed: ['zzz'] })], [log]).lost).toBe(0);
  });

  it('counts a log message a member was never handed as lost', () => {
    expect(checkHistories([clean({ deliveries: [[{ seq: 1, id: 'a' }, { seq: 3, id: 'c' }]] })], [log]).lost).toBe(1);
  });

  it('counts an id appended twice and a seq handed twice as duplicated', () => {
    const doubled: RoomLog = { room: 'r', messages: [...log.messages, { seq: 4, id: 'a' }] };
    expect(checkHistories([clean({ deliveries: [[...clean().deliveries[0]!, { seq: 4, id: 'a' }]] })], [doubled]).duplicated).toBe(1);
    const twice = clean({ deliveries: [[{ seq: 1, id: 'a' }, { seq: 2, id: 'b' }, { seq: 2, id: 'b' }, { seq: 3, id: 'c' }]] });
    const result = checkHistories([twice], [log]);
    expect(result.duplicated).toBe(1);
    expect(result.reordered).toBe(1);
  });

  it('counts out-of-order and mislabelled deliveries as reordered', () => {
    const swapped = clean({ deliveries: [[{ seq: 2, id: 'b' }, { seq: 1, id: 'a' }, { seq: 3, id: 'c' }]] });
    expect(checkHistories([swapped], [log]).reordered).toBe(1);
    const mislabelled = clean({ deliveries: [[{ seq: 1, id: 'a' }, { seq: 2, id: 'c' }, { seq: 3, id: 'b' }]] });
    expect(checkHistories([mislabelled], [log]).reordered).toBe(2);
  });

  it('judges only the epoch after a reset against the final log, and counts the reset', () => {
    const reset = clean({ deliveries: [[{ seq: 1, id: 'old' }, { seq: 2, id: 'older' }], [{ seq: 1, id: 'a' }, { seq: 2, id: 'b' }, { seq: 3, id: 'c' }]], resets: 1 });
    expect(checkHistories([reset], [log])).toMatchObject({ lost: 0, duplicated: 0, reordered: 0, resets: 1, delivered: 5 });
  });
});
