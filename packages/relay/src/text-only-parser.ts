import { Decoder, Encoder } from 'socket.io-parser';
import { jsonNestsDeeperThan } from './json-depth.js';

/**
 * What a packet whose JSON nests too deep decodes to, instead of being parsed: an event whose one
 * argument is this object (no client can send it: JSON makes new objects), so the connection answers
 * it with `bad_request` through the packet's own ack id.
 */
export const NESTED_TOO_DEEP = Object.freeze({ event: 'json:nested-too-deep' });

/**
 * Socket.IO's parser, refusing binary attachments: Partyline speaks text (bodies are JSON strings),
 * so a packet announcing attachments is malformed here and closes the connection instead of being
 * buffered until its attachments arrive.
 */
class TextOnlyDecoder extends Decoder {
  constructor() {
    super({ maxAttachments: 0 });
  }
}

// socket.io-parser hands each packet's JSON, and only that, to its (TypeScript-private) tryParse:
// the place to bound nesting before JSON.parse spends hundreds of milliseconds on one frame.
const parsePacketJson = Reflect.get(Decoder.prototype, 'tryParse') as ((this: Decoder, json: string) => unknown) | undefined;
if (typeof parsePacketJson !== 'function') throw new Error('socket.io-parser has no Decoder#tryParse to bound JSON nesting at');
Reflect.set(TextOnlyDecoder.prototype, 'tryParse', function (this: Decoder, json: string): unknown {
  return jsonNestsDeeperThan(json) ? [NESTED_TOO_DEEP.event, NESTED_TOO_DEEP] : parsePacketJson.call(this, json);
});

export const textOnlyParser = { Encoder, Decoder: TextOnlyDecoder };
