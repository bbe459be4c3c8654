import type { LogMessage, PresenceMember } from '@partyline/protocol';
import type { ApiMessage, ApiPresenceMember } from '@partyline/server';
import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from './json-depth.js';

/**
 * Bodies and presence data travel as text on the socket and sit in the store as text; the HTTP API
 * and webhooks hand them back as JSON values, the shape the HTTP POST takes. Nothing parses a body
 * text at publish (it may not be JSON at all, and may nest deep), so it is depth-checked before parsing.
 */
export type ParsedJson = { ok: true; value: unknown } | { ok: false; problem: string };

export function parseJsonText(text: string): ParsedJson {
  if (jsonNestsDeeperThan(text)) return { ok: false, problem: `nests JSON deeper than ${MAX_JSON_DEPTH} levels` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, problem: 'is not JSON text' };
  }
}

/** A log message with its body as a JSON value, or as `bodyText` when the text is not (depth-bounded) JSON. */
export function apiMessage({ body, ...message }: LogMessage): ApiMessage {
  const parsed = parseJsonText(body);
  return parsed.ok ? { ...message, body: parsed.value } : { ...message, bodyText: body };
}

/** A member with its data as a JSON value, or as `dataText` when the text is not (depth-bounded) JSON. */
export function apiPresenceMember({ data, ...member }: PresenceMember): ApiPresenceMember {
  if (data === undefined) return member;
  const parsed = parseJsonText(data);
  return parsed.ok ? { ...member, data: parsed.value } : { ...member, dataText: data };
}
