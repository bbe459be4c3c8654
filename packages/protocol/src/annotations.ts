import { MESSAGE_ID_PATTERN } from './name-patterns.js';
import { utf8ByteLength } from './utf8.js';

/**
 * Annotations: log entries that change an earlier message of the same room (edit, delete, react,
 * unreact). They travel, dedupe and order like any message (one order for everyone); their type is
 * reserved and their body is JSON naming the target. `pl:read` moves the sender's read position and
 * is never appended. Any other `pl:` type is refused: the prefix belongs to the protocol.
 */
export const AnnotationType = {
  Edit: 'pl:edit',
  Delete: 'pl:delete',
  React: 'pl:react',
  Unreact: 'pl:unreact',
  /** Not an annotation of the log: moves the sender's read position (`{ seq }`), acknowledged as `noop`. */
  Read: 'pl:read',
} as const;
export type AnnotationType = (typeof AnnotationType)[keyof typeof AnnotationType];

export const RESERVED_TYPE_PREFIX = 'pl:';

/** Most bytes of a reaction key (UTF-8). */
export const MAX_REACTION_KEY_BYTES = 64;
/** Most distinct reaction keys one message holds (a `bad_request` past it). */
export const MAX_REACTION_KEYS = 32;

/** Which message an annotation changes: its id and sender (default: the annotation's sender), and its seq when the client knows it. */
export interface AnnotationTarget {
  id: string;
  from?: string;
  seq?: number;
}

/** A parsed annotation body, by type. `body` of an edit is the new body as text (what a publish carries). */
export type Annotation =
  | { type: 'pl:edit'; target: AnnotationTarget; body: string }
  | { type: 'pl:delete'; target: AnnotationTarget }
  | { type: 'pl:react' | 'pl:unreact'; target: AnnotationTarget; key: string }
  | { type: 'pl:read'; seq: number };

export function isReservedType(type: string): boolean {
  return type.startsWith(RESERVED_TYPE_PREFIX);
}

/** Whether a log entry of this type is an annotation (not a message of its own). */
export function isAnnotationType(type: string): boolean {
  return type === AnnotationType.Edit || type === AnnotationType.Delete || type === AnnotationType.React || type === AnnotationType.Unreact;
}

/**
 * A reaction key: 1–64 UTF-8 bytes, no control characters and no `|` (an emoji, `+1`, `:tada:`). The
 * relays keep who holds a reaction as `<seq>|<key>|<sub>`: without `|` in keys that reads one way only.
 */
export function isReactionKey(key: unknown): key is string {
  // eslint-disable-next-line no-control-regex
  return typeof key === 'string' && key.length > 0 && utf8ByteLength(key) <= MAX_REACTION_KEY_BYTES && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029|]/.test(key) && isWellFormed(key);
}

/** Text without lone surrogates: what every JSON decoder (Redis's Lua cjson too) reads back the same. */
function isWellFormed(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

/** The fields each reserved type's body may have: nothing else (so nothing the relays store unread). */
const FIELDS: Record<string, readonly string[]> = {
  [AnnotationType.Edit]: ['id', 'from', 'seq', 'body'],
  [AnnotationType.Delete]: ['id', 'from', 'seq'],
  [AnnotationType.React]: ['id', 'from', 'seq', 'key'],
  [AnnotationType.Unreact]: ['id', 'from', 'seq', 'key'],
  [AnnotationType.Read]: ['seq'],
};

/**
 * Parses the body of a reserved-type entry; a string says what is wrong (the relay answers
 * `bad_request` with it). Never throws.
 */
export function parseAnnotation(type: string, body: string): Annotation | string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return `${type}: the body is not JSON`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${type}: the body is not an object`;
  const fields = value as Record<string, unknown>;
  const allowed = FIELDS[type];
  if (!allowed) return `type ${type}: the pl: prefix is reserved`;
  const extra = Object.keys(fields).find((name) => !allowed.includes(name));
  if (extra !== undefined) return `${type}: unknown field ${JSON.stringify(extra)} (allowed: ${allowed.join(', ')})`;
  if (type === AnnotationType.Read) {
    return isSeq(fields['seq']) ? { type, seq: fields['seq'] } : `${type}: seq must be an integer ≥ 0`;
  }
  const target = parseTarget(fields);
  if (typeof target === 'string') return `${type}: ${target}`;
  switch (type) {
    case AnnotationType.Edit:
      return typeof fields['body'] === 'string' && isWellFormed(fields['body']) ? { type, target, body: fields['body'] } : `${type}: body must be a string (the new body as text) without lone surrogates`;
    case AnnotationType.Delete:
      return { type, target };
    default:
      return isReactionKey(fields['key']) ? { type: type as 'pl:react' | 'pl:unreact', target, key: fields['key'] } : `${type}: key must be 1–${MAX_REACTION_KEY_BYTES} bytes without control characters, line separators, | or lone surrogates`;
  }
}

function parseTarget(fields: Record<string, unknown>): AnnotationTarget | string {
  const { id, from, seq } = fields;
  if (typeof id !== 'string' || !MESSAGE_ID_PATTERN.test(id)) return 'id must be a message id';
  if (from !== undefined && (typeof from !== 'string' || from.length === 0 || from.length > 256 || !isWellFormed(from))) return 'from must be a sender (1–256 characters)';
  if (seq !== undefined && (!isSeq(seq) || seq === 0)) return 'seq must be an integer ≥ 1';
  return { id, ...(from !== undefined ? { from: from as string } : {}), ...(seq !== undefined ? { seq: seq as number } : {}) };
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * What the relays keep per annotated message, as of the page's `headSeq`: the latest body (`body`,
 * when edited), when it was edited, whether it is deleted (then no body and no reactions), and per
 * reaction key the count and whether the caller holds it. Only messages with any annotation have one.
 */
export interface MessageSummary {
  body?: string;
  editedAt?: number;
  deleted?: true;
  reactions?: Record<string, { count: number; mine?: true }>;
}

/** A member's read position in a room (receipts): the last seq they marked read. */
export interface ReadPosition {
  sub: string;
  seq: number;
}
