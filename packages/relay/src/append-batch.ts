import { ErrorKind, utf8ByteLength, wireError, type LogMessage, type OutgoingMessage, type PublishAck, type PublishResult } from '@partyline/protocol';
import type { BodySchemas } from './body-schemas.js';
import type { RelayMetrics } from './metrics.js';
import type { RelayLimits } from './options.js';
import type { RoomBroadcaster } from './room-broadcaster.js';
import type { RoomCreationLimit } from './room-creation-limit.js';
import { StoreUnavailableError, type AppendInput, type RoomLogStore } from './store/room-log-store.js';

/** What appending needs; shared by the socket and the HTTP API. */
export interface AppendContext {
  store: RoomLogStore;
  limits: RelayLimits;
  metrics: RelayMetrics;
  broadcaster: RoomBroadcaster;
  /** Awaited before every append (webhooks mark the room, so a crash right after the append loses no event). */
  beforeAppend?: (room: string) => Promise<void>;
  /** Rooms a sender may create per hour; absent when unlimited. */
  roomCreation?: RoomCreationLimit | undefined;
  /** Schemas that bodies of some rooms must match; absent when none are configured. */
  bodySchemas?: BodySchemas | undefined;
}

/** Bytes a batch carries, as the byte limits count them: UTF-8 of ids, types and bodies (a field that is not a string counts 0: validation refuses it). */
export function batchBytes(messages: readonly unknown[]): number {
  let bytes = 0;
  for (const message of messages) {
    if (typeof message !== 'object' || message === null) continue;
    const { id, type, body } = message as Record<string, unknown>;
    for (const text of [id, type, body]) if (typeof text === 'string') bytes += utf8ByteLength(text);
  }
  return bytes;
}

/**
 * The one way messages enter a room log, whoever sends them (socket or HTTP): each body checked (size, schema),
 * one atomic store append (dedup by sender and id, next seq), new messages broadcast to the room's
 * members, one result per message in request order. Validation, grants and rates are the caller's;
 * the bound on rooms a sender creates is checked here, where a room's creation shows (`countRooms`:
 * false for server API keys).
 */
export async function appendBatch(
  context: AppendContext,
  room: string,
  sender: string,
  messages: readonly OutgoingMessage[],
  { countRooms = true } = {},
): Promise<PublishAck> {
  const { store, limits, metrics, broadcaster } = context;
  const results: PublishResult[] = [];
  const accepted: AppendInput[] = [];
  const acceptedAt: number[] = [];
  messages.forEach((message, index) => {
    const refused =
      utf8ByteLength(message.body) > limits.maxBodyBytes
        ? wireError(ErrorKind.PayloadTooLarge, `body exceeds ${limits.maxBodyBytes} bytes`)
        : context.bodySchemas?.check(room, message.type, message.body);
    if (refused) {
      results[index] = { id: message.id, error: refused };
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
  const creation = countRooms ? context.roomCreation : undefined;
  // Counted, an append goes to an existing room only (the usual case: one step, as ever); an append
  // that finds no room is the room's first message, and creates it once the sender's bound allows.
  let appended = await store.append(room, accepted, { create: creation === undefined });
  if (creation && accepted.length > 0 && appended.epoch === '') {
    const waitMs = await creation.take(sender).catch((error: unknown) => {
      throw new StoreUnavailableError(`could not count the new room: ${(error as Error).message}`, { cause: error });
    });
    if (waitMs > 0) {
      const error = wireError(ErrorKind.RateLimited, 'this user created too many rooms this hour; a new room can be started later', waitMs);
      for (const index of acceptedAt) results[index] = { id: messages[index]!.id, error };
    } else appended = await store.append(room, accepted);
  }
  const { epoch, outcomes, previousId } = appended;
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
