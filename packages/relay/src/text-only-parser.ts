import { Decoder, Encoder } from 'socket.io-parser';

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

export const textOnlyParser = { Encoder, Decoder: TextOnlyDecoder };
