import { utf8ByteLength } from '@partyline/protocol';
import { PartylineError, PartylineErrorKind } from './errors.js';

/** App values travel as JSON text (the relay never parses it): encodes one, within `maxBytes` UTF-8 bytes. */
export function encodeJson(value: unknown, maxBytes: number, what: string): string {
  let text: string | undefined;
  let why = '';
  try {
    text = JSON.stringify(value);
  } catch (error) {
    why = `: ${(error as Error).message}`;
  }
  if (text === undefined) throw new PartylineError(PartylineErrorKind.BadRequest, `${what} is not JSON-serialisable${why}`, { retryable: false });
  if (utf8ByteLength(text) > maxBytes) throw new PartylineError(PartylineErrorKind.PayloadTooLarge, `${what} exceeds ${maxBytes} bytes`, { retryable: false });
  return text;
}

/** The value of JSON text, or the text itself when another client sent something that is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
