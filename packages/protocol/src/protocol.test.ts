import { describe, expect, it } from 'vitest';
import {
  ErrorKind,
  grantsOf,
  isAllowed,
  isAnnotationType,
  isReactionKey,
  isReservedType,
  parseAnnotation,
  TokenClaimsSchema,
  isValidRoomName,
  PublishRequestSchema,
  utf8ByteLength,
  validate,
  wireError,
} from './index.js';

describe('utf8ByteLength', () => {
  it.each([
    ['', 0],
    ['hello', 5],
    ['héllo', 6],
    ['€uro', 6],
    ['🎉 party', 10],
    ['a\uD800b', 5], // a lone surrogate encodes as U+FFFD, 3 bytes
    ['日本語', 9],
  ])('counts %j as %i bytes', (text, bytes) => {
    expect(utf8ByteLength(text)).toBe(bytes);
  });
});

describe('room grants', () => {
  const full = (rooms: string[]) => grantsOf({ rooms });
  it('matches exact names and trailing-star prefixes only', () => {
    expect(isAllowed(full(['party:abc']), 'party:abc', 'publish')).toBe(true);
    expect(isAllowed(full(['party:abc']), 'party:abcd', 'read')).toBe(false);
    expect(isAllowed(full(['party:*']), 'party:xyz', 'read')).toBe(true);
    expect(isAllowed(full(['party:*']), 'other', 'read')).toBe(false);
    expect(isAllowed(full(['*']), 'anything', 'signal')).toBe(true);
    expect(isAllowed(full([]), 'party:abc', 'read')).toBe(false);
  });

  it('gives `rooms` every capability and `grants` only the ones named', () => {
    const viewer = grantsOf({ rooms: ['party:mine'], grants: [{ room: 'party:*', can: ['read'] }] });
    expect(isAllowed(viewer, 'party:other', 'read')).toBe(true);
    expect(isAllowed(viewer, 'party:other', 'publish')).toBe(false);
    expect(isAllowed(viewer, 'party:mine', 'publish')).toBe(true);
  });

  it('claims grant rooms one way or the other, with known capabilities only', () => {
    expect(validate(TokenClaimsSchema, { sub: 'a', exp: 1, grants: [{ room: 'r', can: ['read'] }] }).ok).toBe(true);
    expect(validate(TokenClaimsSchema, { sub: 'a', exp: 1 }).ok).toBe(false);
    expect(validate(TokenClaimsSchema, { sub: 'a', exp: 1, grants: [{ room: 'r', can: ['admin'] }] }).ok).toBe(false);
  });

  it('room names exclude braces and stars', () => {
    expect(isValidRoomName('party:2026-12-31_x.y')).toBe(true);
    for (const bad of ['', '{room}', 'a*', ' room', 'x'.repeat(129), ':lead', 42, null]) {
      expect(isValidRoomName(bad)).toBe(false);
    }
  });
});

describe('validate', () => {
  it('accepts a well-formed batch', () => {
    const result = validate(PublishRequestSchema, { room: 'r1', messages: [{ id: 'm1', type: 'chat', body: '{}' }] });
    expect(result.ok).toBe(true);
  });

  it('names invalid rooms with invalid_room', () => {
    const result = validate(PublishRequestSchema, { room: 'bad room', messages: [{ id: 'm1', type: 'chat', body: '' }] });
    expect(result).toMatchObject({ ok: false, error: { kind: ErrorKind.InvalidRoom, retryable: false } });
  });

  it('names the path of other problems with bad_request', () => {
    const result = validate(PublishRequestSchema, { room: 'r1', messages: [{ id: 'm1', type: 'chat', body: 7 }] });
    expect(result).toMatchObject({ ok: false, error: { kind: ErrorKind.BadRequest } });
    expect(!result.ok && result.error.message).toContain('messages.0.body');
    expect(validate(PublishRequestSchema, { room: 'r1', messages: [] })).toMatchObject({ ok: false });
    expect(validate(PublishRequestSchema, 'not an object')).toMatchObject({ ok: false });
  });
});

describe('wireError', () => {
  it('derives retryable from the kind', () => {
    expect(wireError(ErrorKind.Unavailable, 'down')).toEqual({ kind: 'unavailable', message: 'down', retryable: true });
    expect(wireError(ErrorKind.Forbidden, 'no').retryable).toBe(false);
    expect(wireError(ErrorKind.RateLimited, 'slow', 12.2).retryAfterMs).toBe(13);
  });
});

describe('annotations', () => {
  it('parses each reserved type and names what is wrong otherwise', () => {
    expect(parseAnnotation('pl:edit', '{"id":"m1","body":"{\\"text\\":\\"hi\\"}"}')).toEqual({ type: 'pl:edit', target: { id: 'm1' }, body: '{"text":"hi"}' });
    expect(parseAnnotation('pl:delete', '{"id":"m1","from":"ana","seq":4}')).toEqual({ type: 'pl:delete', target: { id: 'm1', from: 'ana', seq: 4 } });
    expect(parseAnnotation('pl:react', '{"id":"m1","key":"\\ud83c\\udf89"}')).toEqual({ type: 'pl:react', target: { id: 'm1' }, key: '🎉' });
    expect(parseAnnotation('pl:react', '{"id":"m1","key":"🎉"}')).toEqual({ type: 'pl:react', target: { id: 'm1' }, key: '🎉' });
    expect(parseAnnotation('pl:read', '{"seq":12}')).toEqual({ type: 'pl:read', seq: 12 });
    for (const [type, body] of [
      ['pl:edit', '{"id":"m1"}'],
      ['pl:edit', '{"id":"m1","body":{"text":"hi"}}'],
      ['pl:delete', '{"id":"bad id"}'],
      ['pl:delete', '{"id":"m1","seq":0}'],
      ['pl:react', `{"id":"m1","key":"${'x'.repeat(65)}"}`],
      ['pl:react', '{"id":"m1","key":""}'],
      ['pl:react', '{"id":"m1","key":"a\\nb"}'],
      ['pl:react', '{"id":"m1","key":"a|b"}'],
      ['pl:react', '{"id":"m1","key":"\\ud83d"}'],
      ['pl:react', '{"id":"m1","key":"a\\u2028"}'],
      ['pl:react', '{"id":"m1","key":"a\\u0085"}'],
      ['pl:edit', '{"id":"m1","body":"\\udfff"}'],
      ['pl:edit', '{"id":"m1","body":"x","note":[[[[1]]]]}'],
      ['pl:read', '{"seq":1,"x":1}'],
      ['pl:read', '{"seq":-1}'],
      ['pl:pin', '{"id":"m1"}'],
      ['pl:edit', 'not json'],
      ['pl:edit', '[1]'],
    ] as const) {
      expect(typeof parseAnnotation(type, body), `${type} ${body}`).toBe('string');
    }
  });

  it('reserves the pl: prefix and tells annotations from messages', () => {
    expect(isReservedType('pl:read')).toBe(true);
    expect(isAnnotationType('pl:read')).toBe(false);
    expect(isAnnotationType('pl:react')).toBe(true);
    expect(isReservedType('chat')).toBe(false);
    expect(isReactionKey('x'.repeat(64))).toBe(true);
    expect(isReactionKey('é'.repeat(33))).toBe(false); // 66 bytes
  });

  it('never grants moderate through `rooms`', () => {
    expect(isAllowed(grantsOf({ rooms: ['party:abc'] }), 'party:abc', 'receipts')).toBe(true);
    expect(isAllowed(grantsOf({ rooms: ['party:abc'] }), 'party:abc', 'moderate')).toBe(false);
    expect(isAllowed(grantsOf({ grants: [{ room: 'party:*', can: ['moderate'] }] }), 'party:abc', 'moderate')).toBe(true);
  });
});
