import { describe, expect, it } from 'vitest';
import { positioned } from '../src/connection.js';

const page = { room: 'r', epoch: 'e1', firstSeq: 1, headSeq: 5, messages: [], hasMore: false };

describe('positioned recovery: does the log still hold what the client has?', () => {
  it('answers the page as it is when the client names no position, another epoch, or seq 0', () => {
    expect(positioned({ ...page, sinceId: 'x' }, { since: 3 })).toEqual(page);
    expect(positioned({ ...page, sinceId: 'x' }, { since: 3, epoch: 'e0', sinceId: 'y' })).toEqual(page);
    expect(positioned(page, { since: 0, epoch: 'e1' })).toEqual(page);
  });

  it('agrees when the log holds the same message at since, or cannot tell (trimmed)', () => {
    expect(positioned({ ...page, sinceId: 'm3' }, { since: 3, epoch: 'e1', sinceId: 'm3' })).toEqual(page);
    expect(positioned(page, { since: 3, epoch: 'e1', sinceId: 'm3' })).toEqual(page);
  });

  it('says diverged when the log ends before since or holds another message there', () => {
    expect(positioned(page, { since: 8, epoch: 'e1', sinceId: 'm8' })).toEqual({ ...page, diverged: true });
    expect(positioned({ ...page, sinceId: 'other' }, { since: 3, epoch: 'e1', sinceId: 'm3' })).toEqual({ ...page, diverged: true });
  });
});
