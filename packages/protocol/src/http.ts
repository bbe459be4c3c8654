import * as v from 'valibot';
import { MessageIdSchema, MessageTypeSchema } from './names.js';

/**
 * The relay's HTTP API (for app backends). A message body is any JSON value here; the relay stores
 * its JSON text, so SDK members receive the same value.
 */
/** `POST /v1/rooms/{room}/messages` with an `Idempotency-Key` header: one message. */
export const HttpMessageSchema = v.object({ type: MessageTypeSchema, body: v.unknown() });
/** `POST /v1/rooms/{room}/messages`: a batch (imports), each message with its own id as idempotency key. */
export const HttpBatchSchema = v.object({
  messages: v.pipe(v.array(v.object({ id: MessageIdSchema, type: MessageTypeSchema, body: v.unknown() })), v.minLength(1, 'messages is empty')),
});
export type HttpMessage = v.InferOutput<typeof HttpMessageSchema>;
export type HttpBatch = v.InferOutput<typeof HttpBatchSchema>;
