import * as v from 'valibot';
import { ErrorKind, RETRYABLE_KINDS } from './error-kinds.js';

export const ErrorKindSchema = v.picklist(Object.values(ErrorKind));

/** An error as it travels on the wire. */
export const WireErrorSchema = v.object({
  kind: ErrorKindSchema,
  message: v.string(),
  retryable: v.boolean(),
  retryAfterMs: v.optional(v.number()),
});
export type WireError = v.InferOutput<typeof WireErrorSchema>;

/** Builds a wire error whose `retryable` flag always agrees with its kind. */
export function wireError(kind: ErrorKind, message: string, retryAfterMs?: number): WireError {
  const error: WireError = { kind, message, retryable: RETRYABLE_KINDS.has(kind) };
  if (retryAfterMs !== undefined) error.retryAfterMs = Math.max(0, Math.ceil(retryAfterMs));
  return error;
}
