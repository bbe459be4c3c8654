import { createRequire } from 'node:module';
import type * as SocketIoParser from 'socket.io-parser';
import { jsonNestsDeeperThan } from './json-depth.js';

// The CommonJS build: under Node, an ESM import of socket.io-parser resolves to its debug build,
// which formats a `debug()` line for every packet encoded and decoded.
const { Decoder, Encoder } = createRequire(import.meta.url)('socket.io-parser') as typeof SocketIoParser;

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
const parsePacketJson = Reflect.get(Decoder.prototype, 'tryParse') as ((this: SocketIoParser.Decoder, json: string) => unknown) | undefined;
if (typeof parsePacketJson !== 'function') throw new Error('socket.io-parser has no Decoder#tryParse to bound JSON nesting at');
Reflect.set(TextOnlyDecoder.prototype, 'tryParse', function (this: SocketIoParser.Decoder, json: string): unknown {
  return jsonNestsDeeperThan(json) ? [NESTED_TOO_DEEP.event, NESTED_TOO_DEEP] : parsePacketJson.call(this, json);
});

const encodeAsString = Reflect.get(Encoder.prototype, 'encodeAsString') as ((this: SocketIoParser.Encoder, packet: SocketIoParser.Packet) => string) | undefined;
if (typeof encodeAsString !== 'function') throw new Error('socket.io-parser has no Encoder#encodeAsString to encode text packets with');
const encodeText = encodeAsString;

/**
 * Socket.IO's encoder without its search for binary: Partyline never sends any, and the search walks
 * every field of every event (every message of a broadcast) before the event is stringified.
 */
class TextOnlyEncoder extends Encoder {
  override encode(packet: SocketIoParser.Packet): string[] {
    return [encodeText.call(this, packet)];
  }
}

export const textOnlyParser = { Encoder: TextOnlyEncoder, Decoder: TextOnlyDecoder };
