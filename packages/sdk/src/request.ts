import type { ClientToServerEvents } from '@partyline/protocol';
import type { PartylineSocket } from './connection.js';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';

/**
 * One request with an ack: resolves with the answer when the relay says `ok`, rejects with a
 * {@link PartylineError} for a typed refusal, a timeout, a dropped connection or no connection.
 */
export async function request<T extends object = object>(
  socket: PartylineSocket | undefined,
  timeoutMs: number,
  event: keyof ClientToServerEvents,
  payload: object,
): Promise<T> {
  if (!socket) throw new PartylineError(PartylineErrorKind.Disconnected, 'not connected');
  const ack = (await (socket.timeout(timeoutMs) as unknown as { emitWithAck(event: string, payload: object): Promise<unknown> })
    .emitWithAck(event, payload)
    .catch((error: unknown) => {
      throw toPartylineError(error);
    })) as { ok?: unknown; error?: unknown } | undefined;
  if (!ack || typeof ack !== 'object') throw new PartylineError(PartylineErrorKind.Internal, 'malformed answer from relay', { retryable: true });
  if (ack.ok !== true) throw toPartylineError(ack.error);
  return ack as T;
}
