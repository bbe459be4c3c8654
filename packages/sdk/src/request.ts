import type { ClientEvent } from '@partyline/protocol';
import { PartylineError, PartylineErrorKind, toPartylineError } from './errors.js';
import type { Transport } from './transport.js';

/**
 * One request with an answer: resolves with it when the relay says `ok`, rejects with a
 * {@link PartylineError} for a typed refusal, a timeout, a dropped connection or no connection.
 */
export async function request<T extends object = object>(transport: Transport | undefined, timeoutMs: number, event: ClientEvent, payload: object): Promise<T> {
  if (!transport) throw new PartylineError(PartylineErrorKind.Disconnected, 'not connected');
  let ack: unknown;
  try {
    ack = await transport.request(event, payload, timeoutMs);
  } catch (error) {
    throw toPartylineError(error);
  }
  return checkAck<T>(ack);
}

/** The answer of a request: `{ ok: true, ... }`, or the relay's typed error thrown. */
export function checkAck<T extends object = object>(ack: unknown): T {
  if (!ack || typeof ack !== 'object') throw new PartylineError(PartylineErrorKind.Internal, 'malformed answer from relay', { retryable: true });
  if ((ack as { ok?: unknown }).ok !== true) throw toPartylineError((ack as { error?: unknown }).error);
  return ack as T;
}
