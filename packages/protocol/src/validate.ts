import * as v from 'valibot';
import { ErrorKind } from './error-kinds.js';
import { wireError, type WireError } from './errors.js';

export type Validated<T> = { ok: true; value: T } | { ok: false; error: WireError };

/**
 * Checks untrusted input against a protocol schema and turns the first problem into a typed
 * wire error (`invalid_room` when the room name is at fault, `bad_request` otherwise).
 */
export function validate<const S extends v.GenericSchema>(schema: S, input: unknown): Validated<v.InferOutput<S>> {
  const result = v.safeParse(schema, input, { abortEarly: true });
  if (result.success) return { ok: true, value: result.output };
  const issue = result.issues[0];
  const path = issue.path?.map((item) => String(item.key)).join('.') ?? '';
  const kind = path === 'room' ? ErrorKind.InvalidRoom : ErrorKind.BadRequest;
  return { ok: false, error: wireError(kind, path ? `${path}: ${issue.message}` : issue.message) };
}
