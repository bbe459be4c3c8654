import { describe, expect, it } from 'vitest';
import { PartylineError, PartylineErrorKind } from '../src/errors.js';
import { QueuedHandle } from '../src/publish-handle.js';

describe('a publish handle', () => {
  it('settles `sent` whether it is read before or after the outcome, and the first outcome wins', async () => {
    const early = new QueuedHandle('id-1', 'r');
    const sent = early.sent;
    early.settle({ seq: 7 });
    early.settle({ error: new PartylineError(PartylineErrorKind.Closed, 'too late') });
    await expect(sent).resolves.toEqual({ seq: 7 });
    expect(early.sent).toBe(sent);

    const late = new QueuedHandle('id-2', 'r');
    late.settle({ error: new PartylineError(PartylineErrorKind.Closed, 'closed') });
    late.settle({ seq: 8 });
    await expect(late.sent).rejects.toMatchObject({ kind: PartylineErrorKind.Closed });
  });

  it('never leaves an unhandled rejection when `sent` is never read', async () => {
    const handle = new QueuedHandle('id-3', 'r');
    handle.settle({ error: new PartylineError(PartylineErrorKind.Closed, 'closed') });
    await new Promise((resolve) => setTimeout(resolve, 10)); // vitest fails the run on an unhandled rejection
    expect(handle.id).toBe('id-3');
  });
});
