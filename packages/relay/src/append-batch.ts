import { ErrorKind, utf8ByteLength, wireError, type LogMessage, type OutgoingMessage, type PublishAck, type PublishResult } from '@partyline/protocol';
import type { RelayMetrics } from './metrics.js';
import type { RelayLimits } from './options.js';
import type { RoomBroadcaster } from './room-broadcaster.js';
import { StoreUnavailableError, type AppendInput, type RoomLogStore } from './store/room-log-store.js';

/** What appending needs; shared by the socket and the HTTP API. */
export interface AppendContext {
  store: RoomLogStore;
  limits: RelayLimits;
  metrics: RelayMetrics;
  broadcaster: RoomBroadcaster;
  /** Awaited before every append (webhooks mark the room, so a crash right after the append loses no event). */
  beforeAppend?: (room: string) => Promise<void>;
}

/**
 * The one way messages enter a room log, whoever sends them (socket or HTTP): each body checked,
 * one atomic store append (dedup by sender and id, next seq), new messages broadcast to the room's
 * members, one result per message in request order. Validation, grants and rates are the caller's.
 */
export async function appendBatch(context: AppendContext, room: string, sender: string, messages: readonly OutgoingMessage[]): Promise<PublishAck> {
  const { store, limits, metrics, broadcaster } = context;
  const results: PublishResult[] = [];
  const accepted: AppendInput[] = [];
  const acceptedAt: number[] = [];
  messages.forEach((message, index) => {
    if (utf8ByteLength(message.body) > limits.maxBodyBytes) {
      results[index] = { id: message.id, error: wireError(ErrorKind.PayloadTooLarge, `body exceeds ${limits.maxBodyBytes} bytes`) };
    } else {
      accepted.push({ id: message.id, type: message.type, body: message.body, sender });
      acceptedAt.push(index);
    }
  });

  if (accepted.length > 0 && context.beforeAppend) {
    await context.beforeAppend(room).catch((error: unknown) => {
      throw new StoreUnavailableError(`could not note the room for webhooks: ${(error as Error).message}`, { cause: error });
    });
  }
  const { epoch, outcomes, previousId } = await store.append(room, accepted);
  const fresh: LogMessage[] = [];
  for (const [i, outcome] of outcomes.entries()) {
    const index = acceptedAt[i]!;
    if (outcome.status === 'appended') {
      fresh.push(outcome.message);
      results[index] = { id: outcome.message.id, seq: outcome.message.seq };
    } else if (outcome.status === 'duplicate') {
      results[index] = { id: outcome.id, seq: outcome.seq, duplicate: true };
    } else {
      const error = wireError(ErrorKind.Conflict, `message id already used in this room (seq ${outcome.seq}) for a different message`);
      results[index] = { id: outcome.id, error };
    }
  }
  // Only new messages are broadcast; duplicates were delivered the first time.
  if (fresh.length > 0) broadcaster.add(room, epoch, fresh, previousId);
  for (const result of results) if ('error' in result) metrics.errors.inc({ kind: result.error.kind });
  return { epoch, results };
}
