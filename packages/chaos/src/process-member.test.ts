import { fileURLToPath } from 'node:url';
import { waitFor } from '@partyline/test-support';
import { describe, expect, it } from 'vitest';
import { ProcessMember } from './process-member.js';
import { createRandom } from './random.js';

const DYING = fileURLToPath(new URL('./fixtures/dying-member.mjs', import.meta.url));

describe('a chaos member in its own process', () => {
  it('reports a process that died by itself, with its error; not one the run killed or closed', { timeout: 30_000 }, async () => {
    const member = new ProcessMember('client-0', 'chaos-0', [1], { bundle: DYING, dir: '', dispose: () => {} }, createRandom(1), [60_000, 60_000]);
    try {
      await member.start();
      await member.crash();
      expect(member.crashes).toBe(1);
      await member.stopPublishing();
      await waitFor(() => member.failures.length > 0, 'the failure to be reported');
      expect(member.failures).toHaveLength(1);
      expect(member.failures[0]).toMatch(/^client-0: its process exited by itself \(1\): .*TypeError: thrown on purpose by the dying-member fixture/);
      await member.start('restart');
    } finally {
      await member.close();
    }
    expect(member.failures).toHaveLength(1);
  });
});
