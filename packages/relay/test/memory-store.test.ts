import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../src/index.js';
import { describeRoomLogStore } from './support/room-log-store-contract.js';
import { describePresenceStore } from './support/presence-store-contract.js';
import { createMemoryPresenceStore } from '../src/store/memory-presence-store.js';

describeRoomLogStore('memory', async () => ({
  create: async (options) => createMemoryStore(options),
  loseData: async () => {},
  cleanup: async () => {},
}));

describe('bounded memory', () => {
  it('forgets rooms idle past the retention age: they come back as a new epoch', async () => {
    let clock = 1_000_000;
    const store = createMemoryStore({ now: () => clock, retention: { maxAgeMs: 3_600_000 }, dedupRetentionMs: 60_000 });
    const first = await store.append('r', [{ id: 'a', type: 'chat', body: '{}', sender: 'ana' }]);
    clock += 3_600_000 + 61_000;
    expect(await store.read('r', 0, 10)).toMatchObject({ epoch: '', headSeq: 0 });
    const again = await store.append('r', [{ id: 'b', type: 'chat', body: '{}', sender: 'ana' }]);
    expect(again.epoch).not.toBe(first.epoch);
    expect(again.outcomes[0]).toMatchObject({ status: 'appended', message: { seq: 1 } });
  });
});

describePresenceStore('memory', async () => createMemoryPresenceStore());
