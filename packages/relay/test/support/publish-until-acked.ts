import type { LogMessage } from '@partyline/protocol';
import { expect } from 'vitest';
import { expectOk, publish, request, type ClientSocket } from './harness.js';

/**
 * Publishers that behave like the SDK under faults: each keeps retrying its current message id
 * until it is acked, on retryable errors only. Returns what was acked (id → seq) and what was refused.
 */
export function startRetryingPublishers(sockets: ClientSocket[], room: string) {
  const acked = new Map<string, number>();
  const refusals: string[] = [];
  let running = true;
  let counter = 0;
  const done = Promise.all(
    sockets.map(async (socket, p) => {
      while (running) {
        const id = `p${p}-m${counter++}`;
        for (;;) {
          const ack = await publish(socket, room, [{ id }]).catch(() => undefined);
          const result = ack?.ok ? ack.results[0] : undefined;
          if (result && 'seq' in result) {
            acked.set(id, result.seq);
            break;
          }
          const error = ack === undefined ? undefined : ack.ok ? (result as { error: { kind: string; retryable: boolean } }).error : ack.error;
          if (error) {
            expect(error.retryable).toBe(true);
            refusals.push(error.kind);
          } else refusals.push('ack timeout');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    }),
  );
  return {
    acked,
    refusals,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Reads a whole room log page by page. */
export async function readWholeLog(socket: ClientSocket, room: string): Promise<LogMessage[]> {
  const log: LogMessage[] = [];
  let since = 0;
  for (;;) {
    const page = expectOk(await request<{ messages: LogMessage[]; hasMore: boolean }>(socket, 'room:read', { room, since }));
    log.push(...page.messages);
    if (!page.hasMore) return log;
    since = page.messages.at(-1)!.seq;
  }
}

/** Every acked message is in the log at its acked seq, exactly once, and the log has no gap. */
export function expectAckedMessagesKept(log: LogMessage[], acked: Map<string, number>): void {
  expect(log.map((m) => m.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
  expect(new Set(log.map((m) => m.id)).size).toBe(log.length);
  const bySeq = new Map(log.map((m) => [m.seq, m.id]));
  for (const [id, seq] of acked) expect(bySeq.get(seq)).toBe(id);
}
