/**
 * Checks of what a relay answers, by hand: the protocol's valibot schemas would ship valibot (7.5 KB
 * minified) in every app. Each check mirrors one schema of @partyline/protocol exactly (fields
 * required or optional, types, integer and range rules, name patterns) and answers, like the
 * schema's output, a copy holding the known fields only. test/wire-checks.test.ts holds them to it.
 */
import {
  ErrorKind,
  MESSAGE_ID_PATTERN,
  MESSAGE_TYPE_PATTERN,
  ROOM_NAME_PATTERN,
  type LogMessage,
  type PresenceSnapshot,
  type PublishResult,
  type RoomMessagesEvent,
  type RoomPage,
  type RoomPresenceEvent,
  type RoomSignalEvent,
} from '@partyline/protocol';

/** A value as the SDK may use it, or what is wrong with it: `path: problem`, as the protocol's `validate` words it. */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** Answers the checked copy of `input`, or throws a WireFault. */
type Check<T> = (input: unknown) => T;
type Optional<T> = Check<T | undefined> & { optional: true };
type Shape = Record<string, Check<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends Optional<unknown> ? K : never }[keyof S];
type ObjectOf<S extends Shape> = { [K in Exclude<keyof S, OptionalKeys<S>>]: ReturnType<S[K]> } & { [K in OptionalKeys<S>]?: ReturnType<S[K]> };

/** The first problem found (checks stop there, as the schemas do with `abortEarly`) and where: keys from the outside in. */
class WireFault {
  constructor(
    readonly problem: string,
    readonly path: (string | number)[] = [],
  ) {}
}

function fail(problem: string): never {
  throw new WireFault(problem);
}

/** Runs `check` on the value at `key`, so that a fault inside names it. */
function at<T>(key: string | number, check: Check<T>, input: unknown): T {
  try {
    return check(input);
  } catch (fault) {
    if (fault instanceof WireFault) fault.path.unshift(key);
    throw fault;
  }
}

const string: Check<string> = (input) => (typeof input === 'string' ? input : fail('expected a string'));
const boolean: Check<boolean> = (input) => (typeof input === 'boolean' ? input : fail('expected a boolean'));
/** Like `v.number()`: any number but NaN (infinities too). */
const number: Check<number> = (input) => (typeof input === 'number' && !Number.isNaN(input) ? input : fail('expected a number'));
const isTrue: Check<true> = (input) => (input === true ? true : fail('expected true'));

function integer(min: number, max = Infinity): Check<number> {
  return (input) => (Number.isInteger(number(input)) && (input as number) >= min && (input as number) <= max ? (input as number) : fail(`expected an integer ≥ ${min}`));
}

/** A sequence number (`SeqSchema`). */
const seq = integer(0, Number.MAX_SAFE_INTEGER);

function matching(pattern: RegExp, what: string): Check<string> {
  return (input) => (pattern.test(string(input)) ? (input as string) : fail(`invalid ${what}`));
}

const roomName = matching(ROOM_NAME_PATTERN, 'room name');
const messageId = matching(MESSAGE_ID_PATTERN, 'message id');
const messageType = matching(MESSAGE_TYPE_PATTERN, 'message type');

function oneOf<const T extends readonly string[]>(options: T): Check<T[number]> {
  return (input) => (options.includes(input as string) ? (input as T[number]) : fail(`expected one of ${options.join(', ')}`));
}

/** Absent or undefined, like `v.optional`. */
function optional<T>(check: Check<T>): Optional<T> {
  return Object.assign((input: unknown) => (input === undefined ? undefined : check(input)), { optional: true as const });
}

/** Like `v.object`: any non-null object (arrays too), keys looked up with `in`, unknown keys left out of the copy. */
function object<S extends Shape>(shape: S): Check<ObjectOf<S>> {
  return (input) => {
    if (!input || typeof input !== 'object') fail('expected an object');
    const copy: Record<string, unknown> = {};
    for (const key in shape) {
      const check = shape[key] as Check<unknown> & Partial<Optional<unknown>>;
      if (key in (input as object)) copy[key] = at(key, check, (input as Record<string, unknown>)[key]);
      else if (!check.optional) throw new WireFault('missing', [key]);
    }
    return copy as ObjectOf<S>;
  };
}

function array<T>(item: Check<T>): Check<T[]> {
  return (input) => (Array.isArray(input) ? input.map((value, index) => at(index, item, value)) : fail('expected an array'));
}

/**
 * Like `v.record(v.string(), …)`: own keys only; `__proto__`, `prototype` and `constructor` are skipped
 * (neither checked nor copied), so a relay cannot reach the copy's prototype.
 */
function record<T>(value: Check<T>): Check<Record<string, T>> {
  return (input) => {
    if (!input || typeof input !== 'object') fail('expected an object');
    const copy: Record<string, T> = {};
    for (const key of Object.keys(input as object)) {
      if (key !== '__proto__' && key !== 'prototype' && key !== 'constructor') copy[key] = at(key, value, (input as Record<string, unknown>)[key]);
    }
    return copy;
  };
}

/** Like `v.union([a, b])`: the first that holds. */
function either<A, B>(a: Check<A>, b: Check<B>): Check<A | B> {
  return (input) => {
    try {
      return a(input);
    } catch {
      return b(input);
    }
  };
}

const logMessage: Check<LogMessage> = object({ seq, id: messageId, type: messageType, body: string, sender: string, ts: number });

const messageSummary = object({
  body: optional(string),
  editedAt: optional(number),
  deleted: optional(isTrue),
  reactions: optional(record(object({ count: integer(1), mine: optional(isTrue) }))),
});

const readPosition = object({ sub: string, seq });

const roomPage: Check<RoomPage> = object({
  room: roomName,
  epoch: string,
  firstSeq: seq,
  headSeq: seq,
  messages: array(logMessage),
  hasMore: boolean,
  hasOlder: optional(boolean),
  headId: optional(messageId),
  diverged: optional(boolean),
  summaries: optional(record(messageSummary)),
  caller: optional(string),
  read: optional(object({ seq, unread: integer(0) })),
  reads: optional(array(readPosition)),
});

const roomMessagesEvent: Check<RoomMessagesEvent> = object({
  room: roomName,
  epoch: string,
  messages: array(logMessage),
  links: optional(array(object({ seq, id: messageId }))),
});

const roomSignalEvent: Check<RoomSignalEvent> = object({ room: roomName, sender: string, type: messageType, body: string });

const presenceMember = object({ sub: string, data: optional(string), since: number });

const presenceSnapshot: Check<PresenceSnapshot> = object({ epoch: string, version: integer(0), members: array(presenceMember) });

const roomPresenceEvent: Check<RoomPresenceEvent> = object({
  room: roomName,
  epoch: string,
  changes: array(object({ version: integer(1), kind: oneOf(['joined', 'left', 'updated']), member: presenceMember })),
});

const wireError = object({ kind: oneOf(Object.values(ErrorKind) as ErrorKind[]), message: string, retryable: boolean, retryAfterMs: optional(number) });

const publishResult: Check<PublishResult> = either(
  object({ id: messageId, seq, duplicate: optional(boolean), noop: optional(boolean) }),
  object({ id: messageId, error: wireError }),
);

function checked<T>(check: Check<T>): (input: unknown) => Checked<T> {
  return (input) => {
    try {
      return { ok: true, value: check(input) };
    } catch (fault) {
      if (!(fault instanceof WireFault)) throw fault;
      return { ok: false, error: fault.path.length > 0 ? `${fault.path.join('.')}: ${fault.problem}` : fault.problem };
    }
  };
}

/** `RoomPageSchema`: the ack of `room:join` and `room:read`. */
export const checkRoomPage = checked(roomPage);
/** `RoomMessagesEventSchema`: `room:messages`. */
export const checkRoomMessagesEvent = checked(roomMessagesEvent);
/** `RoomSignalEventSchema`: `room:signal`. */
export const checkRoomSignalEvent = checked(roomSignalEvent);
/** `PresenceSnapshotSchema`: the ack of `presence:get`. */
export const checkPresenceSnapshot = checked(presenceSnapshot);
/** `RoomPresenceEventSchema`: `room:presence`. */
export const checkRoomPresenceEvent = checked(roomPresenceEvent);
/** `PublishResultSchema`: one result of a `room:publish` ack. */
export const checkPublishResult = checked(publishResult);

/** `MessageTypeSchema`: a type the relay accepts for a message or signal. */
export function isMessageType(type: unknown): type is string {
  return typeof type === 'string' && MESSAGE_TYPE_PATTERN.test(type);
}
