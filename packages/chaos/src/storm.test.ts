import { describe, expect, it } from 'vitest';
import { runStorm } from './storm.js';

describe('reconnect storm', () => {
  it('moves every client of a killed relay to the other one', { timeout: 180_000 }, async () => {
    const report = await runStorm({ clients: 300 });
    expect(report.clients).toBe(300);
    expect(report.secondsUntilAllBack).toBeGreaterThan(0);
  });
});
