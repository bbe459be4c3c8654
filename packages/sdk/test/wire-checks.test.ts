/**
 * The SDK checks relay answers by hand (src/wire-checks.ts) so that valibot stays out of the bundle.
 * Here every check meets the protocol schema it replaces, on a valid answer and on each malformed
 * shape made from it (every field missing, or holding each of many wrong values): both accept or
 * both refuse, an accepted answer comes out the same (known fields only), and a refusal names the
 * same path.
 */
import {
  MessageTypeSchema,
  PresenceSnapshotSchema,
  PublishResultSchema,
  RoomMessagesEventSchema,
  RoomPageSchema,
  RoomPresenceEventSchema,
  RoomSignalEventSchema,
  validate,
} from '@partyline/protocol';
import { describe, expect, it } from 'vitest';
import {
  checkPresenceSnapshot,
  checkPublishResult,
  checkRoomMessagesEvent,
  checkRoomPage,
  checkRoomPresenceEvent,
  checkRoomSignalEvent,
  isMessageType,
  type Checked,
} from '../src/wire-checks.js';

type Path = (string | number)[];

/** Values that break some rule somewhere: types, NaN and infinities, integers out of range, names and types the patterns refuse. */
const WRONG_VALUES: unknown[] = [
  undefined,
  null,
  true,
  false,
  0,
  1,
  -1,
  1.5,
  Number.MAX_SAFE_INTEGER + 1,
  Number.NaN,
  Infinity,
  -Infinity,
  '',
  'x',
  'room:1',
  'a b',
  '*',
  '-lead',
  'x'.repeat(65),
  'x'.repeat(129),
  'joined',
  'bad_request',
  [],
  [1],
  {},
  { a: 1 },
];

const message = (seq: number) => ({ seq, id: `m${seq}`, type: 'chat', body: '"hi"', sender: 'ana', ts: 1700000000000 });

const PAGE = {
  room: 'party:1',
  epoch: 'e1',
  firstSeq: 1,
  headSeq: 2,
  messages: [message(1), message(2)],
  hasMore: false,
  hasOlder: true,
  headId: 'm2',
  diverged: false,
  summaries: { '1': { body: '"edited"', editedAt: 5, deleted: true, reactions: { '👍': { count: 2, mine: true } } } },
  caller: 'ana',
  read: { seq: 1, unread: 1 },
  reads: [{ sub: 'bob', seq: 2 }],
};

const MESSAGES_EVENT = { room: 'party:1', epoch: 'e1', messages: [message(3)], links: [{ seq: 2, id: 'm2' }] };
const SIGNAL_EVENT = { room: 'party:1', sender: 'bob', type: 'typing', body: 'true' };
const member = { sub: 'ana', data: '{"name":"Ana"}', since: 1700000000000 };
const SNAPSHOT = { epoch: 'p1', version: 3, members: [member] };
const PRESENCE_EVENT = { room: 'party:1', epoch: 'p1', changes: [{ version: 4, kind: 'updated', member }] };
const SENT = { id: 'm1', seq: 7, duplicate: true, noop: false };
const REFUSED = { id: 'm1', error: { kind: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 100 } };

/** Every path inside `value` (objects and arrays), outermost first. */
function pathsOf(value: unknown, path: Path = []): Path[] {
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const at = [...path, Array.isArray(value) ? Number(key) : key];
    return [at, ...pathsOf(child, at)];
  });
}

/** A deep copy of `value` with the field at `path` removed (`remove`) or replaced. */
function changed(value: unknown, path: Path, replacement: unknown, remove = false): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  if (remove) delete parent[last];
  else parent[last] = replacement;
  return copy;
}

/** Malformed (and some valid) variants of a valid answer, plus shapes that are wrong as a whole. */
function variantsOf(valid: unknown): { name: string; input: unknown }[] {
  const variants: { name: string; input: unknown }[] = [{ name: 'valid', input: valid }];
  for (const path of pathsOf(valid)) {
    const where = path.join('.');
    if (typeof path.at(-1) === 'string') variants.push({ name: `${where} missing`, input: changed(valid, path, undefined, true) });
    for (const wrong of WRONG_VALUES) variants.push({ name: `${where} = ${String(JSON.stringify(wrong))}`, input: changed(valid, path, wrong) });
  }
  for (const whole of WRONG_VALUES) variants.push({ name: `the answer is ${String(JSON.stringify(whole))}`, input: whole });
  variants.push({ name: 'unknown fields', input: { ...(valid as object), extra: 1, __proto__: { inherited: true } } });
  variants.push({ name: 'fields inherited, not own', input: Object.create(valid as object) as unknown });
  variants.push({ name: 'the fields of an array', input: Object.assign([], valid) });
  return variants;
}

/** The path a `validate` error names ('' for the value itself: valibot's own messages start with "Invalid", the protocol's with "invalid"). */
function schemaPath(message: string): string {
  return /^invalid /i.test(message) ? '' : message.slice(0, message.indexOf(': '));
}

function checkPath(error: string): string {
  const colon = error.indexOf(': ');
  return colon < 0 ? '' : error.slice(0, colon);
}

/** Where `check` and `schema` disagree on `inputs`, and how many inputs both refused. */
function disagreements(schema: Parameters<typeof validate>[0], check: (input: unknown) => Checked<unknown>, inputs: { name: string; input: unknown }[], comparePaths = true) {
  const found: string[] = [];
  let refused = 0;
  for (const { name, input } of inputs) {
    const expected = validate(schema, input);
    const actual = check(input);
    if (expected.ok !== actual.ok) found.push(`${name}: schema ${expected.ok ? 'accepts' : `refuses (${expected.error.message})`}, check ${actual.ok ? 'accepts' : `refuses (${actual.error})`}`);
    else if (expected.ok && actual.ok) {
      try {
        expect(actual.value).toStrictEqual(expected.value);
      } catch {
        found.push(`${name}: outputs differ`);
      }
    } else if (!expected.ok && !actual.ok) {
      refused++;
      if (comparePaths && schemaPath(expected.error.message) !== checkPath(actual.error)) found.push(`${name}: schema names "${schemaPath(expected.error.message)}", check "${actual.error}"`);
    }
  }
  return { found, refused };
}

describe('wire checks agree with the protocol schemas', () => {
  const cases = [
    { name: 'RoomPage', schema: RoomPageSchema, check: checkRoomPage, valid: [PAGE, { ...PAGE, messages: [], summaries: {}, reads: [] }] },
    { name: 'RoomMessagesEvent', schema: RoomMessagesEventSchema, check: checkRoomMessagesEvent, valid: [MESSAGES_EVENT] },
    { name: 'RoomSignalEvent', schema: RoomSignalEventSchema, check: checkRoomSignalEvent, valid: [SIGNAL_EVENT] },
    { name: 'PresenceSnapshot', schema: PresenceSnapshotSchema, check: checkPresenceSnapshot, valid: [SNAPSHOT, { epoch: '', version: 0, members: [] }] },
    { name: 'RoomPresenceEvent', schema: RoomPresenceEventSchema, check: checkRoomPresenceEvent, valid: [PRESENCE_EVENT] },
  ];

  for (const { name, schema, check, valid } of cases) {
    it(`${name}: same verdict, same output, same path`, () => {
      const { found, refused } = disagreements(schema, check, valid.flatMap(variantsOf));
      expect(found).toEqual([]);
      expect(refused).toBeGreaterThan(20);
    });
  }

  it('PublishResult (a union: the schema names no path when both forms fail): same verdict, same output', () => {
    const { found, refused } = disagreements(PublishResultSchema, checkPublishResult, [...variantsOf(SENT), ...variantsOf(REFUSED), { name: 'both forms', input: { ...SENT, ...REFUSED } }], false);
    expect(found).toEqual([]);
    expect(refused).toBeGreaterThan(20);
  });

  it('records: own keys only; __proto__, prototype and constructor are neither checked nor copied', () => {
    const summaries = JSON.parse('{"__proto__": {"count": "x"}, "constructor": 1, "prototype": null, "2": {"deleted": true}}') as unknown;
    const reactions = JSON.parse('{"__proto__": {"count": 0}, "+1": {"count": 1}}') as unknown;
    for (const page of [{ ...PAGE, summaries }, { ...PAGE, summaries: { '1': { reactions } } }]) {
      const expected = validate(RoomPageSchema, page);
      const actual = checkRoomPage(page);
      expect(actual).toStrictEqual({ ok: true, value: expected.ok && expected.value });
      if (!actual.ok) continue;
      expect(Object.getPrototypeOf(actual.value.summaries)).toBe(Object.prototype);
      expect(Object.keys(actual.value.summaries ?? {})).toEqual(Object.keys(expected.ok ? (expected.value.summaries ?? {}) : {}));
    }
    expect(({} as { count?: unknown }).count).toBeUndefined();
  });

  it('a message type: the same pattern as MessageTypeSchema', () => {
    for (const type of ['chat', 'item:claim', 'a/b-c_d.e', 'pl:edit', ...WRONG_VALUES]) {
      expect(isMessageType(type), String(type)).toBe(validate(MessageTypeSchema, type).ok);
    }
  });

  it('says where the answer is wrong, as the SDK reports it', () => {
    expect(checkRoomPage({ ...PAGE, messages: [message(1), { ...message(2), seq: -1 }] })).toEqual({ ok: false, error: 'messages.1.seq: expected an integer ≥ 0' });
    expect(checkRoomPage({ ...PAGE, epoch: undefined })).toEqual({ ok: false, error: 'epoch: expected a string' });
    const { room: _room, ...roomless } = PAGE;
    expect(checkRoomPage(roomless)).toEqual({ ok: false, error: 'room: missing' });
    expect(checkPresenceSnapshot(null)).toEqual({ ok: false, error: 'expected an object' });
  });
});
