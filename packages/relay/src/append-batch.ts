import {
  AnnotationType,
  ErrorKind,
  isReservedType,
  parseAnnotation,
  utf8ByteLength,
  wireError,
  type Annotation,
  type LogMessage,
  type OutgoingMessage,
  type PublishAck,
  type PublishResult,
  type ReadPosition,
  type WireError,
} from '@partyline/protocol';
import type { BodySchemas } from './body-schemas.js';
import type { RelayMetrics } from './metrics.js';
import type { RelayLimits } from './options.js';
import type { RoomBroadcaster } from './room-broadcaster.js';
import type { RoomCreationLimit } from './room-creation-limit.js';
import { StoreUnavailableError, type AppendInput, type AppendOutcome, type RoomLogStore } from './store/room-log-store.js';

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
  /** Sends `room:reads` for read positions a batch moved (see read-receipts.ts). */
  announceReads?: (room: string, reads: readonly ReadPosition[]) => void;
}

export interface AppendBatchOptions {
  /** Count a room this batch creates against the sender's bound (false for server API keys). @default true */
  countRooms?: boolean;
  /** The sender may edit and delete others' messages (the `moderate` grant). @default false */
  moderate?: boolean;
  /** The publishing socket, when it takes its appended messages from the ack (protocol 3): the live broadcast leaves it out. */
  publisher?: string | undefined;
}

/** A batch's answer, and the read positions it moved (the sender's own, when it posted or marked read). */
export interface AppendedBatch {
  ack: PublishAck;
  reads: readonly ReadPosition[];
  /** When it appended anything: what a socket publisher's ack adds, so it holds those messages whole (protocol 3). */
  appended?: Pick<PublishAck, 'ts' | 'previousId'>;
}

/** Bytes a batch carries, as the byte limits count them: UTF-8 of ids, types and bodies (a field that is not a string counts 0: validation refuses it). */
export function batchBytes(messages: readonly unknown[]): number {
  let bytes = 0;
  for (const message of messages) {
    if (typeof message !== 'object' || message === null) continue;
    const { id, type, body } = message as Record<string, unknown>;
    bytes += textBytes(id) + textBytes(type) + textBytes(body);
  }
  return bytes;
}

const textBytes = (value: unknown): number => (typeof value === 'string' ? utf8ByteLength(value) : 0);

/**
 * The one way messages enter a room log, whoever sends them (socket or HTTP): each body checked (size,
 * schema; a reserved `pl:` type's body against the protocol's shape instead), one atomic store append
 * (dedup by sender and id, next seq, the annotation rules), new entries broadcast to the room's
 * members, moved read positions announced, one result per message in request order. Validation,
 * grants and rates are the caller's; the bound on rooms a sender creates is checked here, where a
 * room's creation shows. Annotations and read marks never create a room.
 */
export async function appendBatch(
  context: AppendContext,
  room: string,
  sender: string,
  messages: readonly OutgoingMessage[],
  { countRooms = true, moderate = false, publisher }: AppendBatchOptions = {},
): Promise<AppendedBatch> {
  const { store, limits, metrics, broadcaster } = context;
  const results: PublishResult[] = [];
  const accepted: AppendInput[] = [];
  const acceptedAt: number[] = [];
  messages.forEach((message, index) => {
    const refused = utf8ByteLength(message.body) > limits.maxBodyBytes ? wireError(ErrorKind.PayloadTooLarge, `body exceeds ${limits.maxBodyBytes} bytes`) : checkBody(context, room, message);
    if (refused) {
      results[index] = { id: message.id, error: refused };
    } else {
      accepted.push({ id: message.id, type: message.type, body: message.body, sender });
      acceptedAt.push(index);
    }
  });

  await checkEditedBodies(context, room, accepted, acceptedAt, results);
  if (accepted.length > 0 && context.beforeAppend) {
    await context.beforeAppend(room).catch((error: unknown) => {
      throw new StoreUnavailableError(`could not note the room for webhooks: ${(error as Error).message}`, { cause: error });
    });
  }
  const createsRoom = accepted.some((message) => !isReservedType(message.type));
  const creation = countRooms && createsRoom ? context.roomCreation : undefined;
  // Counted, an append goes to an existing room only (the usual case: one step, as ever); an append
  // that finds no room is the room's first message, and creates it once the sender's bound allows.
  let appended = await store.append(room, accepted, { create: createsRoom && creation === undefined, moderate });
  if (!createsRoom && accepted.length > 0 && appended.epoch === '') {
    appended = { epoch: '', outcomes: accepted.map(inEmptyRoom) };
  } else if (creation && accepted.length > 0 && appended.epoch === '') {
    const waitMs = await creation.take(sender).catch((error: unknown) => {
      throw new StoreUnavailableError(`could not count the new room: ${(error as Error).message}`, { cause: error });
    });
    if (waitMs > 0) {
      const error = wireError(ErrorKind.RateLimited, 'this user created too many rooms this hour; a new room can be started later', waitMs);
      for (const index of acceptedAt) results[index] = { id: messages[index]!.id, error };
    } else appended = await store.append(room, accepted, { moderate });
  }
  const { epoch, outcomes, previousId, reads = [] } = appended;
  const fresh: LogMessage[] = [];
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.status === 'appended') fresh.push(outcome.message);
    results[acceptedAt[i]!] = resultOf(outcome);
  }
  // Only new entries are broadcast (annotations too: they are log entries); duplicates were delivered the first time.
  if (fresh.length > 0) broadcaster.add(room, epoch, fresh, previousId, publisher);
  // A post moves its sender's read position to it, and every member sees that in the message itself
  // (the SDK counts it so): only read marks are announced, so a plain publish costs no second broadcast.
  if (reads.length > 0 && accepted.some((message) => message.type === AnnotationType.Read)) context.announceReads?.(room, reads);
  for (const result of results) if ('error' in result) metrics.errors.inc({ kind: result.error.kind });
  return { ack: { epoch, results }, reads, ...(fresh.length > 0 ? { appended: { ts: fresh[0]!.ts, ...(previousId ? { previousId } : {}) } } : {}) };
}

/**
 * What a body must be besides its size: a reserved type's, the protocol's shape (no app schema
 * applies to it: a `*` schema would refuse every reaction); another type's, the room's body schema.
 */
function checkBody(context: AppendContext, room: string, { type, body }: OutgoingMessage): WireError | undefined {
  if (!isReservedType(type)) return context.bodySchemas?.check(room, type, body);
  const annotation = parseAnnotation(type, body);
  return typeof annotation === 'string' ? wireError(ErrorKind.BadRequest, annotation) : undefined;
}

/**
 * An edit's new body must be what the room's schema wants of its message's type, which only the
 * message says: in a room with schemas, an edit names its message's seq, and the message is read.
 * Refused edits leave `accepted` (their result set); a target that is not there is the store's to refuse.
 */
async function checkEditedBodies(context: AppendContext, room: string, accepted: AppendInput[], acceptedAt: number[], results: PublishResult[]): Promise<void> {
  if (!context.bodySchemas?.covers(room)) return;
  for (let i = accepted.length - 1; i >= 0; i--) {
    const input = accepted[i]!;
    if (input.type !== AnnotationType.Edit) continue;
    const edit = parseAnnotation(input.type, input.body) as Extract<Annotation, { type: 'pl:edit' }>;
    let refused: WireError | undefined;
    if (edit.target.seq === undefined) refused = wireError(ErrorKind.BadRequest, `room ${room} checks bodies against schemas: an edit names its message's seq`);
    else {
      const target = (await context.store.read(room, edit.target.seq - 1, 1)).messages[0];
      if (target?.seq === edit.target.seq && !isReservedType(target.type)) refused = context.bodySchemas.check(room, target.type, edit.body);
    }
    if (refused) {
      results[acceptedAt[i]!] = { id: input.id, error: refused };
      accepted.splice(i, 1);
      acceptedAt.splice(i, 1);
    }
  }
}

/** A room that does not exist holds no target: an annotation finds nothing, a read mark stays at 0. */
function inEmptyRoom({ id, type }: AppendInput): AppendOutcome {
  return type === AnnotationType.Read
    ? { status: 'noop', id, seq: 0 }
    : { status: 'refused', id, kind: ErrorKind.NotFound, message: 'no such message: the room has no log' };
}

function resultOf(outcome: AppendOutcome): PublishResult {
  switch (outcome.status) {
    case 'appended':
      return { id: outcome.message.id, seq: outcome.message.seq };
    case 'duplicate':
      return { id: outcome.id, seq: outcome.seq, duplicate: true, ...(outcome.noop ? { noop: true } : {}) };
    case 'noop':
      return { id: outcome.id, seq: outcome.seq, noop: true };
    case 'refused':
      return { id: outcome.id, error: wireError(outcome.kind, outcome.message) };
    case 'conflict':
      return { id: outcome.id, error: wireError(ErrorKind.Conflict, `message id already used in this room (seq ${outcome.seq}) for a different message`) };
  }
}
