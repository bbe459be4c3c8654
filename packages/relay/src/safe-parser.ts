import notepack from 'notepack.io';
import type { Logger } from 'pino';

/**
 * The Redis adapter's default encoding (msgpack via notepack), but decoding never throws: an
 * undecodable inter-relay message is logged and dropped instead of crashing the pub/sub handler.
 */
export function createSafeParser(logger: Logger): { encode(value: unknown): Buffer; decode(message: Buffer): unknown } {
  return {
    encode: (value) => notepack.encode(value),
    decode(message) {
      try {
        const value: unknown = notepack.decode(message);
        // Broadcasts are [uid, packet, opts]; anything else the adapter would choke on.
        if (Array.isArray(value) && (value.length !== 3 || typeof value[2] !== 'object' || value[2] === null)) return [];
        return value;
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'dropped undecodable inter-relay message');
        return [];
      }
    },
  };
}
